package controls

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/signoff"
	"github.com/secure-movie-service/sms/threatmodel"
)

// reviewerKit holds keys made once for the package's tests: alice may attest the fixture's
// role "reviewer", bob holds another role, mallory is no reviewer.
type reviewerKit struct {
	alice, bob, mallory *testkit.Key
	doc                 []byte
	reviewers           *signoff.Reviewers
}

var (
	kitOnce sync.Once
	kit     *reviewerKit
	kitErr  error
)

func mustKit(tb testing.TB) *reviewerKit {
	tb.Helper()
	kitOnce.Do(func() {
		k := &reviewerKit{alice: testkit.MustKey(tb), bob: testkit.MustKey(tb), mallory: testkit.MustKey(tb)}
		k.doc = testkit.MustReviewers(tb,
			testkit.Reviewer{Key: k.alice, Name: "Alice Example", Roles: []string{"reviewer"}},
			testkit.Reviewer{Key: k.bob, Name: "Bob Example", Roles: []string{"operations on-call lead"}})
		k.reviewers, kitErr = signoff.ParseReviewers(k.doc)
		kit = k
	})
	if kitErr != nil {
		tb.Fatal(kitErr)
	}
	return kit
}

// mustControl loads the fixture's model and returns control id.
func mustControl(tb testing.TB, dir, id string) threatmodel.Control {
	tb.Helper()
	m, _, err := threatmodel.Load(filepath.Join(dir, fixtureModel))
	if err != nil {
		tb.Fatal(err)
	}
	c, ok := m.Control(id)
	if !ok {
		tb.Fatalf("no control %s", id)
	}
	return *c
}

// mustAttest signs an attestation of C-REVIEW with k at `at`, valid until expires, into the
// fixture's threatmodel/attestations. A reviewer without the role signs through a
// reviewers document that grants it, so the file is what a real (mistaken) attempt writes.
func mustAttest(tb testing.TB, dir string, k *testkit.Key, at time.Time, expires string) string {
	tb.Helper()
	rs := mustKit(tb).reviewers
	if k != mustKit(tb).alice {
		var err error
		rs, err = signoff.ParseReviewers(testkit.MustReviewers(tb, testkit.Reviewer{Key: k, Name: "Signer", Roles: []string{"reviewer"}}))
		testkit.Must(tb, err)
	}
	env, _, err := signoff.Sign(k.Signer, rs, signoff.Request{Control: mustControl(tb, dir, "C-REVIEW"),
		Evidence: signoff.Evidence{URI: "https://tracker.example/REVIEW-1"}, Expires: expires, Now: at})
	testkit.Must(tb, err)
	p, err := signoff.Write(filepath.Join(dir, "threatmodel", "attestations"), "C-REVIEW", env, at)
	testkit.Must(tb, err)
	return p
}

func mustVerifyWith(tb testing.TB, dir string, edit func(o *Options)) *Report {
	tb.Helper()
	o := fixtureOptions(dir)
	o.Reviewers = mustKit(tb).doc
	if edit != nil {
		edit(&o)
	}
	r, err := Run(context.Background(), o)
	if err != nil {
		tb.Fatalf("Run: %v", err)
	}
	return r
}

func findingOf(r *Report, rule, control string) (Finding, bool) {
	for _, f := range r.Findings {
		if f.Rule == rule && f.Control == control {
			return f, true
		}
	}
	return Finding{}, false
}

