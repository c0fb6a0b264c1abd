package residual

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustParseFile(tb testing.TB, name string) *Residual {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	r, err := Parse(raw)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return r
}

// movie is movie m1, owned by owner, asked for by "editor".
func movie(owner string) *Fields {
	return &Fields{Type: "movie", ID: "m1", Owner: owner, Path: []string{"v1", "movies", "m1"}, Sub: "editor"}
}

// The answers in testdata/ are what OPA v1.22 answered for policy/api; each
// applied to resources must give what the full decision gives (the
// end-to-end property test checks that against a live OPA).
func TestRealAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		f          *Fields
		want       bool
	}{
		{"C-AUTHZ-OWNER editor changes its own movie", "editor_put.json", movie("editor"), true},
		{"C-AUTHZ-OWNER editor cannot change another's movie", "editor_put.json", movie("editor2"), false},
		{"owner compared exactly", "editor_put.json", movie("Editor"), false},
		{"owner with spaces", "editor_put.json", movie(" editor"), false},
		{"wrong type", "editor_put.json", &Fields{Type: "film", ID: "m1", Owner: "editor", Path: []string{"v1", "movies", "m1"}, Sub: "editor"}, false},
		{"id is not the path id", "editor_put.json", &Fields{Type: "movie", ID: "m2", Owner: "editor", Path: []string{"v1", "movies", "m1"}, Sub: "editor"}, false},
		{"blank id", "editor_put.json", &Fields{Type: "movie", ID: " ", Owner: "editor", Path: []string{"v1", "movies", " "}, Sub: "editor"}, false},
		{"path too long", "editor_put.json", &Fields{Type: "movie", ID: "m1", Owner: "editor", Path: []string{"v1", "movies", "m1", "x"}, Sub: "editor"}, false},
		{"path too short", "editor_put.json", &Fields{Type: "movie", ID: "m1", Owner: "editor", Path: []string{"v1", "movies"}, Sub: "editor"}, false},
		{"the subject compared exactly", "editor_put.json", &Fields{Type: "movie", ID: "m1", Owner: "editor", Path: []string{"v1", "movies", "m1"}, Sub: "editor "}, false},
		{"an anonymous subject owns nothing", "editor_put.json", &Fields{Type: "movie", ID: "m1", Owner: " ", Path: []string{"v1", "movies", "m1"}, Sub: " "}, false},
		{"viewer reads any movie", "viewer_get.json", movie("someone"), true},
		{"an anonymous viewer reads nothing", "viewer_get.json", &Fields{Type: "movie", ID: "m1", Owner: "someone", Path: []string{"v1", "movies", "m1"}, Sub: ""}, false},
		{"viewer read needs an owner", "viewer_get.json", movie(""), false},
		{"C-AUTHZ-RBAC viewer cannot delete", "viewer_delete.json", movie("editor"), false},
		{"admin deletes any movie", "admin_delete.json", movie("someone"), true},
		{"editor and admin: admin's query", "editor_admin_put.json", movie("someone"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustParseFile(t, tc.file)
			if got := r.Allow(tc.f); got != tc.want {
				t.Fatalf("Allow(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		})
	}
}

func TestRevision(t *testing.T) {
	if r := mustParseFile(t, "editor_put.json"); r.Revision != "r1" {
		t.Fatalf("revision %q", r.Revision)
	}
	if r := mustParseFile(t, "viewer_delete.json"); r.Revision != "" || !r.Never() {
		t.Fatalf("an empty answer: revision %q, never %v", r.Revision, r.Never())
	}
}

func TestAlwaysAndNever(t *testing.T) {
	r, err := Parse([]byte(`{"result":{"queries":[[]]}}`))
	if err != nil || !r.Always() || !r.Allow(&Fields{}) {
		t.Fatalf("always-true residual: %v %v", r, err)
	}
	r, err = Parse([]byte(`{"result":{}}`))
	if err != nil || !r.Never() || r.Allow(movie("x")) {
		t.Fatalf("empty residual: %v %v", r, err)
	}
}

const (
	owner = `{"type":"ref","value":[{"type":"var","value":"input"},{"type":"string","value":"resource"},{"type":"string","value":"owner"}]}`
	roles = `{"type":"ref","value":[{"type":"var","value":"input"},{"type":"string","value":"subject"},{"type":"string","value":"roles"}]}`
	eqRef = `{"type":"ref","value":[{"type":"var","value":"eq"}]}`
)

func query(exprs ...string) []byte {
	return []byte(`{"result":{"queries":[[` + strings.Join(exprs, ",") + `]]}}`)
}

func TestUnsupportedFallsBack(t *testing.T) {
	for _, tc := range []struct{ name, raw string }{
		{"support modules", string(mustRead(t, "collection_support.json"))},
		{"negation", string(query(`{"index":0,"negated":true,"terms":[` + eqRef + `,` + owner + `,{"type":"string","value":"a"}]}`))},
		{"with", string(query(`{"index":0,"with":[{}],"terms":[` + eqRef + `,` + owner + `,{"type":"string","value":"a"}]}`))},
		{"names the roles, which were known", string(query(`{"index":0,"terms":[` + eqRef + `,` + owner + `,` + roles + `]}`))},
		{"unknown operator", string(query(`{"index":0,"terms":[{"type":"ref","value":[{"type":"var","value":"startswith"}]},` + owner + `,{"type":"string","value":"a"}]}`))},
		{"variable", string(query(`{"index":0,"terms":[` + eqRef + `,` + owner + `,{"type":"var","value":"x"}]}`))},
		{"number constant", string(query(`{"index":0,"terms":[` + eqRef + `,` + owner + `,{"type":"number","value":1}]}`))},
		{"whole resource", string(query(`{"index":0,"terms":[` + eqRef + `,{"type":"ref","value":[{"type":"var","value":"input"},{"type":"string","value":"resource"}]},{"type":"null","value":{}}]}`))},
		{"unknown resource field", string(query(`{"index":0,"terms":[` + eqRef + `,{"type":"ref","value":[{"type":"var","value":"input"},{"type":"string","value":"resource"},{"type":"string","value":"title"}]},{"type":"string","value":"a"}]}`))},
		{"single term", string(query(`{"index":0,"terms":{"type":"boolean","value":true}}`))},
		{"two revisions", `{"result":{"queries":[[{"index":0,"terms":[` + eqRef + `,{"type":"var","value":"revision"},{"type":"string","value":"a"}]}],[{"index":0,"terms":[` + eqRef + `,{"type":"var","value":"revision"},{"type":"string","value":"b"}]}]]}}`},
		{"no result", `{}`},
		{"not JSON", `{"result":`},
	} {
		t.Run("C-AUTHZ-FAILCLOSED "+tc.name, func(t *testing.T) {
			if r, err := Parse([]byte(tc.raw)); !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Parse = %v, %v; want ErrUnsupported", r, err)
			}
		})
	}
}

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}
