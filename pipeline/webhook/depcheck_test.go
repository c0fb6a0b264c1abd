package webhook_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports: the webhook reaches registries and policy only through the toolkit's own
// packages (admit, verify, ociutil, keys, predicate) and never imports the service.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources: %v", err)
	}
	allowed := []string{
		"github.com/secure-movie-service/sms/pipeline/admit", "github.com/secure-movie-service/sms/pipeline/verify",
		"github.com/secure-movie-service/sms/pipeline/ociutil", "github.com/secure-movie-service/sms/pipeline/keys",
		"github.com/secure-movie-service/sms/pipeline/keyless",
		"github.com/secure-movie-service/sms/pipeline/predicate", "github.com/google/go-containerregistry/pkg/authn",
		"golang.org/x/sync/singleflight", "golang.org/x/sync/errgroup",
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(p, ".") && !contains(allowed, p) {
				t.Errorf("%s imports %s, which is not on the webhook's list", f, p)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
