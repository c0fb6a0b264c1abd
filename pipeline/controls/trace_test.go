package controls

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-movie-service/sms/threatmodel"
)

// The repository's own model: every control reaches the code that answers it (path#Symbol
// that exists), and every Rego rule that names a control is listed by it. make
// verify-controls checks the same; this test says it without running any evidence.
func TestRepositoryTraceability(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := threatmodel.Load(filepath.Join(root, "threatmodel", "threatmodel.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	claims, err := policyClaims(filepath.Join(root, "policy"))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Root: root}
	ev := &evaluator{o: &o, claims: claims}
	known := map[string]bool{}
	for _, c := range m.Controls {
		known[c.ID] = true
		if msgs := ev.traceFindings(c, claims, ev.rel); len(msgs) > 0 {
			t.Errorf("%s:\n  %s", c.ID, strings.Join(msgs, "\n  "))
		}
	}
	for id := range claims {
		if !known[id] {
			t.Errorf("policy rules name %s, which the model does not define", id)
		}
	}
}
