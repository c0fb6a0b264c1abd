package controls

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/secure-movie-service/sms/pipeline/signoff"
	"github.com/secure-movie-service/sms/threatmodel"
)

// Status values of a control, a threat and an evidence item. They are the values of the
// control-results predicate (pipeline/predicate).
const (
	StatusPass = "pass"
	StatusFail = "fail"
	StatusSkip = "skip" // evidence only: the test ran and was skipped
	// StatusMissing: evidence that did not run (no test of that name, no such check); a manual
	// control without a current attestation; a platform control not verifiable here.
	StatusMissing = "missing"
)

// PlatformCheck reads a setting of the hosting platform that a kind: platform control names
// (check: <name>). It returns whether the setting holds and a sentence saying what holds or
// what is missing, or an error when the platform cannot be asked here (not verifiable).
type PlatformCheck func(ctx context.Context) (holds bool, detail string, err error)

// Check is a pipeline check named by `check:<name>` evidence. It returns what it checked
// (the reports show it beside a pass, e.g. the vulnerability database's date) and nil when it
// passed, an error saying what failed otherwise.
type Check func(ctx context.Context) (detail string, err error)

// Options configure a verification.
type Options struct {
	Root       string                   // repository root; default "."
	Model      string                   // the model, relative to Root; default threatmodel/threatmodel.yaml
	GoDir      string                   // where `go test` runs, relative to Root; default Root (workspace mode)
	GoCommand  string                   // default "go"
	GoEnv      []string                 // extra environment for go (e.g. GOWORK=off)
	GoFlags    []string                 // extra `go test` flags, e.g. -count=1
	PolicyRoot string                   // Rego policies, relative to Root; default policy
	PolicyData []string                 // data directories loaded with every policy, relative to Root; default policy/data if present
	Checks     map[string]Check         // check:<name> evidence; a name not here is missing
	Platform   map[string]PlatformCheck // platform checks of kind: platform controls; a name not here is not verifiable
	// Reviewers is the reviewers document (pipeline/signoff.ParseReviewers); default Root's
	// policy/data/reviewers.json, or the one embedded from policy/data when Root has none.
	Reviewers []byte
	// Attestations is the directory of signed attestations of manual controls, relative to
	// Root; default threatmodel/attestations.
	Attestations string
	// RequireAttestations makes every missing attestation (a manual control without a current
	// one, a platform control not verifiable here) a finding, so the verification fails.
	RequireAttestations bool
	Now                 func() time.Time // default time.Now
	Revision            string           // source revision; default: git rev-parse HEAD in Root ("" outside git)
	Dirty               *bool            // work tree has uncommitted changes; default: git status in Root
}

