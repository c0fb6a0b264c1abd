package branchprotection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MaxBody bounds a response body read from GitHub.
const MaxBody = 1 << 20

var repoPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

// classicProtection is the part of GET …/branches/{branch}/protection that is checked.
type classicProtection struct {
	RequiredStatusChecks *struct {
		Contexts []string `json:"contexts"`
		Checks   []struct {
			Context string `json:"context"`
		} `json:"checks"`
	} `json:"required_status_checks"`
	RequiredPullRequestReviews *struct {
		DismissStaleReviews          bool `json:"dismiss_stale_reviews"`
		RequireCodeOwnerReviews      bool `json:"require_code_owner_reviews"`
		RequiredApprovingReviewCount int  `json:"required_approving_review_count"`
	} `json:"required_pull_request_reviews"`
	AllowForcePushes *struct {
		Enabled bool `json:"enabled"`
	} `json:"allow_force_pushes"`
}

// rule is one entry of GET …/rules/branches/{branch}.
type rule struct {
	Type       string `json:"type"`
	Parameters struct {
		RequiredApprovingReviewCount int  `json:"required_approving_review_count"`
		DismissStaleReviewsOnPush    bool `json:"dismiss_stale_reviews_on_push"`
		RequireCodeOwnerReview       bool `json:"require_code_owner_review"`
		RequiredStatusChecks         []struct {
			Context string `json:"context"`
		} `json:"required_status_checks"`
	} `json:"parameters"`
}

// Read asks GitHub how the branch (default: the default branch) is protected. It returns an
// error wrapping ErrNotVerifiable when there is no token or repository, or the repository or
// both layers cannot be read; a layer that cannot be read is recorded in Protection.Unread.
func Read(ctx context.Context, o Options) (*Protection, error) {
	if o.Token == "" || o.Repository == "" {
		return nil, fmt.Errorf("%w: no GITHUB_TOKEN and GITHUB_REPOSITORY to ask GitHub with", ErrNotVerifiable)
	}
	if !repoPattern.MatchString(o.Repository) {
		return nil, fmt.Errorf("%w: GITHUB_REPOSITORY %q is not owner/name", ErrNotVerifiable, o.Repository)
	}
	c := &client{o: o}
	if c.o.BaseURL == "" {
		c.o.BaseURL = DefaultBaseURL
	}
	if c.o.Client == nil {
		c.o.Client = &http.Client{Timeout: 20 * time.Second}
	}
	branch := o.Branch
	if branch == "" {
		var repo struct {
			DefaultBranch string `json:"default_branch"`
		}
		if _, err := c.get(ctx, "/repos/"+o.Repository, &repo); err != nil {
			return nil, fmt.Errorf("read repository %s: %w", o.Repository, err)
		}
		if repo.DefaultBranch == "" {
			return nil, fmt.Errorf("%w: repository %s names no default branch", ErrNotVerifiable, o.Repository)
		}
		branch = repo.DefaultBranch
	}
	p := &Protection{Branch: branch}
	esc := url.PathEscape(branch)
	var classic classicProtection
	switch status, err := c.get(ctx, "/repos/"+o.Repository+"/branches/"+esc+"/protection", &classic); {
	case err == nil:
		p.Classic = true
		p.addClassic(classic)
	case status == http.StatusNotFound && errors.Is(err, errNotProtected):
		// GitHub's answer for a branch without classic protection: known, not an error.
	default:
		p.Unread = append(p.Unread, "branch protection: "+err.Error())
	}
	var rules []rule
	if _, err := c.get(ctx, "/repos/"+o.Repository+"/rules/branches/"+esc+"?per_page=100", &rules); err != nil {
		p.Unread = append(p.Unread, "rulesets: "+err.Error())
	} else {
		p.addRules(rules)
	}
	if len(p.Unread) == 2 {
		return nil, fmt.Errorf("%w: %s", ErrNotVerifiable, strings.Join(p.Unread, "; "))
	}
	return p, nil
}

