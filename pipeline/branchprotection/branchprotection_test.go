package branchprotection_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/secure-movie-service/sms/pipeline/branchprotection"
)

// Response bodies in the shapes GitHub's REST API documents.
const (
	repoBody = `{"id": 1, "full_name": "acme/movies", "default_branch": "main", "private": false}`

	protectedBody = `{
  "url": "https://api.github.com/repos/acme/movies/branches/main/protection",
  "required_status_checks": {"url": "x", "strict": true, "contexts": ["lint, test, verify-controls"],
    "checks": [{"context": "lint, test, verify-controls", "app_id": 15368}], "contexts_url": "x"},
  "enforce_admins": {"url": "x", "enabled": true},
  "required_pull_request_reviews": {"url": "x", "dismiss_stale_reviews": true, "require_code_owner_reviews": true,
    "required_approving_review_count": 1, "require_last_push_approval": true},
  "required_linear_history": {"enabled": true},
  "allow_force_pushes": {"enabled": false},
  "allow_deletions": {"enabled": false},
  "required_conversation_resolution": {"enabled": true}
}`

	notProtectedBody = `{"message": "Branch not protected", "documentation_url": "https://docs.github.com/rest/branches/branch-protection#get-branch-protection", "status": "404"}`
	notFoundBody     = `{"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}`
	forbiddenBody    = `{"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest", "status": "403"}`
	rateLimitedBody  = `{"message": "API rate limit exceeded for installation ID 1.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api", "status": "403"}`

	rulesetsBody = `[
  {"type": "deletion", "ruleset_source_type": "Repository", "ruleset_source": "acme/movies", "ruleset_id": 42},
  {"type": "non_fast_forward", "ruleset_source_type": "Repository", "ruleset_source": "acme/movies", "ruleset_id": 42},
  {"type": "pull_request", "parameters": {"required_approving_review_count": 1, "dismiss_stale_reviews_on_push": true,
    "require_code_owner_review": true, "require_last_push_approval": false, "required_review_thread_resolution": false},
    "ruleset_source_type": "Repository", "ruleset_source": "acme/movies", "ruleset_id": 42},
  {"type": "required_status_checks", "parameters": {"strict_required_status_checks_policy": true,
    "required_status_checks": [{"context": "lint, test, verify-controls", "integration_id": 15368}]},
    "ruleset_source_type": "Repository", "ruleset_source": "acme/movies", "ruleset_id": 42}
]`
)

type answer struct {
	status int
	body   string
	header map[string]string
}

