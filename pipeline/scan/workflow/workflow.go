// Package workflow parses a GitHub Actions workflow (or any YAML document) into plain JSON
// values for policy, plus the line of every value and the comment at the end of its line, keyed
// by JSON pointer (RFC 6901: "/jobs/build/steps/0/uses"). Policies judge the workflow as
// written; the maps let a deny reason name the line.
//
// The input is untrusted (a pull request can change it): Parse bounds the size, the nesting
// depth and the number of nodes after alias expansion (no "billion laughs"), rejects duplicate
// keys as GitHub does, and never panics (FuzzParse).
package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits on the input.
const (
	MaxBytes = 1 << 20
	MaxDepth = 64
	MaxNodes = 200000 // after alias expansion
)

// Document is a parsed YAML document.
type Document struct {
	// Value is the document as JSON values: map[string]any, []any, string, float64, int64,
	// bool or nil.
	Value any `json:"value"`
	// Lines maps the JSON pointer of every value to its 1-based line. For a mapping entry it is
	// the line of the key.
	Lines map[string]int `json:"lines"`
	// ContentLines maps the pointer of every literal block scalar (run: |) to the line its
	// content starts on, so that a position inside the text can be turned into a line.
	ContentLines map[string]int `json:"content_lines"`
	// Comments maps a pointer to the comment at the end of its line, "#" included
	// ("uses: actions/checkout@… # v4.2.2" gives "# v4.2.2").
	Comments map[string]string `json:"comments"`
}

// Error is a syntax or structure error.
type Error struct {
	Line int // 0 when unknown
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// ErrTooLarge is returned for input over MaxBytes.
var ErrTooLarge = errors.New("workflow: larger than 1 MiB")

// Parse parses one YAML document. An empty input gives a nil Value.
func Parse(src []byte) (doc *Document, err error) {
	if len(src) > MaxBytes {
		return nil, ErrTooLarge
	}
	defer func() {
		// The YAML library is not ours: whatever it does on hostile input, the scan gets an error.
		if r := recover(); r != nil {
			doc, err = nil, &Error{Msg: fmt.Sprintf("yaml: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return &Document{Lines: map[string]int{}, ContentLines: map[string]int{}, Comments: map[string]string{}}, nil
		}
		return nil, syntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &Error{Line: extra.Line, Msg: "more than one YAML document"}
	}
	c := &converter{doc: &Document{Lines: map[string]int{}, ContentLines: map[string]int{}, Comments: map[string]string{}}}
	node := &root
	if node.Kind == yaml.DocumentNode {
		if len(node.Content) == 0 {
			return c.doc, nil
		}
		node = node.Content[0]
	}
	v, err := c.convert(node, "", 0, node.Line)
	if err != nil {
		return nil, err
	}
	c.doc.Value = v
	return c.doc, nil
}

var lineRE = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// syntaxError turns the YAML library's "yaml: line N: msg" into an Error with its line.
func syntaxError(err error) *Error {
	if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
		if n, cerr := strconv.Atoi(m[1]); cerr == nil {
			return &Error{Line: n, Msg: m[2]}
		}
	}
	return &Error{Msg: err.Error()}
}

type converter struct {
	doc   *Document
	nodes int
}

// Escape escapes one JSON pointer token.
func Escape(token string) string {
	return strings.ReplaceAll(strings.ReplaceAll(token, "~", "~0"), "/", "~1")
}

func (c *converter) convert(n *yaml.Node, ptr string, depth, line int) (any, error) {
	c.nodes++
	if c.nodes > MaxNodes {
		return nil, &Error{Line: n.Line, Msg: fmt.Sprintf("more than %d nodes", MaxNodes)}
	}
	if depth > MaxDepth {
		return nil, &Error{Line: n.Line, Msg: fmt.Sprintf("nested deeper than %d", MaxDepth)}
	}
	if _, seen := c.doc.Lines[ptr]; !seen {
		c.doc.Lines[ptr] = line
	}
	if n.LineComment != "" {
		c.doc.Comments[ptr] = n.LineComment
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, &Error{Line: n.Line, Msg: "unknown alias"}
		}
		return c.convert(n.Alias, ptr, depth+1, line)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			for k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return nil, &Error{Line: k.Line, Msg: "mapping key is not a scalar"}
			}
			if _, dup := m[k.Value]; dup {
				return nil, &Error{Line: k.Line, Msg: fmt.Sprintf("key %q is repeated", k.Value)}
			}
			child := ptr + "/" + Escape(k.Value)
			if k.LineComment != "" {
				c.doc.Comments[child] = k.LineComment
			}
			cv, err := c.convert(v, child, depth+1, k.Line)
			if err != nil {
				return nil, err
			}
			m[k.Value] = cv
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			cv, err := c.convert(item, ptr+"/"+strconv.Itoa(i), depth+1, item.Line)
			if err != nil {
				return nil, err
			}
			s = append(s, cv)
		}
		return s, nil
	case yaml.ScalarNode:
		if n.Style&yaml.LiteralStyle != 0 {
			if _, seen := c.doc.ContentLines[ptr]; !seen {
				c.doc.ContentLines[ptr] = n.Line + 1
			}
		}
		return scalar(n)
	default:
		return nil, &Error{Line: n.Line, Msg: fmt.Sprintf("unexpected YAML node kind %d", n.Kind)}
	}
}

// scalar turns a resolved scalar into a JSON value.
func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!str", "!!binary", "!!merge":
		return n.Value, nil
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, &Error{Line: n.Line, Msg: err.Error()}
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, &Error{Line: n.Line, Msg: err.Error()}
		}
		return f, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, &Error{Line: n.Line, Msg: err.Error()}
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return n.Value, nil // JSON has no NaN or infinity
		}
		return f, nil
	default:
		return n.Value, nil // timestamps and custom tags: the text as written
	}
}
