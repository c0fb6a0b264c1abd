package tests

import (
	"strings"
	"testing"
)

// TestOPASidecarIsLocked attacks the OPA process as `make run` starts it:
// only the service's token may ask for decisions, and nobody may read the
// data tree or change policies or data over the API.
func TestOPASidecarIsLocked(t *testing.T) {
	opa := startOPA(t)
	const decision = "/v1/data/movies/authz/decision"
	input := `{"input":{"method":"GET","route":"/v1/movies","path":["v1","movies"],"subject":{"sub":"v","roles":["viewer"]},"resource":null}}`
	if r := do(t, "POST", opa.url+decision, opa.token, input); r.status != 200 || !strings.Contains(string(r.body), `"allow":true`) {
		t.Fatalf("the service token cannot ask for a decision: %s", r)
	}
	for _, tc := range []struct{ name, method, path, token, body string }{
		{"no token", "POST", decision, "", input},
		{"wrong token", "POST", decision, strings.Repeat("0", 64), input},
		{"explain leaks policy internals", "POST", decision + "?explain=full", opa.token, input},
		{"replace a policy", "PUT", "/v1/policies/evil", opa.token, "package movies.authz\nallow := true"},
		{"delete a policy", "DELETE", "/v1/policies/policy/api/authz.rego", opa.token, ""},
		{"list policies", "GET", "/v1/policies", opa.token, ""},
		{"read the data tree (holds the token hash)", "GET", "/v1/data", opa.token, ""},
		{"write data", "PUT", "/v1/data/movies_opa", opa.token, `{"service_token_sha256":"x"}`},
		{"ad-hoc query", "POST", "/v1/query", opa.token, `{"query":"data"}`},
		{"read config", "GET", "/v1/config", opa.token, ""},
	} {
		t.Run("C-OPA-API-AUTHZ "+tc.name, func(t *testing.T) {
			r := do(t, tc.method, opa.url+tc.path, tc.token, tc.body)
			if r.status != 401 && r.status != 403 {
				t.Fatalf("got %s", r)
			}
		})
	}
	// The policy is unchanged after the attempts.
	if r := do(t, "POST", opa.url+decision, opa.token, strings.Replace(input, "viewer", "guest", 1)); strings.Contains(string(r.body), `"allow":true`) {
		t.Fatalf("policy changed: %s", r)
	}
}
