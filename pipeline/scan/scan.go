// Package scan is `pipeline scan`: the repository's static security checks in one run.
//
//   - gosec, used as a library, over the Go packages of the root and service modules; findings at
//     or above a severity (default medium) fail. Every #nosec directive must name its rules and
//     carry a justification ("#nosec G304 -- why"); all of them are listed in the report, and a
//     bare one is itself a failure.
//   - policy/repo (Rego, evaluated with OPA as a library) over the parsed Dockerfile and every
//     workflow: deny reasons with stable codes, file and line.
//   - actionlint, as a library, over the workflows.
//
// The report renders as text, JSON or SARIF 2.1.0 (one run; rule ids "gosec/G402",
// "policy/GHA001", "actionlint/expression", "nosec/NOSEC001"). Run returns an error only when a
// check could not run; findings are in the report.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Check names, as `check:<name>` evidence in the threat model refers to them.
const (
	CheckGosec            = "gosec"             // gosec findings at or above the severity threshold
	CheckNosec            = "nosec"             // every #nosec names rules and a justification
	CheckDockerfilePolicy = "dockerfile-policy" // policy/repo/dockerfile over the Dockerfile
	CheckWorkflowPolicy   = "workflow-policy"   // policy/repo/workflow over every workflow
	CheckActionlint       = "actionlint"        // actionlint over every workflow
)

// Groups of checks that Options.Only selects.
const (
	GroupGosec      = "gosec"      // CheckGosec and CheckNosec
	GroupPolicy     = "policy"     // CheckDockerfilePolicy and CheckWorkflowPolicy
	GroupActionlint = "actionlint" // CheckActionlint
)

// Groups lists every group in the order they run.
var Groups = []string{GroupGosec, GroupPolicy, GroupActionlint}

// Options configure a scan.
type Options struct {
	Root        string   // repository root; default "."
	Patterns    []string // Go package patterns relative to Root; default ./... and ./service/...
	Severity    string   // lowest gosec severity that fails: low, medium (default) or high
	Confidence  string   // lowest gosec confidence that counts: low (default), medium or high
	Tests       bool     // also scan _test.go files with gosec
	PolicyDir   string   // Rego rules; default <Root>/policy/repo
	Dockerfiles []string // relative to Root; default "Dockerfile"
	Workflows   string   // directory of workflows relative to Root; default .github/workflows
	Only        []string // groups to run (Groups); default all
	Progress    io.Writer
}

// Finding is one reason the scan fails.
type Finding struct {
	Check      string `json:"check"`                // one of the Check* names
	Rule       string `json:"rule"`                 // G402, NOSEC001, DF001, GHA008, expression, …
	Severity   string `json:"severity"`             // HIGH, MEDIUM or LOW
	Confidence string `json:"confidence,omitempty"` // gosec only
	CWE        string `json:"cwe,omitempty"`        // e.g. "295"
	File       string `json:"file"`                 // slash path relative to the root
	Line       int    `json:"line,omitempty"`       // 0: the file as a whole
	Column     int    `json:"column,omitempty"`
	Message    string `json:"message"`
}

// Directive is one #nosec (or //gosec:disable) comment.
type Directive struct {
	File          string   `json:"file"`
	Line          int      `json:"line"`
	Text          string   `json:"text"`
	Rules         []string `json:"rules"`
	Justification string   `json:"justification"`
	Valid         bool     `json:"valid"`      // names at least one rule and a justification
	Suppresses    []string `json:"suppresses"` // "G304 at line 76": what it hid in this scan
}

// Suppressed is a gosec finding hidden by a valid #nosec.
type Suppressed struct {
	Finding
	Justification string `json:"justification"`
}

// CheckResult is the outcome of one check.
type CheckResult struct {
	Name     string  `json:"name"`
	Ran      bool    `json:"ran"`
	Passed   bool    `json:"passed"`
	Findings int     `json:"findings"`
	Seconds  float64 `json:"seconds"`
	Detail   string  `json:"detail"`
}

