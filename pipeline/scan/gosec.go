package scan

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/securego/gosec/v2"
	"github.com/securego/gosec/v2/analyzers"
	"github.com/securego/gosec/v2/issue"
	"github.com/securego/gosec/v2/rules"
)

// goPackage is one package directory to scan.
type goPackage struct {
	Dir   string
	Files []string // absolute paths of the files gosec reads
}

// listPackages resolves the patterns with `go list` in the root (workspace mode when a go.work is
// there), keeping packages that have files to scan.
func listPackages(ctx context.Context, o Options) ([]goPackage, error) {
	const tmpl = `{{.Dir}}{{"\t"}}{{join .GoFiles " "}}{{"\t"}}{{join .CgoFiles " "}}{{"\t"}}{{join .TestGoFiles " "}}{{"\t"}}{{join .XTestGoFiles " "}}`
	args := append([]string{"list", "-e", "-find", "-f", tmpl}, o.Patterns...)
	cmd := exec.CommandContext(ctx, "go", args...) // #nosec G204 -- the program is "go"; the patterns go to go list, never to a shell
	cmd.Dir = o.Root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w: %s", strings.Join(o.Patterns, " "), err, strings.TrimSpace(stderr.String()))
	}
	var pkgs []goPackage
	// Only newlines are trimmed: a line ends in tabs when a package has no test files.
	for _, line := range strings.Split(strings.TrimRight(string(out), "\r\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 || f[0] == "" {
			continue
		}
		p := goPackage{Dir: f[0]}
		cols := []string{f[1], f[2]}
		if o.Tests {
			cols = append(cols, f[3], f[4])
		}
		for _, c := range cols {
			for _, name := range strings.Fields(c) {
				p.Files = append(p.Files, filepath.Join(p.Dir, name))
			}
		}
		if len(p.Files) > 0 {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs, nil
}

func score(s string) (issue.Score, error) {
	switch strings.ToLower(s) {
	case "low":
		return issue.Low, nil
	case "medium":
		return issue.Medium, nil
	case "high":
		return issue.High, nil
	}
	return issue.Low, fmt.Errorf("%q is not low, medium or high", s)
}

// runGosec runs gosec's rules and SSA analyzers over the packages and the #nosec check over
// their files.
func runGosec(ctx context.Context, o Options, r *Report) error {
	start := time.Now()
	pkgs, err := listPackages(ctx, o)
	if err != nil {
		return fmt.Errorf("gosec: %w", err)
	}
	if len(pkgs) == 0 {
		return fmt.Errorf("gosec: no Go packages match %s in %s", strings.Join(o.Patterns, " "), o.Root)
	}
	invalid, err := checkNosec(o, r, pkgs)
	if err != nil {
		return err
	}
	before := len(r.Findings)
	issues, metrics, gerrs, err := analyze(o, pkgs)
	if err != nil {
		return fmt.Errorf("gosec: %w", err)
	}
	r.addIssues(o, issues)
	r.addErrors(o, gerrs, invalid)
	r.Packages += len(pkgs)
	if metrics != nil {
		r.GoFiles, r.GoLines = metrics.NumFiles, metrics.NumLines
	}
	r.addCheck(CheckGosec, before, time.Since(start).Seconds(),
		fmt.Sprintf("%d packages, %d files, %d lines; %d findings below %s", len(pkgs), r.GoFiles, r.GoLines, r.BelowThreshold, r.Severity))
	return nil
}

// checkNosec reads every suppression directive of the packages' files (independently of gosec's
// own parsing), reports those without rules or a justification, and returns where they are.
func checkNosec(o Options, r *Report, pkgs []goPackage) (map[string]bool, error) {
	before := len(r.Findings)
	var files []string
	for _, p := range pkgs {
		files = append(files, p.Files...)
	}
	dirs, err := findDirectives(o.Root, files)
	if err != nil {
		return nil, fmt.Errorf("nosec: %w", err)
	}
	r.Directives = append(r.Directives, dirs...)
	invalid := map[string]bool{}
	for _, d := range dirs {
		if !d.Valid {
			invalid[d.File+":"+strconv.Itoa(d.Line)] = true
			r.Findings = append(r.Findings, Finding{
				Check: CheckNosec, Rule: "NOSEC001", Severity: "HIGH", File: d.File, Line: d.Line,
				Message: "#nosec without " + missing(d) + ": write `#nosec G123 -- why this is safe` so the suppression can be reviewed",
			})
		}
	}
	r.addCheck(CheckNosec, before, 0, fmt.Sprintf("%d directives", len(dirs)))
	return invalid, nil
}

// analyze runs gosec's rules and analyzers over the packages' directories.
func analyze(o Options, pkgs []goPackage) ([]*issue.Issue, *gosec.Metrics, map[string][]gosec.Error, error) {
	conf := gosec.NewConfig()
	// A directive without rules or justification suppresses nothing (and gosec reports it).
	conf.SetGlobal(gosec.NoSecRequireRules, "true")
	conf.SetGlobal(gosec.NoSecRequireJustification, "true")
	logger := log.New(io.Discard, "", 0)
	analyzer := gosec.NewAnalyzer(conf, o.Tests, false, true, max(1, runtime.GOMAXPROCS(0)), logger)
	analyzer.LoadRules(rules.Generate(true).RulesInfo())
	analyzer.LoadAnalyzers(analyzers.Generate(true).AnalyzersInfo())
	var paths []string
	for _, p := range pkgs {
		paths = append(paths, p.Dir)
	}
	if err := analyzer.Process(nil, paths...); err != nil {
		return nil, nil, nil, err
	}
	issues, metrics, gerrs := analyzer.Report()
	return issues, metrics, gerrs, nil
}

// addIssues files gosec's issues: each once, suppressed (with its justification), below
// the thresholds, or a finding.
func (r *Report) addIssues(o Options, issues []*issue.Issue) {
	minSev, _ := score(o.Severity)
	minConf, _ := score(o.Confidence)
	seen := map[string]bool{}
	for _, is := range issues {
		f := Finding{
			Check: CheckGosec, Rule: is.RuleID, Severity: is.Severity.String(), Confidence: is.Confidence.String(),
			File: rel(o.Root, is.File), Line: firstInt(is.Line), Column: firstInt(is.Col), Message: is.What,
		}
		if is.Cwe != nil {
			f.CWE = is.Cwe.ID
		}
		key := fmt.Sprintf("%s:%d:%d:%s", f.File, f.Line, f.Column, f.Rule)
		if seen[key] {
			continue // the same issue reported by a rule and an analyzer, or twice by one
		}
		seen[key] = true
		switch {
		case len(is.Suppressions) > 0:
			just := is.Suppressions[0].Justification
			r.Suppressed = append(r.Suppressed, Suppressed{Finding: f, Justification: just})
			attach(r.Directives, f, just)
		case is.Severity < minSev || is.Confidence < minConf:
			r.BelowThreshold++
		default:
			r.Findings = append(r.Findings, f)
		}
	}
}

// addErrors reports the files gosec could not analyse as findings, but for the invalid
// suppression directives that checkNosec already reported.
func (r *Report) addErrors(o Options, gerrs map[string][]gosec.Error, invalid map[string]bool) {
	errFiles := make([]string, 0, len(gerrs))
	for file := range gerrs {
		errFiles = append(errFiles, file)
	}
	sort.Strings(errFiles)
	for _, file := range errFiles {
		if file == "" && len(errFiles) > 1 {
			continue // a package-level summary of the per-file errors reported below
		}
		for _, e := range gerrs[file] {
			f := Finding{Check: CheckGosec, Rule: "gosec-error", Severity: "HIGH", File: rel(o.Root, file), Line: e.Line, Column: e.Column,
				Message: "gosec could not analyse this: " + e.Err}
			if f.File == "" {
				f.File = "go.mod" // SARIF needs a file; the module is the closest thing
			}
			if strings.Contains(e.Err, "nosec directive") && invalid[f.File+":"+strconv.Itoa(f.Line)] {
				continue // already reported by the nosec check
			}
			r.Findings = append(r.Findings, f)
		}
	}
}

func missing(d Directive) string {
	switch {
	case len(d.Rules) == 0 && d.Justification == "":
		return "a rule id and a justification"
	case len(d.Rules) == 0:
		return "a rule id"
	}
	return "a justification"
}

// attach records a suppressed finding on the directive that hid it: the nearest valid directive
// at or above the finding's line in the same file with that rule and justification.
func attach(dirs []Directive, f Finding, just string) {
	best := -1
	for i, d := range dirs {
		if d.File != f.File || !d.Valid || d.Justification != just || d.Line > f.Line || !contains(d.Rules, f.Rule) {
			continue
		}
		if best < 0 || d.Line > dirs[best].Line {
			best = i
		}
	}
	if best >= 0 {
		dirs[best].Suppresses = append(dirs[best].Suppresses, fmt.Sprintf("%s at line %d", f.Rule, f.Line))
	}
}

// firstInt reads "12" or "12-14" as 12.
func firstInt(s string) int {
	s, _, _ = strings.Cut(s, "-")
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}
