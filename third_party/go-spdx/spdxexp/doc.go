// Package spdxexp validates SPDX license expressions (SPDX 2.3, Annex D).
//
// It is the part of github.com/github/go-spdx/v2/spdxexp that syft uses, reimplemented here
// because the module proxy does not serve the original. It imports only the standard library.
package spdxexp