// Report is the outcome of a scan.
type Report struct {
	Root       string        `json:"root"`
	Passed     bool          `json:"passed"`
	Checks     []CheckResult `json:"checks"`
	Findings   []Finding     `json:"findings"`
	Directives []Directive   `json:"nosec"`
	Suppressed []Suppressed  `json:"suppressed"`
	// BelowThreshold counts gosec findings under Severity/Confidence (not failures).
	BelowThreshold int      `json:"below_threshold"`
	Severity       string   `json:"severity_threshold"`
	Packages       int      `json:"packages"`
	GoFiles        int      `json:"go_files"`
	GoLines        int      `json:"go_lines"`
	Dockerfiles    []string `json:"dockerfiles"`
	Workflows      []string `json:"workflows"`
	Seconds        float64  `json:"seconds"`
}

// ErrUsage marks bad options.
var ErrUsage = errors.New("usage")

func (o *Options) defaults() error {
	if o.Root == "" {
		o.Root = "."
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return err
	}
	o.Root = root
	if len(o.Patterns) == 0 {
		o.Patterns = []string{"./...", "./service/..."}
	}
	if o.Severity == "" {
		o.Severity = "medium"
	}
	if o.Confidence == "" {
		o.Confidence = "low"
	}
	if _, err := score(o.Severity); err != nil {
		return fmt.Errorf("%w: severity: %w", ErrUsage, err)
	}
	if _, err := score(o.Confidence); err != nil {
		return fmt.Errorf("%w: confidence: %w", ErrUsage, err)
	}
	if o.PolicyDir == "" {
		o.PolicyDir = filepath.Join(o.Root, "policy", "repo")
	}
	if o.Dockerfiles == nil {
		o.Dockerfiles = []string{"Dockerfile"}
	}
	if o.Workflows == "" {
		o.Workflows = filepath.Join(".github", "workflows")
	}
	if len(o.Only) == 0 {
		o.Only = Groups
	}
	for _, g := range o.Only {
		if !contains(Groups, g) {
			return fmt.Errorf("%w: unknown check group %q (want %s)", ErrUsage, g, strings.Join(Groups, ", "))
		}
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return nil
}

// Run runs the selected checks.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	start := time.Now()
	r := &Report{Root: o.Root, Severity: strings.ToUpper(o.Severity), Findings: []Finding{}, Directives: []Directive{}, Suppressed: []Suppressed{}}
	for _, g := range Groups {
		if !contains(o.Only, g) {
			continue
		}
		t := time.Now()
		var err error
		switch g {
		case GroupGosec:
			err = runGosec(ctx, o, r)
		case GroupPolicy:
			err = runPolicy(ctx, o, r)
		case GroupActionlint:
			err = runActionlint(o, r)
		}
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Progress, "scan: %s done in %.1fs\n", g, time.Since(t).Seconds())
	}
	r.finish()
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// addCheck records a check's result from the findings it added.
func (r *Report) addCheck(name string, before int, seconds float64, detail string) {
	n := 0
	for _, f := range r.Findings[before:] {
		if f.Check == name {
			n++
		}
	}
	r.Checks = append(r.Checks, CheckResult{Name: name, Ran: true, Passed: n == 0, Findings: n, Seconds: seconds, Detail: detail})
}

func (r *Report) finish() {
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Rule < b.Rule
	})
	sort.SliceStable(r.Directives, func(i, j int) bool {
		if r.Directives[i].File != r.Directives[j].File {
			return r.Directives[i].File < r.Directives[j].File
		}
		return r.Directives[i].Line < r.Directives[j].Line
	})
	// Every check counts its findings, including ones recorded by another step.
	for i := range r.Checks {
		n := 0
		for _, f := range r.Findings {
			if f.Check == r.Checks[i].Name {
				n++
			}
		}
		r.Checks[i].Findings, r.Checks[i].Passed = n, n == 0
	}
	r.Passed = len(r.Findings) == 0
	for _, c := range r.Checks {
		r.Passed = r.Passed && c.Passed
	}
}

// Check returns the result of a named check (Ran false when it did not run).
func (r *Report) Check(name string) CheckResult {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return CheckResult{Name: name}
}

// rel turns a path into a slash path relative to the root when it is inside it.
func rel(root, p string) string {
	if !filepath.IsAbs(p) {
		return filepath.ToSlash(p)
	}
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return filepath.ToSlash(p)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readFile reads a repository file, bounded: scanned files are untrusted input.
func readFile(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p) // #nosec G304 -- the scan reads the files of the repository it was pointed at
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, limit)
	}
	return b, nil
}
