package threatmodel

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
	"go.yaml.in/yaml/v3"
)

func mustLoad(tb testing.TB, path string) *Model {
	tb.Helper()
	m, _, err := Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// TestTheModelEncodesTheSeeds checks that threatmodel.yaml holds what the two seed documents
// name: every asset, entry point, actor, attack-surface line and threat (with the seed's
// impact, likelihood and mitigation), and a control for every control family they list.
func TestTheModelEncodesTheSeeds(t *testing.T) {
	m := mustLoad(t, "threatmodel.yaml")
	names := func(n int, f func(int) string) []string {
		out := make([]string, n)
		for i := range n {
			out[i] = strings.ToLower(f(i))
		}
		return out
	}
	has := func(what string, list []string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, strings.ToLower(w)) }) {
				t.Errorf("%s: nothing named %q", what, w)
			}
		}
	}
	has("assets", names(len(m.Assets), func(i int) string { return m.Assets[i].Name }),
		"Movie data", "API endpoints and underlying infrastructure", "User data",
		"Deployment environment and container images", "Source code repository and CI/CD pipeline")
	has("entry points", names(len(m.EntryPoints), func(i int) string { return m.EntryPoints[i].Name }),
		"HTTP API endpoints", "GitHub repository", "container registry", "Deployment and hosting environment")
	has("actors", names(len(m.Actors), func(i int) string { return m.Actors[i].Name }),
		"External attackers", "Malicious insiders", "Automated bots", "Supply-chain attackers")
	has("attack surface", names(len(m.AttackSurface), func(i int) string { return m.AttackSurface[i].Name }),
		"Public HTTP API endpoints", "Docker image build and deployment process",
		"Source code repository with workflow files", "External dependencies and package managers")

	seedThreats := []struct{ title, impact, likelihood, mitigation string }{
		{"Injection attacks", "Data theft, corruption", "medium", "Input validation, use ORM, static code analysis (CodeQL)"},
		{"Unauthorized access", "Data leak, privilege escalation", "medium", "Use authentication/authorization, secure secrets management"},
		{"Dependency vulnerabilities", "Remote code execution, breaches", "medium", "Regular dependency scanning (Bandit, Trivy), pinned versions"},
		{"Container/image vulnerabilities", "Container escape, data leaks", "low", "Use minimal base images, scan images, run non-root"},
		{"CI/CD pipeline compromise", "Supply chain attacks", "low", "Protect branches, code reviews, secure secrets in workflows"},
		{"Denial of service (DoS)", "Service unavailability", "medium", "Rate limiting (future enhancement), resource limits"},
		{"Information disclosure", "Leak of credentials or data", "low", "Sanitized logging, error handling best practices"},
		{"Man-in-the-middle (MitM) attack", "Data tampering, leakage", "medium", "Use HTTPS / TLS in deployment environment"},
	}
	// Threats the project added since, each with the change that brought it: server-side
	// request forgery and unsafe consumption came with the import (issue 15).
	added := []string{"T-SSRF", "T-UNSAFE-CONSUMPTION"}
	if len(m.Threats) != len(seedThreats)+len(added) {
		t.Errorf("%d threats, the seed has %d and the project added %d", len(m.Threats), len(seedThreats), len(added))
	}
	for _, id := range added {
		i := slices.IndexFunc(m.Threats, func(th Threat) bool { return th.ID == id })
		if i < 0 || len(m.Threats[i].Controls) == 0 || len(m.Threats[i].STRIDE) == 0 || len(m.Threats[i].CWE) == 0 {
			t.Errorf("no threat %s with controls, STRIDE and CWE", id)
		}
	}
	for _, s := range seedThreats {
		i := slices.IndexFunc(m.Threats, func(th Threat) bool { return th.Title == s.title })
		if i < 0 {
			t.Errorf("no threat %q", s.title)
			continue
		}
		th := m.Threats[i]
		if th.Impact != s.impact || th.Likelihood != s.likelihood || th.Mitigation != s.mitigation {
			t.Errorf("%s: impact %q likelihood %q mitigation %q", th.ID, th.Impact, th.Likelihood, th.Mitigation)
		}
		if len(th.Controls) == 0 || len(th.STRIDE) == 0 || len(th.CWE) == 0 {
			t.Errorf("%s: controls %v STRIDE %v CWE %v", th.ID, th.Controls, th.STRIDE, th.CWE)
		}
	}

	// One control for each family of the controls document, including the former future
	// enhancements and the organisational ones.
	for _, id := range []string{
		"C-CONTAINER-NONROOT", "C-INPUT", "C-API-CONTRACT", "C-AUTHN", "C-AUTHZ-RBAC", "C-SECRETS",
		"C-DEPS-PINNED", "C-DEPS-SCAN", "C-SAST", "C-SAFE-CODING", "C-LOG-REDACT", "C-LOG-STRUCTURED",
		"C-CONTAINER-MINIMAL", "C-IMAGE-SCAN", "C-CI-SCANS", "C-REPO-BRANCH-PROTECTION", "C-REPO-CODE-REVIEW",
		"C-SECRETS-NO-COMMIT", "C-NET-RESTRICT", "C-RESOURCE-LIMITS", "C-HEALTH", "C-DEPS-UPDATE",
		"C-SECURITY-AUDIT", "C-PENTEST", "C-ACCESS-REVIEW", "C-BACKUP", "C-RATE", "C-TLS", "C-AUDIT-LOG", "C-ALERTING",
	} {
		if _, ok := m.Control(id); !ok {
			t.Errorf("no control %s", id)
		}
	}
	for _, c := range m.Controls {
		if c.Kind == ControlManual && (c.Attestation == nil || c.Attestation.Role == "") {
			t.Errorf("%s: manual without attestation.role", c.ID)
		}
	}
	// The data flows the design names, each crossing a trust boundary.
	boundary := map[string]string{}
	for _, c := range m.Components {
		boundary[c.ID] = c.Boundary
	}
	for _, f := range [][2]string{
		{"CMP-CLIENT", "CMP-API"}, {"CMP-API", "CMP-OPA"}, {"CMP-API", "CMP-JOURNAL"}, {"CMP-DEVELOPER", "CMP-REPOSITORY"},
		{"CMP-REPOSITORY", "CMP-CI"}, {"CMP-CI", "CMP-REGISTRY"}, {"CMP-REGISTRY", "CMP-ADMISSION"}, {"CMP-API", "CMP-CATALOGUE"},
	} {
		if !slices.ContainsFunc(m.DataFlows, func(d DataFlow) bool { return d.From == f[0] && d.To == f[1] }) {
			t.Errorf("no data flow %s -> %s", f[0], f[1])
		}
	}
}