func (p *Protection) addClassic(c classicProtection) {
	if s := c.RequiredStatusChecks; s != nil {
		p.StatusChecks = append(p.StatusChecks, s.Contexts...)
		for _, ch := range s.Checks {
			p.StatusChecks = append(p.StatusChecks, ch.Context)
		}
	}
	if r := c.RequiredPullRequestReviews; r != nil {
		p.ApprovingReviews = max(p.ApprovingReviews, r.RequiredApprovingReviewCount)
		p.DismissStale = p.DismissStale || r.DismissStaleReviews
		p.CodeOwners = p.CodeOwners || r.RequireCodeOwnerReviews
	}
	// Absent allow_force_pushes means GitHub's default for a protected branch: blocked.
	if c.AllowForcePushes == nil || !c.AllowForcePushes.Enabled {
		p.ForcePushBlocked = true
	}
}

func (p *Protection) addRules(rules []rule) {
	p.Rules += len(rules)
	for _, r := range rules {
		switch r.Type {
		case "non_fast_forward":
			p.ForcePushBlocked = true
		case "required_status_checks":
			for _, ch := range r.Parameters.RequiredStatusChecks {
				p.StatusChecks = append(p.StatusChecks, ch.Context)
			}
		case "pull_request":
			p.ApprovingReviews = max(p.ApprovingReviews, r.Parameters.RequiredApprovingReviewCount)
			p.DismissStale = p.DismissStale || r.Parameters.DismissStaleReviewsOnPush
			p.CodeOwners = p.CodeOwners || r.Parameters.RequireCodeOwnerReview
		}
	}
}

// errNotProtected is GitHub's 404 "Branch not protected".
var errNotProtected = errors.New("branch not protected")

type client struct{ o Options }

// get fetches base+path into v. A non-2xx answer returns its status and an error wrapping
// ErrNotVerifiable that says why (errNotProtected too for "Branch not protected").
func (c *client) get(ctx context.Context, path string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.o.BaseURL, "/")+path, nil)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNotVerifiable, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Authorization", "Bearer "+c.o.Token)
	resp, err := c.o.Client.Do(req) // #nosec G107 G704 -- the GitHub API URL is the operator's (GITHUB_API_URL)
	if err != nil {
		return 0, fmt.Errorf("%w: GET %s: %w", ErrNotVerifiable, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil || len(body) > MaxBody {
		return resp.StatusCode, fmt.Errorf("%w: GET %s: unreadable or larger than %d bytes", ErrNotVerifiable, path, MaxBody)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			return resp.StatusCode, fmt.Errorf("%w: GET %s: %w", ErrNotVerifiable, path, err)
		}
		return resp.StatusCode, nil
	}
	return resp.StatusCode, answerError(resp, body, path)
}

// answerError says why GitHub did not answer with the setting.
func answerError(resp *http.Response, body []byte, path string) error {
	var msg struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &msg) // a body that is not JSON leaves the message empty
	m := strings.TrimSpace(msg.Message)
	switch {
	case resp.StatusCode == http.StatusNotFound && strings.EqualFold(m, "Branch not protected"):
		return fmt.Errorf("%w: %w", ErrNotVerifiable, errNotProtected)
	case (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests) &&
		(resp.Header.Get("X-Ratelimit-Remaining") == "0" || resp.Header.Get("Retry-After") != ""):
		reset := resp.Header.Get("X-Ratelimit-Reset")
		if sec, err := strconv.ParseInt(reset, 10, 64); err == nil {
			reset = time.Unix(sec, 0).UTC().Format(time.RFC3339)
		}
		return fmt.Errorf("%w: GET %s: rate-limited by GitHub (%d; resets %s)", ErrNotVerifiable, path, resp.StatusCode, dash(reset))
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: GET %s: 404 %s (no such repository or branch, or the token may not see it)", ErrNotVerifiable, path, dash(m))
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: GET %s: %d %s (the token may not read this setting)", ErrNotVerifiable, path, resp.StatusCode, dash(m))
	}
	return fmt.Errorf("%w: GET %s: %d %s", ErrNotVerifiable, path, resp.StatusCode, dash(m))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