// TestManualControlAttestations is evidence for C-MANUAL-SIGNED: a manual control holds only
// through a current attestation signed by a reviewer key that holds its role; none (or only an
// expired one) is reported as missing, and fails only when attestations are required; a
// present but wrong one always fails, saying why.
func TestManualControlAttestations(t *testing.T) {
	k := mustKit(t)
	day := fixedNow.Add(-24 * time.Hour)
	for _, tc := range []struct {
		name    string
		setup   func(tb testing.TB, dir string)
		require bool
		status  string // C-REVIEW's status
		passed  bool
		rule    string // a finding about C-REVIEW, if any
		say     string
	}{
		{"C-MANUAL-SIGNED attested by a reviewer with the role", func(tb testing.TB, dir string) {
			mustAttest(tb, dir, k.alice, day, "2027-05-31")
		}, true, StatusPass, true, "", "attested by Alice Example (reviewer) on 2026-05-31, valid until 2027-05-31: https://tracker.example/REVIEW-1"},
		{"C-MANUAL-SIGNED never attested", nil, false, StatusMissing, true, "", `no signed attestation; a reviewer with role "reviewer" must attest it`},
		{"C-MANUAL-SIGNED never attested, attestations required", nil, true, StatusMissing, false, RuleAttestationMissing, "attestation missing: no signed attestation"},
		{"C-MANUAL-SIGNED expired", func(tb testing.TB, dir string) {
			mustAttest(tb, dir, k.alice, fixedNow.AddDate(-1, 0, 0), "2026-05-31")
		}, false, StatusMissing, true, "", "expired on 2026-05-31 (attested by Alice Example on 2025-06-01)"},
		{"C-MANUAL-SIGNED signed by a key that is not a reviewer's", func(tb testing.TB, dir string) {
			mustAttest(tb, dir, k.mallory, day, "2027-05-31")
		}, false, StatusFail, false, RuleAttestationRejected, "not signed by a reviewer key in policy/data"},
		{"C-MANUAL-SIGNED signed by a reviewer without the role", func(tb testing.TB, dir string) {
			mustAttest(tb, dir, k.bob, day, "2027-05-31")
		}, false, StatusFail, false, RuleAttestationRejected, `reviewer Bob Example does not hold role "reviewer"`},
		{"C-MANUAL-SIGNED attested in the future", func(tb testing.TB, dir string) {
			mustAttest(tb, dir, k.alice, fixedNow.Add(time.Hour), "2027-05-31")
		}, false, StatusFail, false, RuleAttestationRejected, "attested in the future"},
		{"C-MANUAL-SIGNED the control's text changed after attesting", func(tb testing.TB, dir string) {
			mustAttest(tb, dir, k.alice, day, "2027-05-31")
			mustEdit(tb, dir, fixtureModel, "description: Organisational.", "description: Organisational, now and then.")
		}, false, StatusFail, false, RuleAttestationRejected, "the control's text changed since it was attested"},
		{"C-MANUAL-SIGNED a tampered attestation beside a valid one", func(tb testing.TB, dir string) {
			mustAttest(tb, dir, k.alice, day, "2027-05-31")
			p := mustAttest(tb, dir, k.alice, day.Add(time.Minute), "2027-05-30")
			b, err := os.ReadFile(p)
			testkit.Must(tb, err)
			testkit.Must(tb, os.WriteFile(p, []byte(strings.Replace(string(b), `"payload": "`, `"payload": "eyJ`, 1)), 0o644))
		}, false, StatusFail, false, RuleAttestationRejected, "attestation threatmodel/attestations/C-REVIEW/"},
		{"C-MANUAL-SIGNED a file that is not JSON", func(tb testing.TB, dir string) {
			d := filepath.Join(dir, "threatmodel", "attestations", "C-REVIEW")
			testkit.Must(tb, os.MkdirAll(d, 0o755))
			testkit.Must(tb, os.WriteFile(filepath.Join(d, "ok.json"), []byte("Alice says OK"), 0o644))
		}, false, StatusFail, false, RuleAttestationRejected, "envelope: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := mustFixture(t)
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			r := mustVerifyWith(t, dir, func(o *Options) { o.RequireAttestations = tc.require })
			c, _ := r.control("C-REVIEW")
			var all []string
			for _, e := range c.Evidence {
				all = append(all, e.Detail)
			}
			all = append(append(all, c.Reasons...), c.Missing)
			if c.Status != tc.status || r.Passed != tc.passed || !strings.Contains(strings.Join(all, "\n"), tc.say) {
				t.Fatalf("C-REVIEW %s (want %s), passed %v (want %v); it says:\n%s", c.Status, tc.status, r.Passed, tc.passed, strings.Join(all, "\n"))
			}
			f, found := findingOf(r, tc.rule, "C-REVIEW")
			if tc.rule != "" && (!found || !strings.Contains(f.Message, tc.say)) {
				t.Fatalf("no %s finding saying %q: %+v", tc.rule, tc.say, r.Findings)
			}
			if tc.rule == "" && len(r.Findings) != 0 {
				t.Fatalf("findings %+v", r.Findings)
			}
			missing := len(r.AttestationsMissing) == 1 && r.AttestationsMissing[0].Control == "C-REVIEW"
			if missing != (tc.status == StatusMissing) {
				t.Fatalf("attestations missing %+v with status %s", r.AttestationsMissing, c.Status)
			}
		})
	}
}

