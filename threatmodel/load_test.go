package threatmodel

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func mustRead(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestSmallModelLoads(t *testing.T) {
	m, _, err := Load("testdata/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Threats) != 1 || len(m.Controls) != 2 || m.Threats[0].Line != 25 || m.Controls[1].Line != 48 {
		t.Fatalf("threats %d controls %d lines %d %d", len(m.Threats), len(m.Controls), m.Threats[0].Line, m.Controls[1].Line)
	}
	if got := m.ThreatsOf("C-REVIEW"); len(got) != 1 || got[0] != "T-ABUSE" {
		t.Fatalf("ThreatsOf = %v", got)
	}
}

// TestLoaderRejects mutates the small model one way at a time; each must be refused and the
// message must name what is wrong.
func TestLoaderRejects(t *testing.T) {
	base := mustRead(t, "testdata/small.yaml")
	for _, tc := range []struct {
		name, old, new string
		want           string
		validation     bool // decoded, but inconsistent: the model comes back with the error
	}{
		{"unknown top-level field", "version: 1\n", "version: 1\nextra: true\n", "field extra not found", false},
		{"unknown control field", "    kind: tested\n", "    kind: tested\n    owner: me\n", "field owner not found", false},
		{"unknown attestation field", "{role: reviewer}", "{role: reviewer, who: Alice}", "field who not found", false},
		{"duplicate key", "    layer: design\n", "    layer: design\n    layer: runtime\n", `mapping key "layer" already defined`, false},
		{"wrong type", "version: 1", "version: one", "cannot unmarshal", false},
		{"second document", "", "\n---\nversion: 1\n", "more than one YAML document", false},
		{"duplicate control id", "id: C-REVIEW", "id: C-CHECK", "C-CHECK: duplicate id", true},
		{"duplicate id across kinds", "id: A-DATA", "id: ACT-OUTSIDER", "duplicate id", true},
		{"dangling control reference", "controls: [C-CHECK, C-REVIEW]", "controls: [C-CHECK, C-REVIEW, C-GONE]", "T-ABUSE: controls names C-GONE, which does not exist", true},
		{"reference of the wrong kind", "controls: [C-CHECK, C-REVIEW]", "controls: [C-CHECK, A-DATA]", "names A-DATA (asset), of the wrong kind", true},
		{"dangling component", "component: CMP-API}", "component: CMP-GONE}", "component names CMP-GONE", true},
		{"dangling boundary", "boundary: TB-POD}", "boundary: TB-GONE}", "boundary names TB-GONE", true},
		{"dangling flow end", "to: CMP-API,", "to: CMP-NOPE,", "to names CMP-NOPE", true},
		{"dangling flow control", "controls: [C-CHECK]}", "controls: [C-NOPE]}", "controls names C-NOPE", true},
		{"dangling actor", "actors: [ACT-OUTSIDER]", "actors: [ACT-INSIDER]", "actors names ACT-INSIDER", true},
		{"bad id prefix", "id: C-CHECK\n", "id: X-CHECK\n", "control id must look like C-NAME", true},
		{"lower-case id", "id: T-ABUSE", "id: T-abuse", "threat id must look like T-NAME", true},
		{"bad likelihood", "likelihood: medium", "likelihood: often", "likelihood", true},
		{"bad stride", "stride: [tampering]", "stride: [tamper]", "STRIDE category", true},
		{"bad cwe", "cwe: [CWE-20]", "cwe: [20]", "CWE id", true},
		{"bad layer", "layer: design", "layer: somewhere", "layer", true},
		{"bad kind", "kind: tested", "kind: hoped", "kind", true},
		{"evidence typo", "go:example.com/fixture.TestCheck", "go:example.com/fixture.TstCheck", "want go:<import path>", true},
		{"evidence unknown kind", "rego:fixture.policy_test", "opa:fixture.policy_test", "unknown kind", true},
		{"evidence with a space", "TestCheck/C-CHECK_rejects_bad_input", "TestCheck/C-CHECK rejects", "want go:", true},
		{"manual without attestation", "    attestation: {role: reviewer}\n", "", "needs attestation.role", true},
		{"manual with an empty role", "{role: reviewer}", `{role: ""}`, "attestation.role is required", true},
		{"manual with a platform check", "    attestation: {role: reviewer}\n", "    attestation: {role: reviewer}\n    check: github-branch-protection\n", "names no platform check", true},
		{"platform without a check", "    kind: manual\n    source: [SEED §5]\n    attestation: {role: reviewer}\n", "    kind: platform\n    source: [SEED §5]\n", "needs check: <name>", true},
		{"platform with an attestation", "    kind: manual\n", "    kind: platform\n    check: github-branch-protection\n", "not attested", true},
		{"tested with a platform check", "    kind: tested\n", "    kind: tested\n    check: github-branch-protection\n", "names no platform check", true},
		{"escaping implementation path", "implementation: [fixture/check.go]", "implementation: [../outside.go]", "not a clean path", true},
		{"missing title", "    title: Abuse\n", "", "title is required", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc string
			if tc.old == "" {
				doc = base + tc.new
			} else {
				if !strings.Contains(base, tc.old) {
					t.Fatalf("fixture lacks %q", tc.old)
				}
				doc = strings.Replace(base, tc.old, tc.new, 1)
			}
			m, err := Parse([]byte(doc))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			var ve *ValidationError
			if got := errors.As(err, &ve); got != tc.validation || (m != nil) != tc.validation {
				t.Fatalf("validation error %v, model %v; want %v", got, m != nil, tc.validation)
			}
		})
	}
}