func (o *Options) defaults() error {
	if o.Root == "" {
		o.Root = "."
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return err
	}
	o.Root = root
	if o.Model == "" {
		o.Model = filepath.Join("threatmodel", "threatmodel.yaml")
	}
	if o.GoCommand == "" {
		o.GoCommand = "go"
	}
	if o.PolicyRoot == "" {
		o.PolicyRoot = "policy"
	}
	if o.PolicyData == nil {
		if fi, err := os.Stat(filepath.Join(o.Root, "policy", "data")); err == nil && fi.IsDir() {
			o.PolicyData = []string{filepath.Join("policy", "data")}
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Attestations == "" {
		o.Attestations = filepath.Join("threatmodel", "attestations")
	}
	return nil
}

func (o *Options) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(o.Root, p)
}

// ErrModel is returned, wrapped, when the model cannot be decoded at all (not YAML, an
// unknown field, a duplicate key); the verification then has nothing to report on and fails.
// Inconsistent models are findings, not errors.
var ErrModel = errors.New("threat model")

// ErrReviewers is returned, wrapped, when the reviewers document cannot be read: no manual
// control could be judged, so the verification fails.
var ErrReviewers = errors.New("reviewer keys")

// Run loads the model, runs all of its evidence (one `go test -json` over every Go package
// the evidence names, the Rego tests in-process, and the named checks) and evaluates every
// threat and control. It returns an error only when the verification itself could not run;
// a failing control is in the report (Report.Passed false).
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	reviewers, reviewersFrom, err := reviewersOf(o)
	if err != nil {
		return nil, err
	}
	start := o.Now()
	modelPath := o.path(o.Model)
	m, raw, err := threatmodel.Load(modelPath)
	var ve *threatmodel.ValidationError
	switch {
	case errors.As(err, &ve):
	case errors.As(err, new(*fs.PathError)):
		return nil, fmt.Errorf("read the threat model: %w", err) // a wrong path: a usage error
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	sum := sha256.Sum256(raw)
	r := &Report{
		Model:               filepath.ToSlash(relTo(o.Root, modelPath)),
		ModelDigest:         "sha256:" + hex.EncodeToString(sum[:]),
		Started:             start.UTC(),
		model:               m,
		requireAttestations: o.RequireAttestations,
		Reviewers:           fmt.Sprintf("%d reviewer keys from %s", reviewers.Len(), reviewersFrom),
	}
	if ve != nil {
		r.Problems = ve.Problems
	}
	r.Revision, r.Dirty = revision(ctx, o)

	parsed, goTests, regoPkgs := collectEvidence(m)

	// Run Go tests, Rego tests and checks at the same time; the first error stops the rest.
	var (
		goRes       *goResults
		regoRes     *regoResults
		checkRes    map[string]checkResult
		policyData  []string
		goDir       = o.Root
		platformRes = map[string]platformResult{}
	)
	if o.GoDir != "" {
		goDir = o.path(o.GoDir)
	}
	for _, d := range o.PolicyData {
		policyData = append(policyData, o.path(d))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		goRes, err = runGoTests(gctx, o.GoCommand, goDir, o.GoEnv, o.GoFlags, goTests)
		return err
	})
	g.Go(func() (err error) {
		if regoRes, err = runRegoTests(gctx, o.path(o.PolicyRoot), policyData, regoPkgs); err != nil {
			return err
		}
		checkRes = runChecks(gctx, o.Checks, checkNamesOf(parsed))
		for _, name := range platformNamesOf(m) {
			platformRes[name] = runPlatform(gctx, o.Platform[name])
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	r.GoPackages, r.GoSeconds = sortedKeys(goTests), goRes.elapsed.Seconds()
	r.RegoPackages, r.RegoSeconds = regoPkgs, regoRes.elapsed.Seconds()

	claims, err := policyClaims(o.path(o.PolicyRoot))
	if err != nil {
		return nil, fmt.Errorf("read the policies' custom.controls: %w", err)
	}
	ev := &evaluator{o: &o, goRes: goRes, regoRes: regoRes, checks: checkRes, now: o.Now(),
		platform: platformRes, reviewers: reviewers, claims: claims}
	r.evaluate(m, parsed, ev)
	r.Seconds = o.Now().Sub(start).Seconds()
	return r, nil
}

// reviewersOf loads and parses the reviewer keys manual controls are judged with.
func reviewersOf(o Options) (*signoff.Reviewers, string, error) {
	raw, from, err := loadReviewers(o.Root, o.Reviewers)
	if err != nil {
		return nil, "", err
	}
	reviewers, err := signoff.ParseReviewers(raw)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s: %w", ErrReviewers, from, err)
	}
	return reviewers, from, nil
}

// collectEvidence parses every evidence id of the model and returns the Go tests it names
// (package → top-level test names, sorted) and the Rego packages, sorted.
func collectEvidence(m *threatmodel.Model) (map[string]threatmodel.Evidence, map[string][]string, []string) {
	parsed := map[string]threatmodel.Evidence{}
	goTests := map[string][]string{}
	var regoPkgs []string
	for _, c := range m.Controls {
		for _, id := range c.Evidence {
			e, err := threatmodel.ParseEvidence(id)
			if err != nil {
				continue // a model problem already
			}
			parsed[id] = e
			switch e.Kind {
			case threatmodel.EvidenceGo:
				if !slices.Contains(goTests[e.Package], e.Test) {
					goTests[e.Package] = append(goTests[e.Package], e.Test)
				}
			case threatmodel.EvidenceRego:
				if !slices.Contains(regoPkgs, e.Package) {
					regoPkgs = append(regoPkgs, e.Package)
				}
			}
		}
	}
	for _, names := range goTests {
		sort.Strings(names)
	}
	sort.Strings(regoPkgs)
	return parsed, goTests, regoPkgs
}

// runChecks runs the named checks the pipeline provides; a name it does not provide is left
// out (missing evidence).
func runChecks(ctx context.Context, checks map[string]Check, names []string) map[string]checkResult {
	out := map[string]checkResult{}
	for _, name := range names {
		if chk, ok := checks[name]; ok {
			out[name] = safeCheck(ctx, chk)
		}
	}
	return out
}

func checkNamesOf(parsed map[string]threatmodel.Evidence) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range parsed {
		if e.Kind == threatmodel.EvidenceCheck && !seen[e.Test] {
			seen[e.Test] = true
			out = append(out, e.Test)
		}
	}
	sort.Strings(out)
	return out
}

func platformNamesOf(m *threatmodel.Model) []string {
	var out []string
	for _, c := range m.Controls {
		if c.Kind == threatmodel.ControlPlatform && c.Check != "" && !slices.Contains(out, c.Check) {
			out = append(out, c.Check)
		}
	}
	sort.Strings(out)
	return out
}

// platformResult is a platform check's outcome: err set when it was not verifiable.
type platformResult struct {
	holds  bool
	detail string
	err    error
}

// runPlatform runs a platform check; a check the pipeline does not provide, or one that
// panics, is not verifiable.
func runPlatform(ctx context.Context, chk PlatformCheck) (res platformResult) {
	if chk == nil {
		return platformResult{err: errors.New("the pipeline provides no such platform check")}
	}
	defer func() {
		if v := recover(); v != nil {
			res = platformResult{err: fmt.Errorf("platform check panicked: %v", v)}
		}
	}()
	res.holds, res.detail, res.err = chk(ctx)
	return res
}

// checkResult is what a check said.
type checkResult struct {
	detail string
	err    error
}

// safeCheck runs a check, turning a panic into a failure.
func safeCheck(ctx context.Context, c Check) (res checkResult) {
	defer func() {
		if v := recover(); v != nil {
			res.err = fmt.Errorf("check panicked: %v", v)
		}
	}()
	res.detail, res.err = c(ctx)
	return res
}

// revision returns HEAD and whether the work tree is dirty.
func revision(ctx context.Context, o Options) (string, bool) {
	rev := o.Revision
	if rev == "" {
		out, err := exec.CommandContext(ctx, "git", "-C", o.Root, "rev-parse", "HEAD").Output() // #nosec G204 -- fixed git command; the root is the operator's
		if err != nil {
			return "", false
		}
		rev = strings.TrimSpace(string(out))
	}
	if o.Dirty != nil {
		return rev, *o.Dirty
	}
	out, err := exec.CommandContext(ctx, "git", "-C", o.Root, "status", "--porcelain", "--untracked-files=normal").Output() // #nosec G204 -- fixed git command; the root is the operator's
	return rev, err != nil || len(strings.TrimSpace(string(out))) > 0
}

func relTo(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
