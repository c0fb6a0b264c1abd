// Package branchprotection reads how GitHub protects a repository's default branch — classic
// branch protection (GET /repos/{owner}/{repo}/branches/{branch}/protection) and the rulesets
// that apply to it (GET /repos/{owner}/{repo}/rules/branches/{branch}) — and checks it against
// what the threat model requires: C-REPO-BRANCH-PROTECTION (protected, RequiredCheck among
// the required status checks, no force pushes) and C-REPO-CODE-REVIEW (at least one approving
// review, stale approvals dismissed, code owner review). GitHub enforces every layer at once,
// so a requirement is met when any layer that could be read meets it.
//
// Without a token and a repository, or when GitHub does not answer (403, 404 other than
// "Branch not protected", rate limits), the setting is not verifiable here: the result is an
// error wrapping ErrNotVerifiable, never a pass.
package branchprotection

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// RequiredCheck is the status check that must be required on the default branch: the name of
// the CI job that runs `make verify-controls` (.github/workflows/ci.yml, job test).
const RequiredCheck = "lint, test, verify-controls"

// Check names, as kind: platform controls name them in threatmodel.yaml (check: …).
const (
	CheckBranchProtection = "github-branch-protection" // C-REPO-BRANCH-PROTECTION
	CheckCodeReview       = "github-code-review"       // C-REPO-CODE-REVIEW
)

// DefaultBaseURL is GitHub's REST API.
const DefaultBaseURL = "https://api.github.com"

// ErrNotVerifiable is wrapped by every error that means GitHub could not be asked here.
var ErrNotVerifiable = errors.New("not verifiable here")

// Options say which repository to read and how.
type Options struct {
	BaseURL    string       // default DefaultBaseURL (CI: GITHUB_API_URL)
	Repository string       // owner/name (CI: GITHUB_REPOSITORY)
	Token      string       // a token that may read the repository's administration settings
	Branch     string       // default: the repository's default branch
	Client     *http.Client // default: a client with a 20s timeout
}

// Protection is what GitHub enforces on the branch, from every layer that could be read.
type Protection struct {
	Branch           string
	Classic          bool     // classic branch protection is set
	Rules            int      // ruleset rules that apply to the branch
	StatusChecks     []string // required status checks (both layers)
	ForcePushBlocked bool
	ApprovingReviews int // the largest required count of any layer
	DismissStale     bool
	CodeOwners       bool
	Unread           []string // layers that could not be read, each with why
}

// Requirement is one thing a control needs of the branch.
type Requirement struct {
	Name string
	Met  bool
}

// Requirements lists what check (CheckBranchProtection or CheckCodeReview) needs and whether
// the protection meets it.
func (p *Protection) Requirements(check string) []Requirement {
	switch check {
	case CheckBranchProtection:
		return []Requirement{
			{"the branch is protected (classic protection or a ruleset)", p.Classic || p.Rules > 0},
			{fmt.Sprintf("required status checks include %q", RequiredCheck), slices.Contains(p.StatusChecks, RequiredCheck)},
			{"force pushes are blocked", p.ForcePushBlocked},
		}
	case CheckCodeReview:
		return []Requirement{
			{"at least one approving review is required", p.ApprovingReviews >= 1},
			{"stale approvals are dismissed on new commits", p.DismissStale},
			{"code owner review is required", p.CodeOwners},
		}
	}
	return []Requirement{{fmt.Sprintf("a check named %q exists", check), false}}
}

// Evaluate says whether the protection meets what check needs: (true, what holds, nil); (false,
// what is missing, nil) when the layers that could be read prove a requirement unmet; or an
// error wrapping ErrNotVerifiable when an unmet requirement might be met by a layer that could
// not be read.
func (p *Protection) Evaluate(check string) (bool, string, error) {
	var met, unmet []string
	for _, r := range p.Requirements(check) {
		if r.Met {
			met = append(met, r.Name)
		} else {
			unmet = append(unmet, r.Name)
		}
	}
	if len(unmet) == 0 {
		return true, fmt.Sprintf("branch %s: %s", p.Branch, strings.Join(met, "; ")), nil
	}
	if len(p.Unread) > 0 {
		return false, "", fmt.Errorf("%w: branch %s: %s; not shown by what could be read: %s",
			ErrNotVerifiable, p.Branch, strings.Join(p.Unread, "; "), strings.Join(unmet, "; "))
	}
	return false, fmt.Sprintf("branch %s: not met: %s", p.Branch, strings.Join(unmet, "; ")), nil
}

// Checks returns the two platform checks, sharing one read of GitHub (made on first use).
// Each returns whether its requirements hold, a sentence saying what holds or what is
// missing, or an error wrapping ErrNotVerifiable.
func Checks(o Options) map[string]func(context.Context) (bool, string, error) {
	var (
		once sync.Once
		p    *Protection
		err  error
	)
	check := func(name string) func(context.Context) (bool, string, error) {
		return func(ctx context.Context) (bool, string, error) {
			once.Do(func() { p, err = Read(ctx, o) })
			if err != nil {
				return false, "", err
			}
			return p.Evaluate(name)
		}
	}
	return map[string]func(context.Context) (bool, string, error){
		CheckBranchProtection: check(CheckBranchProtection),
		CheckCodeReview:       check(CheckCodeReview),
	}
}
