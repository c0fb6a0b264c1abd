package threatmodel

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse feeds the loader arbitrary documents. It must never panic; a document it accepts
// must be internally consistent (every reference resolves), and one it returns with a
// *ValidationError must come with the model and at least one problem.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"threatmodel.yaml", "testdata/small.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "version: 1", "{}", "[]", "version: 1\ncontrols: [{id: C-A}]",
		"a: &a [*a, *a]", "version: 1\n---\nversion: 1", "controls:\n  - id: C-A\n    evidence: [go:x.TestY]\n",
		"threats: [{id: T-A, controls: [C-NONE]}]", "version: !!binary aGVsbG8=",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(raw)
		var ve *ValidationError
		switch {
		case err == nil:
			if m == nil {
				t.Fatal("no model and no error")
			}
			for _, th := range m.Threats {
				for _, id := range th.Controls {
					if _, ok := m.Control(id); !ok {
						t.Fatalf("accepted a dangling control %s", id)
					}
				}
			}
			for _, c := range m.Controls {
				for _, e := range c.Evidence {
					if _, err := ParseEvidence(e); err != nil {
						t.Fatalf("accepted bad evidence: %v", err)
					}
				}
			}
		case errors.As(err, &ve):
			if m == nil || len(ve.Problems) == 0 {
				t.Fatalf("validation error without model or problems: %v", err)
			}
		default:
			if m != nil {
				t.Fatalf("model returned with a decode error: %v", err)
			}
		}
	})
}
