package controls

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	opaast "github.com/open-policy-agent/opa/v1/ast"

	"github.com/secure-movie-service/sms/threatmodel"
)

// Traceability runs both ways: a control's implementation names `path#Symbol` (a Go
// function, method as Type.Method, type, variable or constant; a Rego rule), and every Rego
// rule that implements a control names it in its METADATA (`custom.controls`). The checks
// below make sure the symbol exists and that model and policy agree.

// splitImpl splits an implementation entry into its path and symbol ("" when none).
func splitImpl(entry string) (path, symbol string) {
	path, symbol, _ = strings.Cut(entry, "#")
	return path, symbol
}

// codeEntry reports whether an implementation path is a Go or Rego file.
func codeEntry(path string) bool {
	return strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".rego")
}

// symbolExists reports whether symbol is declared in the Go or Rego file at path, or in the
// Go package of the directory at path.
func symbolExists(path, symbol string) (bool, error) {
	if strings.HasSuffix(path, ".rego") {
		rules, err := regoRules(path)
		if err != nil {
			return false, err
		}
		_, ok := rules[symbol]
		return ok, nil
	}
	files := []string{path}
	if fi, err := os.Stat(path); err != nil {
		return false, err
	} else if fi.IsDir() {
		matches, err := filepath.Glob(filepath.Join(path, "*.go"))
		if err != nil {
			return false, err
		}
		files = matches
	}
	for _, f := range files {
		ok, err := goDeclares(f, symbol)
		if ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// goDeclares reports whether the Go file declares symbol at the top level: a function, a
// method (Type.Method), a type, a variable or a constant.
func goDeclares(file, symbol string) (bool, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		return false, fmt.Errorf("parse %s: %w", file, err)
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if funcName(d) == symbol {
				return true, nil
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Name.Name == symbol {
						return true, nil
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.Name == symbol {
							return true, nil
						}
					}
				}
			}
		}
	}
	return false, nil
}

// funcName is Name for a function and Type.Name for a method.
func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name
	}
	t := d.Recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
			continue
		case *ast.IndexExpr:
			t = x.X
			continue
		case *ast.IndexListExpr:
			t = x.X
			continue
		case *ast.Ident:
			return x.Name + "." + d.Name.Name
		}
		return d.Name.Name
	}
}

// regoRules maps every rule name of a Rego file to the control ids its METADATA names in
// custom.controls (empty for a rule without them).
func regoRules(path string) (map[string][]string, error) {
	src, err := os.ReadFile(path) // #nosec G304 -- a policy file of the repository being verified
	if err != nil {
		return nil, err
	}
	m, err := opaast.ParseModuleWithOpts(path, string(src), opaast.ParserOptions{ProcessAnnotation: true})
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	out := map[string][]string{}
	for _, r := range m.Rules {
		name := r.Head.Ref().String()
		ids := out[name]
		for _, a := range r.Annotations {
			ids = append(ids, customControls(a)...)
		}
		out[name] = ids
	}
	return out, nil
}

func customControls(a *opaast.Annotations) []string {
	list, _ := a.Custom["controls"].([]any)
	var ids []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			ids = append(ids, s)
		}
	}
	return ids
}

// policyClaims walks the Rego files under root (tests excluded) and returns, for every
// control id named in a rule's custom.controls, the files and rules that name it.
func policyClaims(root string) (map[string]map[string][]string, error) {
	claims := map[string]map[string][]string{} // control → file → rules
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") {
			return err
		}
		rules, err := regoRules(p)
		if err != nil {
			return nil // a policy that does not parse fails its tests and its symbols
		}
		for rule, ids := range rules {
			for _, id := range ids {
				if claims[id] == nil {
					claims[id] = map[string][]string{}
				}
				claims[id][p] = append(claims[id][p], rule)
			}
		}
		return nil
	})
	return claims, err
}

// traceFindings checks one control's implementation entries against the code, and the
// policy's claims on it against the model. rel turns an absolute path into the model's form.
func (ev *evaluator) traceFindings(c threatmodel.Control, claims map[string]map[string][]string, rel func(string) string) []string {
	var msgs []string
	listed := map[string]bool{}
	symbols := 0
	for _, entry := range c.Implementation {
		p, sym := splitImpl(entry)
		listed[p] = true
		if sym == "" {
			continue
		}
		symbols++
		ok, err := symbolExists(ev.o.path(p), sym)
		switch {
		case err != nil:
			msgs = append(msgs, fmt.Sprintf("implementation %s: %v", entry, oneLine(err.Error())))
		case !ok:
			msgs = append(msgs, fmt.Sprintf("implementation %s: %s declares no %s", entry, p, sym))
		case strings.HasSuffix(p, ".rego") && !ev.ruleClaims(claims, c.ID, ev.o.path(p), sym):
			msgs = append(msgs, fmt.Sprintf("implementation %s: the rule's METADATA does not name %s in custom.controls", entry, c.ID))
		}
	}
	if symbols == 0 && ev.hasCode(c.Implementation) {
		msgs = append(msgs, "names no symbol (path#Symbol) in its implementation: a reviewer cannot reach the code that answers it")
	}
	files := make([]string, 0, len(claims[c.ID]))
	for f := range claims[c.ID] {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		if !listed[rel(f)] {
			rules := claims[c.ID][f]
			sort.Strings(rules)
			msgs = append(msgs, fmt.Sprintf("%s rule %s names %s in custom.controls, but the model's implementation does not list %s", rel(f), strings.Join(rules, ", "), c.ID, rel(f)))
		}
	}
	return msgs
}

func (ev *evaluator) ruleClaims(claims map[string]map[string][]string, id, file, rule string) bool {
	for _, r := range claims[id][file] {
		if r == rule {
			return true
		}
	}
	return false
}

// hasCode reports whether an entry names a Go or Rego file or a directory (a package).
func (ev *evaluator) hasCode(entries []string) bool {
	for _, e := range entries {
		p, _ := splitImpl(e)
		if codeEntry(p) {
			return true
		}
		if fi, err := os.Stat(ev.o.path(p)); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}