// TestPlatformControls: a platform control holds when the platform shows its setting, fails
// when the platform shows it is not there, and is missing — not verifiable here, never a
// pass — when the platform cannot be asked or the pipeline has no such check.
func TestPlatformControls(t *testing.T) {
	platform := "  - id: C-PLATFORM\n    title: The platform protects\n    description: A setting only the platform knows.\n" +
		"    layer: build-deploy\n    kind: platform\n    source: [fixture]\n    check: fixture-setting\n"
	for _, tc := range []struct {
		name   string
		check  PlatformCheck
		status string
		passed bool
		say    string
	}{
		{"the setting is there", func(context.Context) (bool, string, error) { return true, "branch main: protected", nil }, StatusPass, true, "branch main: protected"},
		{"the setting is not there", func(context.Context) (bool, string, error) { return false, "branch main: not met: x", nil }, StatusFail, false, "platform check fixture-setting: branch main: not met: x"},
		{"the platform cannot be asked", func(context.Context) (bool, string, error) {
			return true, "ignored", errors.New("no GITHUB_TOKEN")
		}, StatusMissing, true, "not verifiable here: no GITHUB_TOKEN"},
		{"the platform refuses", func(context.Context) (bool, string, error) {
			return false, "", errors.New("not verifiable here: GET /repos/acme/movies: 403")
		}, StatusMissing, true, "not verifiable here: GET /repos/acme/movies: 403"},
		{"the pipeline has no such check", nil, StatusMissing, true, "not verifiable here: the pipeline provides no such platform check"},
		{"the check panics", func(context.Context) (bool, string, error) { panic("boom") }, StatusMissing, true, "not verifiable here: platform check panicked: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := mustFixture(t)
			mustEdit(t, dir, fixtureModel, "controls: [C-LIMIT]", "controls: [C-LIMIT, C-PLATFORM]")
			mustEdit(t, dir, fixtureModel, "  - id: C-REVIEW\n", platform+"  - id: C-REVIEW\n")
			mustAttest(t, dir, mustKit(t).alice, fixedNow.Add(-time.Hour), "2027-01-01")
			r := mustVerifyWith(t, dir, func(o *Options) {
				if tc.check != nil {
					o.Platform = map[string]PlatformCheck{"fixture-setting": tc.check}
				}
			})
			c, _ := r.control("C-PLATFORM")
			text := c.Missing + strings.Join(c.Reasons, "\n")
			for _, e := range c.Evidence {
				text += "\n" + e.Detail
			}
			if c.Status != tc.status || r.Passed != tc.passed || !strings.Contains(text, tc.say) || strings.Contains(text, "here: not verifiable here") {
				t.Fatalf("C-PLATFORM %s (want %s), passed %v; says %q, want %q", c.Status, tc.status, r.Passed, text, tc.say)
			}
			if r.Summary.Platform != 1 || r.Summary.Tested != 2 {
				t.Fatalf("summary %+v", r.Summary)
			}
		})
	}
}
