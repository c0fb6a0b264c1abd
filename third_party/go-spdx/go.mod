// A local stand-in for github.com/github/go-spdx/v2, which the module proxy this project
// uses refuses to serve. Syft imports only spdxexp.ValidateLicenses; this module implements
// that function for real (see README.md). The root go.mod points at it with a replace.
module github.com/github/go-spdx/v2

go 1.24
