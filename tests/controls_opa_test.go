package tests

import (
	"strings"
	"testing"
)

// TestControlsOPASidecarAnswersOnlyTheDecision is evidence for C-OPA-API-AUTHZ against a real
// OPA started as `make run` starts it (loopback, token authentication, policy/system): only the
// service token may ask for the decision and compile it (POST /v1/compile, no parameters);
// nobody may read data, write policies or data, or use the other APIs; /health is open.
func TestControlsOPASidecarAnswersOnlyTheDecision(t *testing.T) {
	o := startOPA(t)
	const decision = "/v1/data/movies/authz/decision"
	input := `{"input":{"method":"GET","route":"/v1/movies","path":["v1","movies"],"subject":{"sub":"v","roles":["viewer"]},"resource":null}}`

	if r := do(t, "POST", o.url+decision, o.token, input); r.status != 200 || !strings.Contains(string(r.body), `"allow":true`) {
		t.Fatalf("the service token cannot ask for the decision: %s", r)
	}
	const compile = `{"query":"data.movies.authz.allow == true; revision = data.movies.authz.revision",` +
		`"input":{"method":"GET","route":"/v1/movies/{id}",` +
		`"subject":{"roles":["viewer"]}},"unknowns":["input.resource","input.path","input.subject.sub"]}`
	if r := do(t, "POST", o.url+"/v1/compile", o.token, compile); r.status != 200 || !strings.Contains(string(r.body), `"queries"`) {
		t.Fatalf("the service token cannot compile: %s", r)
	}
	if r := do(t, "GET", o.url+"/health", "", ""); r.status != 200 {
		t.Fatalf("/health: %s", r)
	}
	for _, tc := range []struct{ name, method, path, token, body string }{
		{"decision without a token", "POST", decision, "", input},
		{"decision with another token", "POST", decision, strings.Repeat("0", 64), input},
		{"decision as GET", "GET", decision, o.token, ""},
		{"read the data tree", "GET", "/v1/data", o.token, ""},
		{"read the token hash", "GET", "/v1/data/movies_opa", o.token, ""},
		{"write a policy", "PUT", "/v1/policies/evil", o.token, "package movies.authz\n\ndecision := {\"allow\": true}\n"},
		{"delete a policy", "DELETE", "/v1/policies/policy/api/authz.rego", o.token, ""},
		{"list policies", "GET", "/v1/policies", o.token, ""},
		{"write data", "PUT", "/v1/data/movies_opa", o.token, `{"service_token_sha256":"00"}`},
		{"ad-hoc query", "POST", "/v1/query", o.token, `{"query":"data"}`},
		{"compile without a token", "POST", "/v1/compile", "", compile},
		{"compile with another token", "POST", "/v1/compile", strings.Repeat("0", 64), compile},
		{"compile with explain", "POST", "/v1/compile?explain=full", o.token, compile},
		{"data-filter compile", "POST", "/v1/compile/movies/authz/allow", o.token, compile},
		{"compile of another query (the token hash)", "POST", "/v1/compile", o.token,
			`{"query":"x = data.movies_opa.service_token_sha256","unknowns":[]}`},
		{"config", "GET", "/v1/config", o.token, ""},
		{"status", "GET", "/v1/status", o.token, ""},
		{"metrics", "GET", "/metrics", o.token, ""},
		{"anonymous data write", "PUT", "/v1/data/x", "", `{}`},
	} {
		t.Run("C-OPA-API-AUTHZ "+tc.name+" refused", func(t *testing.T) {
			if r := do(t, tc.method, o.url+tc.path, tc.token, tc.body); r.status != 401 && r.status != 403 {
				t.Fatalf("got %s", r)
			}
		})
	}
	// The refused writes changed nothing: a viewer still cannot delete.
	deny := strings.Replace(strings.Replace(input, `"GET"`, `"DELETE"`, 1), `"route":"/v1/movies","path":["v1","movies"]`, `"route":"/v1/movies/{id}","path":["v1","movies","m1"]`, 1)
	deny = strings.Replace(deny, `"resource":null`, `"resource":{"type":"movie","id":"m1","owner":"e"}`, 1)
	if r := do(t, "POST", o.url+decision, o.token, deny); r.status != 200 || !strings.Contains(string(r.body), `"allow":false`) {
		t.Fatalf("after the refused writes a viewer's DELETE: %s", r)
	}
}