// fakeGitHub answers the three endpoints the check reads; every other path is a 404.
func fakeGitHub(tb testing.TB, protection, rules answer) (*httptest.Server, *atomic.Int32) {
	tb.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer test-token" || r.Header.Get("Accept") != "application/vnd.github+json" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message": "Bad credentials"}`))
			return
		}
		a := answer{http.StatusNotFound, notFoundBody, nil}
		switch r.URL.Path {
		case "/repos/acme/movies":
			a = answer{http.StatusOK, repoBody, nil}
		case "/repos/acme/movies/branches/main/protection":
			a = protection
		case "/repos/acme/movies/rules/branches/main":
			a = rules
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	tb.Cleanup(srv.Close)
	return srv, &calls
}

func opts(srv *httptest.Server) branchprotection.Options {
	return branchprotection.Options{BaseURL: srv.URL, Repository: "acme/movies", Token: "test-token", Client: srv.Client()}
}

var (
	ok          = answer{http.StatusOK, protectedBody, nil}
	unprotected = answer{http.StatusNotFound, notProtectedBody, nil}
	noRules     = answer{http.StatusOK, `[]`, nil}
	forbidden   = answer{http.StatusForbidden, forbiddenBody, nil}
	limited     = answer{http.StatusForbidden, rateLimitedBody, map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "1798761600"}}
	limited429  = answer{http.StatusTooManyRequests, `{"message": "secondary rate limit"}`, map[string]string{"Retry-After": "60"}}
	notFound    = answer{http.StatusNotFound, notFoundBody, nil}
)

// TestGitHubBranchProtection is evidence for C-REPO-BRANCH-PROTECTION and C-REPO-CODE-REVIEW:
// the check passes only when GitHub's answers show every requirement, fails naming the one
// that is missing, and is "not verifiable here" — never a pass — when GitHub cannot be asked.
func TestGitHubBranchProtection(t *testing.T) {
	edit := func(a answer, old, new string) answer {
		if !strings.Contains(a.body, old) {
			t.Fatalf("body lacks %q", old)
		}
		a.body = strings.Replace(a.body, old, new, 1)
		return a
	}
	const (
		pass = iota
		fail
		unverifiable
	)
	for _, tc := range []struct {
		name              string
		protection, rules answer
		check             string
		want              int
		say               string
	}{
		{"C-REPO-BRANCH-PROTECTION protected", ok, noRules, branchprotection.CheckBranchProtection, pass, "required status checks include"},
		{"C-REPO-CODE-REVIEW protected", ok, noRules, branchprotection.CheckCodeReview, pass, "code owner review is required"},
		{"C-REPO-BRANCH-PROTECTION protected by a ruleset alone", unprotected, answer{http.StatusOK, rulesetsBody, nil}, branchprotection.CheckBranchProtection, pass, "force pushes are blocked"},
		{"C-REPO-CODE-REVIEW required by a ruleset alone", unprotected, answer{http.StatusOK, rulesetsBody, nil}, branchprotection.CheckCodeReview, pass, "stale approvals are dismissed"},
		{"C-REPO-BRANCH-PROTECTION unprotected", unprotected, noRules, branchprotection.CheckBranchProtection, fail, "not met: the branch is protected"},
		{"C-REPO-CODE-REVIEW unprotected", unprotected, noRules, branchprotection.CheckCodeReview, fail, "not met: at least one approving review"},
		{"C-REPO-CODE-REVIEW too few reviews", edit(ok, `"required_approving_review_count": 1`, `"required_approving_review_count": 0`), noRules, branchprotection.CheckCodeReview, fail, "not met: at least one approving review is required"},
		{"C-REPO-CODE-REVIEW stale reviews kept", edit(ok, `"dismiss_stale_reviews": true`, `"dismiss_stale_reviews": false`), noRules, branchprotection.CheckCodeReview, fail, "not met: stale approvals are dismissed"},
		{"C-REPO-CODE-REVIEW no code owner review", edit(ok, `"require_code_owner_reviews": true`, `"require_code_owner_reviews": false`), noRules, branchprotection.CheckCodeReview, fail, "not met: code owner review"},
		{"C-REPO-BRANCH-PROTECTION force pushes allowed", edit(ok, `"allow_force_pushes": {"enabled": false}`, `"allow_force_pushes": {"enabled": true}`), noRules, branchprotection.CheckBranchProtection, fail, "not met: force pushes are blocked"},
		{"C-REPO-BRANCH-PROTECTION verify-controls not required", edit(edit(ok, `"contexts": ["lint, test, verify-controls"]`, `"contexts": ["build"]`), `"context": "lint, test, verify-controls"`, `"context": "build"`), noRules, branchprotection.CheckBranchProtection, fail, `not met: required status checks include "lint, test, verify-controls"`},
		{"C-REPO-BRANCH-PROTECTION 404", notFound, notFound, branchprotection.CheckBranchProtection, unverifiable, "404 Not Found (no such repository or branch"},
		{"C-REPO-BRANCH-PROTECTION 403", forbidden, forbidden, branchprotection.CheckBranchProtection, unverifiable, "403 Resource not accessible by integration"},
		{"C-REPO-CODE-REVIEW rate-limited 403", limited, limited, branchprotection.CheckCodeReview, unverifiable, "rate-limited by GitHub (403; resets 2027-01-01T00:00:00Z)"},
		{"C-REPO-CODE-REVIEW rate-limited 429", limited429, limited429, branchprotection.CheckCodeReview, unverifiable, "rate-limited by GitHub (429"},
		{"C-REPO-CODE-REVIEW classic unreadable, rulesets short", forbidden, noRules, branchprotection.CheckCodeReview, unverifiable, "not shown by what could be read: at least one approving review"},
		{"C-REPO-CODE-REVIEW classic unreadable, rulesets enough", forbidden, answer{http.StatusOK, rulesetsBody, nil}, branchprotection.CheckCodeReview, pass, "code owner review is required"},
		{"C-REPO-BRANCH-PROTECTION a body that is not JSON", answer{http.StatusOK, `<html>`, nil}, answer{http.StatusOK, `<html>`, nil}, branchprotection.CheckBranchProtection, unverifiable, "invalid character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := fakeGitHub(t, tc.protection, tc.rules)
			holds, detail, err := branchprotection.Checks(opts(srv))[tc.check](context.Background())
			got, text := fail, detail
			switch {
			case err != nil:
				got, text = unverifiable, err.Error()
				if !errors.Is(err, branchprotection.ErrNotVerifiable) || holds {
					t.Fatalf("an error that is not 'not verifiable': %v (holds %v)", err, holds)
				}
			case holds:
				got = pass
			}
			if got != tc.want || !strings.Contains(text, tc.say) {
				t.Fatalf("outcome %d %q, want %d saying %q", got, text, tc.want, tc.say)
			}
		})
	}
}

func TestNotVerifiableWithoutTokenOrRepository(t *testing.T) {
	srv, calls := fakeGitHub(t, ok, noRules)
	for _, tc := range []struct {
		name string
		edit func(o *branchprotection.Options)
		say  string
	}{
		{"C-REPO-BRANCH-PROTECTION no token", func(o *branchprotection.Options) { o.Token = "" }, "no GITHUB_TOKEN and GITHUB_REPOSITORY"},
		{"C-REPO-BRANCH-PROTECTION no repository", func(o *branchprotection.Options) { o.Repository = "" }, "no GITHUB_TOKEN and GITHUB_REPOSITORY"},
		{"a repository that is not owner/name", func(o *branchprotection.Options) { o.Repository = "acme/movies/../x" }, "is not owner/name"},
		{"a wrong token", func(o *branchprotection.Options) { o.Token = "wrong" }, "401 Bad credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opts(srv)
			tc.edit(&o)
			for name, check := range branchprotection.Checks(o) {
				holds, _, err := check(context.Background())
				if holds || !errors.Is(err, branchprotection.ErrNotVerifiable) || !strings.Contains(err.Error(), tc.say) {
					t.Fatalf("%s: holds %v, error %v; want not verifiable saying %q", name, holds, err, tc.say)
				}
			}
		})
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d requests; only the wrong token should have reached the server (once: both checks share one read)", n)
	}
}

// TestRequiredCheckIsTheCIJob keeps RequiredCheck the name of the CI job that runs
// make verify-controls: GitHub names the status check after the job.
func TestRequiredCheckIsTheCIJob(t *testing.T) {
	b, err := os.ReadFile("../../.github/workflows/ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	ci := string(b)
	i := strings.Index(ci, "\n    name: "+branchprotection.RequiredCheck+"\n")
	if i < 0 {
		t.Fatalf("no job named %q in ci.yml", branchprotection.RequiredCheck)
	}
	job := ci[i+1:]
	for n, line := range strings.Split(job, "\n") { // the job ends at the next key indented by two
		if n > 0 && len(line) > 2 && line[:2] == "  " && line[2] != ' ' {
			job = strings.Join(strings.Split(job, "\n")[:n], "\n")
			break
		}
	}
	if !strings.Contains(job, "run: make verify-controls") {
		t.Fatalf("the job named %q does not run make verify-controls", branchprotection.RequiredCheck)
	}
}
