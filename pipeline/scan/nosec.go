package scan

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strings"
)

const (
	nosecTag        = "#nosec"
	disableDirecive = "//gosec:disable"
	maxGoFile       = 8 << 20
)

var ruleIDRE = regexp.MustCompile(`G[0-9]{3}`)

// findDirectives lists every #nosec and //gosec:disable comment in the files, wherever gosec
// would honour one: a comment line that starts with #nosec, or a //gosec:disable comment.
func findDirectives(root string, files []string) ([]Directive, error) {
	var out []Directive
	fset := token.NewFileSet()
	for _, path := range files {
		src, err := readFile(path, maxGoFile)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil && f == nil {
			return nil, fmt.Errorf("parse %s: %w", rel(root, path), err)
		}
		for _, g := range f.Comments {
			out = append(out, groupDirectives(fset, rel(root, path), g)...)
		}
	}
	return out, nil
}

func groupDirectives(fset *token.FileSet, file string, g *ast.CommentGroup) []Directive {
	var out []Directive
	for _, c := range g.List {
		line := fset.Position(c.Slash).Line
		if strings.HasPrefix(c.Text, disableDirecive) {
			after := strings.TrimPrefix(c.Text, disableDirecive)
			if after == "" || after[0] == ' ' {
				out = append(out, ParseDirective(file, line, c.Text, after))
			}
			continue
		}
		text := strings.TrimPrefix(strings.TrimPrefix(c.Text, "//"), "/*")
		text = strings.TrimSuffix(text, "*/")
		for i, l := range strings.Split(text, "\n") {
			t := strings.TrimLeft(strings.TrimSpace(l), "*")
			t = strings.TrimSpace(t)
			if strings.HasPrefix(t, nosecTag) {
				out = append(out, ParseDirective(file, line+i, strings.TrimSpace(l), strings.TrimPrefix(t, nosecTag)))
			}
		}
	}
	return out
}

// ParseDirective reads the arguments of a #nosec directive: "G304 G306 -- reason". It is valid
// only with at least one rule id and a non-empty justification.
func ParseDirective(file string, line int, text, args string) Directive {
	d := Directive{File: file, Line: line, Text: text, Rules: []string{}, Suppresses: []string{}}
	rulesPart, just, hasJust := strings.Cut(args, "--")
	if hasJust {
		d.Justification = strings.TrimSpace(strings.TrimLeft(just, "-"))
	}
	d.Rules = append(d.Rules, ruleIDRE.FindAllString(rulesPart, -1)...)
	d.Valid = len(d.Rules) > 0 && d.Justification != ""
	return d
}