// toJSON turns a YAML document into the JSON value a schema validator sees.
func toJSON(tb testing.TB, doc string) any {
	tb.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// matchSchema validates doc against threatmodel.schema.json with OPA's json.match_schema
// (draft 4/6/7), so the schema is checked by a real validator without another module.
func matchSchema(tb testing.TB, doc string) (bool, string) {
	tb.Helper()
	var schema any
	if err := json.Unmarshal([]byte(mustRead(tb, "threatmodel.schema.json")), &schema); err != nil {
		tb.Fatalf("schema is not JSON: %v", err)
	}
	rs, err := rego.New(rego.Query(`x := json.match_schema(input.doc, input.schema)`),
		rego.Input(map[string]any{"doc": toJSON(tb, doc), "schema": schema})).Eval(context.Background())
	if err != nil || len(rs) != 1 {
		tb.Fatalf("json.match_schema: %v %v", rs, err)
	}
	res := rs[0].Bindings["x"].([]any)
	b, _ := json.Marshal(res[1])
	return res[0].(bool), string(b)
}

func TestSchemaAcceptsTheModels(t *testing.T) {
	for _, p := range []string{"threatmodel.yaml", "testdata/small.yaml"} {
		if ok, errs := matchSchema(t, mustRead(t, p)); !ok {
			t.Errorf("%s does not match the schema: %s", p, errs)
		}
	}
}

// TestSchemaAndLoaderAgree: what the schema can express, the loader and the schema both
// refuse.
func TestSchemaAndLoaderAgree(t *testing.T) {
	base := mustRead(t, "testdata/small.yaml")
	for _, tc := range []struct{ name, old, new string }{
		{"unknown field", "version: 1\n", "version: 1\nextra: true\n"},
		{"unknown control field", "    kind: tested\n", "    kind: tested\n    owner: me\n"},
		{"bad version", "version: 1", "version: 2"},
		{"bad id prefix", "id: C-CHECK\n", "id: X-CHECK\n"},
		{"bad likelihood", "likelihood: medium", "likelihood: often"},
		{"bad stride", "stride: [tampering]", "stride: [tamper]"},
		{"bad cwe", "cwe: [CWE-20]", "cwe: [CWE-x]"},
		{"bad layer", "layer: design", "layer: somewhere"},
		{"bad evidence", "go:example.com/fixture.TestCheck", "go:example.com/fixture.TstCheck"},
		{"skipped rego rule as evidence", "test_denies_bad_input", "todo_test_denies_bad_input"},
		{"manual without attestation", "    attestation: {role: reviewer}\n", ""},
		{"manual with a free-text attestation", "{role: reviewer}", `{role: reviewer, who: Alice, when: "2025-01-01"}`},
		{"platform without a check", "    kind: manual\n    source: [SEED §5]\n    attestation: {role: reviewer}\n", "    kind: platform\n    source: [SEED §5]\n"},
		{"platform with an attestation", "    kind: manual\n", "    kind: platform\n    check: github-branch-protection\n"},
		{"manual with evidence", "    kind: manual\n", "    kind: manual\n    evidence: [check:x]\n"},
		{"tested with attestation", "    kind: tested\n", "    kind: tested\n    attestation: {role: b}\n"},
		{"missing required", "    title: Abuse\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(base, tc.old, tc.new, 1)
			if doc == base {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			if ok, _ := matchSchema(t, doc); ok {
				t.Error("schema accepted it")
			}
			if _, err := Parse([]byte(doc)); err == nil {
				t.Error("loader accepted it")
			}
		})
	}
}

func TestModelIsSmallEnough(t *testing.T) {
	fi, err := os.Stat("threatmodel.yaml")
	if err != nil || fi.Size() > MaxSize/4 {
		t.Fatalf("%v %v", fi, err)
	}
}
