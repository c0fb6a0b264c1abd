package spdxexp

import (
	"errors"
	"fmt"
	"strings"
)

// Node is a parsed license expression.
//
// A leaf has License set (a canonical license id or a LicenseRef), optionally OrLater ("+")
// and Exception ("WITH"). An inner node has Op "AND" or "OR" and two children.
type Node struct {
	Op          string
	Left, Right *Node

	License   string
	OrLater   bool
	Exception string
}

// String renders the expression in canonical form, with parentheses where precedence needs them.
func (n *Node) String() string {
	if n.Op == "" {
		s := n.License
		if n.OrLater {
			s += "+"
		}
		if n.Exception != "" {
			s += " WITH " + n.Exception
		}
		return s
	}
	return n.side(n.Left) + " " + n.Op + " " + n.side(n.Right)
}

func (n *Node) side(c *Node) string {
	if c.Op == "OR" && n.Op == "AND" {
		return "(" + c.String() + ")"
	}
	return c.String()
}

// maxDepth bounds parenthesis nesting so a hostile expression cannot exhaust the stack.
const maxDepth = 64

// ErrEmpty is returned for an expression with no tokens.
var ErrEmpty = errors.New("empty license expression")

// Parse parses an SPDX license expression and checks every identifier against the
// embedded SPDX license list.
func Parse(expr string) (*Node, error) {
	toks, err := scan(expr)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, ErrEmpty
	}
	p := &parser{toks: toks}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t, ok := p.peek(); ok {
		return nil, fmt.Errorf("unexpected %q at offset %d", t.text, t.pos)
	}
	return n, nil
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() (token, bool) {
	if p.i >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.i], true
}

func (p *parser) accept(k tokenKind) bool {
	if t, ok := p.peek(); ok && t.kind == k {
		p.i++
		return true
	}
	return false
}

// or := and { OR and }
func (p *parser) or(depth int) (*Node, error) {
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.accept(tokOr) {
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		left = &Node{Op: "OR", Left: left, Right: right}
	}
	return left, nil
}

// and := primary { AND primary }
func (p *parser) and(depth int) (*Node, error) {
	left, err := p.primary(depth)
	if err != nil {
		return nil, err
	}
	for p.accept(tokAnd) {
		right, err := p.primary(depth)
		if err != nil {
			return nil, err
		}
		left = &Node{Op: "AND", Left: left, Right: right}
	}
	return left, nil
}

// primary := "(" or ")" | simple [ WITH exception ]
func (p *parser) primary(depth int) (*Node, error) {
	t, ok := p.peek()
	if !ok {
		return nil, errors.New("expression ends where a license was expected")
	}
	if t.kind == tokLParen {
		if depth >= maxDepth {
			return nil, fmt.Errorf("parentheses nested deeper than %d", maxDepth)
		}
		p.i++
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.accept(tokRParen) {
			return nil, fmt.Errorf("missing ')' for '(' at offset %d", t.pos)
		}
		return n, nil
	}
	if t.kind != tokIdent {
		return nil, fmt.Errorf("unexpected %q at offset %d where a license was expected", t.text, t.pos)
	}
	p.i++
	leaf, err := simple(t.text)
	if err != nil {
		return nil, err
	}
	if p.accept(tokPlus) {
		if strings.Contains(leaf.License, "LicenseRef-") {
			return nil, fmt.Errorf("'+' after license reference %q", t.text)
		}
		leaf.OrLater = true
	}
	if p.accept(tokWith) {
		e, ok := p.peek()
		if !ok || e.kind != tokIdent {
			return nil, errors.New("WITH is not followed by an exception id")
		}
		p.i++
		exc, ok := ExceptionID(e.text)
		if !ok {
			return nil, fmt.Errorf("unknown license exception %q", e.text)
		}
		leaf.Exception = exc
	}
	return leaf, nil
}

// simple resolves a license id or a license reference.
func simple(word string) (*Node, error) {
	if doc, ref, ok := strings.Cut(word, ":"); ok {
		if !hasRefPrefix(doc, "DocumentRef-") || !hasRefPrefix(ref, "LicenseRef-") {
			return nil, fmt.Errorf("malformed reference %q", word)
		}
		return &Node{License: word}, nil
	}
	if hasRefPrefix(word, "LicenseRef-") {
		return &Node{License: word}, nil
	}
	id, ok := LicenseID(word)
	if !ok {
		return nil, fmt.Errorf("unknown license id %q", word)
	}
	return &Node{License: id}, nil
}

// hasRefPrefix reports whether s is prefix followed by a non-empty idstring.
func hasRefPrefix(s, prefix string) bool {
	return len(s) > len(prefix) && strings.HasPrefix(s, prefix)
}
