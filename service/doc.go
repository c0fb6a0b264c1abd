// Package service holds the movie service's OpenAPI 3.1 document, which the
// server publishes at /openapi.yaml. The runtime lives in the packages
// below it; this module imports only the standard library.
package service

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of the API (openapi.yaml).
//
//go:embed openapi.yaml
var OpenAPI []byte
