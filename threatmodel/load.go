package threatmodel

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxSize bounds the model document.
const MaxSize = 4 << 20

// Problem is one reason a model is inconsistent. ID names the entry it is about (a control,
// a threat, …) and Line its line in the document, when known.
type Problem struct {
	ID   string `json:"id,omitempty"`
	Line int    `json:"line,omitempty"`
	Msg  string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.ID != "" {
		b.WriteString(p.ID + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ValidationError lists every problem of a model that parsed but is inconsistent.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return "threat model: " + strings.Join(s, "; ")
}

// Load reads and parses the model at path. See Parse.
func Load(path string) (*Model, []byte, error) {
	f, err := os.Open(path) // #nosec G304 -- the caller names the model file
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	m, err := Parse(raw)
	return m, raw, err
}

// Parse decodes a model. A document that is not YAML, holds more than one document, has an
// unknown field, a duplicate key or a value of the wrong type returns a nil model and an
// error. A document that decodes but is inconsistent (duplicate or malformed ids, dangling
// references, values outside their sets) returns the model and a *ValidationError, so that a
// caller can still report on it.
func Parse(raw []byte) (*Model, error) {
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("threat model: larger than %d bytes", MaxSize)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("threat model: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("threat model: the document is not a mapping")
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var m Model
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("threat model: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("threat model: more than one YAML document")
	}
	setLines(&m, root.Content[0])
	if probs := validate(&m); len(probs) > 0 {
		return &m, &ValidationError{Problems: probs}
	}
	return &m, nil
}

// setLines records the line of every threat and control entry.
func setLines(m *Model, doc *yaml.Node) {
	for i := 0; i+1 < len(doc.Content); i += 2 {
		key, val := doc.Content[i], doc.Content[i+1]
		if val.Kind != yaml.SequenceNode {
			continue
		}
		switch key.Value {
		case "threats":
			for j, n := range val.Content {
				if j < len(m.Threats) {
					m.Threats[j].Line = n.Line
				}
			}
		case "controls":
			for j, n := range val.Content {
				if j < len(m.Controls) {
					m.Controls[j].Line = n.Line
				}
			}
		}
	}
}
