package upstream

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestImports: this package imports the standard library and, of the service's own
// packages, only the egress guard and the strict JSON reader (and the fake catalogues in
// tests); upstreamtest imports the standard library only. Never the API or the store.
func TestImports(t *testing.T) {
	const mod = "github.com/secure-movie-service/sms/service/"
	allowed := map[string][]string{
		".":            {mod + "internal/egress", mod + "internal/strictjson", mod + "upstream/upstreamtest"},
		"upstreamtest": nil,
	}
	for dir, ok := range allowed {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		if len(files) == 0 {
			t.Fatalf("no Go files in %s", dir)
		}
		for _, f := range files {
			ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range ast.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if strings.Contains(strings.Split(p, "/")[0], ".") && !slices.Contains(ok, p) {
					t.Errorf("%s imports %s", f, p)
				}
			}
		}
	}
}