func TestParseRefusesNonMappings(t *testing.T) {
	for _, doc := range []string{"", "[]", "just text", "null", "{", strings.Repeat("a", MaxSize+1)} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%.20q accepted", doc)
		}
	}
}

func TestParseEvidence(t *testing.T) {
	for _, tc := range []struct {
		id                  string
		kind, pkg, test, sb string
	}{
		{"go:github.com/a/b/c.TestX", "go", "github.com/a/b/c", "TestX", ""},
		{"go:github.com/a/b.TestX/sub_one/two", "go", "github.com/a/b", "TestX", "sub_one/two"},
		{"go:example.com/x.TestAccess/C-AUTHZ-OWNER_BOLA_editor's_movie", "go", "example.com/x", "TestAccess", "C-AUTHZ-OWNER_BOLA_editor's_movie"},
		{"go:example.com/x.FuzzParse", "go", "example.com/x", "FuzzParse", ""},
		{"go:example.com/x.TestA/b.TestC", "go", "example.com/x", "TestA", "b.TestC"},
		{"rego:movies.authz_test.test_viewer_cannot_delete", "rego", "movies.authz_test", "test_viewer_cannot_delete", ""},
		{"check:gosec", "check", "", "gosec", ""},
		{"check:dockerfile-policy", "check", "", "dockerfile-policy", ""},
	} {
		e, err := ParseEvidence(tc.id)
		if err != nil || e.Kind != tc.kind || e.Package != tc.pkg || e.Test != tc.test || e.Sub != tc.sb {
			t.Errorf("%s: %+v %v", tc.id, e, err)
		}
	}
	for _, id := range []string{
		"", "go:", "go:TestX", "go:example.com/x.testX", "go:example.com/x.TestX/", "go:example.com/x.TestX/a//b",
		"go:example.com/x.TestX/a b", "rego:movies.authz_test", "rego:movies.authz_test.todo_test_x",
		"rego:Movies.test_x", "check:", "check:Gosec", "check:go sec", "manual:x", "GO:example.com/x.TestX",
	} {
		if e, err := ParseEvidence(id); err == nil {
			t.Errorf("%q accepted: %+v", id, e)
		}
	}
}
