package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/securego/gosec/v2/analyzers"
	"github.com/securego/gosec/v2/cwe"
	"github.com/securego/gosec/v2/rules"

	"github.com/secure-movie-service/sms/pipeline/buildinfo"
	"github.com/secure-movie-service/sms/pipeline/sarif"
)

// Formats the report renders in.
var Formats = []string{"text", "json", "sarif"}

// Write renders the report.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "text":
		r.WriteText(w)
		return nil
	case "json":
		return encodeJSON(w, r)
	case "sarif":
		return r.SARIF().Write(w)
	}
	return fmt.Errorf("%w: format %q (want %s)", ErrUsage, format, strings.Join(Formats, ", "))
}

func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// WriteText writes the report for a person: one line per check, then every finding as
// file:line: rule message, then every #nosec with its justification.
func (r *Report) WriteText(w io.Writer) {
	for _, c := range r.Checks {
		status := "ok  "
		if !c.Passed {
			status = "FAIL"
		}
		fmt.Fprintf(w, "%s %-18s %3d finding(s)  %s (%.1fs)\n", status, c.Name, c.Findings, c.Detail, c.Seconds)
	}
	if len(r.Findings) > 0 {
		fmt.Fprintln(w, "\nfindings:")
		for _, f := range r.Findings {
			fmt.Fprintf(w, "  %s: %s %s", location(f), f.Rule, f.Severity)
			if f.Confidence != "" {
				fmt.Fprintf(w, "/%s", f.Confidence)
			}
			if f.CWE != "" {
				fmt.Fprintf(w, " CWE-%s", f.CWE)
			}
			fmt.Fprintf(w, "  %s\n", oneLine(f.Message))
		}
	}
	if len(r.Directives) > 0 {
		fmt.Fprintln(w, "\n#nosec directives:")
		for _, d := range r.Directives {
			mark := "  "
			if !d.Valid {
				mark = "✗ "
			}
			fmt.Fprintf(w, "  %s%s:%d: %s -- %s", mark, d.File, d.Line, strings.Join(d.Rules, " "), orNone(d.Justification))
			if len(d.Suppresses) > 0 {
				fmt.Fprintf(w, "  (suppresses %s)", strings.Join(d.Suppresses, ", "))
			}
			fmt.Fprintln(w)
		}
	}
	verdict := "PASS"
	if !r.Passed {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\n%s: %d finding(s), %d #nosec, %d suppressed, %.1fs\n", verdict, len(r.Findings), len(r.Directives), len(r.Suppressed), r.Seconds)
}

func location(f Finding) string {
	switch {
	case f.Line > 0 && f.Column > 0:
		return fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column)
	case f.Line > 0:
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return f.File
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func orNone(s string) string {
	if s == "" {
		return "(no justification)"
	}
	return s
}

// SARIF renders the findings, and the gosec findings hidden by #nosec as suppressed results.
func (r *Report) SARIF() *sarif.Log {
	type entry struct {
		f    Finding
		just string
		supp bool
	}
	var all []entry
	for _, f := range r.Findings {
		all = append(all, entry{f: f})
	}
	for _, s := range r.Suppressed {
		all = append(all, entry{f: s.Finding, just: s.Justification, supp: true})
	}
	first := map[string]Finding{}
	var ids []string
	for _, e := range all {
		id := ruleID(e.f)
		if _, ok := first[id]; !ok {
			first[id] = e.f
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	driver := sarif.Driver{
		Name: "pipeline scan", Version: buildinfo.Version(),
		InformationURI: "https://github.com/secure-movie-service/sms/blob/main/SECURITY.md",
		Properties:     map[string]any{"gosecVersion": buildinfo.Dep(gosecModule), "actionlintVersion": buildinfo.Dep(actionlintModule)},
	}
	for _, id := range ids {
		driver.Rules = append(driver.Rules, sarifRule(id, first[id]))
	}
	var results []sarif.Result
	for _, e := range all {
		msg := oneLine(e.f.Message)
		if msg == "" {
			msg = describe(e.f)
		}
		res := sarif.Result{
			RuleID: ruleID(e.f), Level: level(e.f.Severity), Message: sarif.Message{Text: msg},
			Locations: []sarif.Location{sarif.At(e.f.File, e.f.Line, e.f.Column)},
		}
		if e.supp {
			res.Suppressions = []sarif.Suppression{{Kind: "inSource", Justification: e.just}}
		}
		results = append(results, res)
	}
	return sarif.New(driver, results)
}

// Modules whose versions the SARIF driver reports.
const (
	gosecModule      = "github.com/securego/gosec/v2"
	actionlintModule = "github.com/rhysd/actionlint"
)

// sarifRule describes the rule of finding f: short, full and help texts.
func sarifRule(id string, f Finding) sarif.Rule {
	short := describe(f)
	full, help := short+".", "Fix the finding, or (gosec only) justify it in place with `#nosec "+f.Rule+" -- <reason>`."
	switch f.Check {
	case CheckGosec:
		if d := gosecDescription(f.Rule); d != "" {
			short = "gosec " + f.Rule + ": " + d
			full = d + "."
		}
		if w := cwe.Get(f.CWE); w != nil {
			full += " CWE-" + w.ID + " " + w.Name + ": " + w.Description
			help += " See " + w.SprintURL() + "."
		}
	case CheckNosec:
		full = "Every #nosec (or //gosec:disable) comment must name the rules it suppresses and give a justification after --."
		help = "Write `#nosec G304 -- <why this is safe>`, naming the rule ids."
	case CheckDockerfilePolicy, CheckWorkflowPolicy:
		full = "Rule " + f.Rule + " of the repository policy (policy/repo) was violated, for example: " + oneLine(f.Message)
		help = "Read the rule " + f.Rule + " in policy/repo and change the file so that it holds."
	case CheckActionlint:
		full = "actionlint reported a " + f.Rule + " problem in a GitHub Actions workflow, for example: " + oneLine(f.Message)
		help = "See https://github.com/rhysd/actionlint/blob/main/docs/checks.md for the check " + f.Rule + "."
	}
	return sarif.Rule{
		ID: id, ShortDescription: sarif.Message{Text: short}, FullDescription: sarif.Message{Text: full},
		Help:       sarif.Message{Text: help, Markdown: help},
		Properties: map[string]any{"tags": tags(f), "security-severity": securitySeverity(f.Severity)},
	}
}

// gosecDescription is gosec's own one-line description of a rule or analyzer.
func gosecDescription(id string) string {
	if d, ok := rules.Generate(false).Rules[id]; ok {
		return d.Description
	}
	if d, ok := analyzers.Generate(false).Analyzers[id]; ok {
		return d.Description
	}
	return ""
}

func ruleID(f Finding) string {
	switch f.Check {
	case CheckGosec:
		return "gosec/" + f.Rule
	case CheckNosec:
		return "nosec/" + f.Rule
	case CheckDockerfilePolicy, CheckWorkflowPolicy:
		return "policy/" + f.Rule
	}
	return f.Check + "/" + f.Rule
}

func describe(f Finding) string {
	switch f.Check {
	case CheckGosec:
		return "gosec " + f.Rule
	case CheckNosec:
		return "#nosec without rule id or justification"
	case CheckDockerfilePolicy:
		return "policy/repo/dockerfile " + f.Rule
	case CheckWorkflowPolicy:
		return "policy/repo/workflow " + f.Rule
	}
	return "actionlint " + f.Rule
}

func tags(f Finding) []string {
	t := []string{"security", f.Check}
	if f.CWE != "" {
		t = append(t, "external/cwe/cwe-"+f.CWE)
	}
	return t
}

func level(sev string) string {
	switch sev {
	case "HIGH":
		return "error"
	case "MEDIUM":
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub's 0–10 scale: high ≥ 7, medium ≥ 4.
func securitySeverity(sev string) string {
	switch sev {
	case "HIGH":
		return "8.0"
	case "MEDIUM":
		return "5.5"
	}
	return "3.0"
}
