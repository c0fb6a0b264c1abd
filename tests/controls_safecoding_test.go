package tests

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestControlsServiceHasNoInterpreter is evidence for C-SAFE-CODING: no file of the runtime
// (any build tag, tests excluded) imports a package that runs commands, loads code, evaluates
// templates, speaks SQL or steps around the type system. With none of them there is no query or
// command language for input to be injected into.
func TestControlsServiceHasNoInterpreter(t *testing.T) {
	forbidden := map[string]string{
		"os/exec":       "runs commands",
		"plugin":        "loads code",
		"unsafe":        "steps around memory safety",
		"database/sql":  "speaks SQL",
		"text/template": "evaluates templates",
		"html/template": "evaluates templates",
		"net/rpc":       "dispatches calls by name",
	}
	root := filepath.Join(repoRoot(t), "service")
	files := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if why, bad := forbidden[path]; bad {
				rel, _ := filepath.Rel(root, p)
				t.Errorf("C-SAFE-CODING service/%s imports %s, which %s", filepath.ToSlash(rel), path, why)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 {
		t.Fatalf("read only %d files under %s", files, root)
	}
}
