// Package depcheck tests a package's promise to import only the standard
// library. Only tests import it.
package depcheck

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// self is this package's import path: the tests that call it import it.
const self = "github.com/secure-movie-service/sms/service/internal/depcheck"

// StandardLibraryOnly fails t for each import, in any Go file of the current
// directory (tests included), of a path whose first element has a dot — a
// package outside the standard library — unless the path starts with one of
// allowed.
func StandardLibraryOnly(t testing.TB, allowed ...string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files: %v", err)
	}
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			isPrefix := func(p string) bool { return strings.HasPrefix(path, p) }
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") && path != self && !slices.ContainsFunc(allowed, isPrefix) {
				t.Errorf("%s imports %s, which is not in the standard library", name, path)
			}
		}
	}
}
