package residual

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds Parse arbitrary answers (seeded with OPA's real ones):
// it never panics, and whatever it accepts evaluates without panicking on
// resources and paths of every shape, the same way twice.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(`{"result":{"queries":[[]]}}`))
	f.Add(query(`{"index":0,"terms":[` + eqRef + `,` + owner + `,{"type":"string","value":"a"}]}`))
	inputs := []*Fields{
		{}, movie("editor"), movie(""),
		{Type: "movie", ID: "m1", Owner: "a", Path: []string{"v1", "movies", "m1", "x"}},
		{Type: " ", ID: "\u00a0", Owner: "a", Path: []string{"v1"}, Sub: "\u00a0"},
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := Parse(raw)
		if err != nil {
			return
		}
		for _, in := range inputs {
			if r.Allow(in) != r.Allow(in) {
				t.Fatal("Allow is not deterministic")
			}
			if r.Never() && r.Allow(in) {
				t.Fatal("an empty residual allowed")
			}
			if r.Always() && !r.Allow(in) {
				t.Fatal("an always-true residual denied")
			}
		}
	})
}
