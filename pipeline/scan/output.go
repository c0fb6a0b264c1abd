package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
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
		return encodeJSON(w, r.SARIF())
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

// SARIF 2.1.0, the subset GitHub code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	ShortDescription sarifText      `json:"shortDescription"`
	Properties       map[string]any `json:"properties"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID       string             `json:"ruleId"`
	RuleIndex    int                `json:"ruleIndex"`
	Level        string             `json:"level"`
	Message      sarifText          `json:"message"`
	Locations    []sarifLocation    `json:"locations"`
	Suppressions []sarifSuppression `json:"suppressions,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification"`
}

// SARIF renders the findings, and the gosec findings hidden by #nosec as suppressed results.
func (r *Report) SARIF() any {
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
	ruleIndex := map[string]int{}
	var rules []sarifRule
	var ids []string
	first := map[string]Finding{}
	for _, e := range all {
		id := ruleID(e.f)
		if _, ok := first[id]; !ok {
			first[id] = e.f
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		f := first[id]
		props := map[string]any{"tags": tags(f), "security-severity": securitySeverity(f.Severity)}
		ruleIndex[id] = len(rules)
		rules = append(rules, sarifRule{ID: id, ShortDescription: sarifText{Text: describe(f)}, Properties: props})
	}
	results := []sarifResult{}
	for _, e := range all {
		id := ruleID(e.f)
		res := sarifResult{
			RuleID: id, RuleIndex: ruleIndex[id], Level: level(e.f.Severity),
			Message: sarifText{Text: oneLine(e.f.Message)},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: e.f.File, URIBaseID: "%SRCROOT%"},
			}}},
		}
		if e.f.Line > 0 {
			res.Locations[0].PhysicalLocation.Region = &sarifRegion{StartLine: e.f.Line, StartColumn: e.f.Column}
		}
		if e.supp {
			res.Suppressions = []sarifSuppression{{Kind: "inSource", Justification: e.just}}
		}
		results = append(results, res)
	}
	if rules == nil {
		rules = []sarifRule{}
	}
	return sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool: sarifTool{Driver: sarifDriver{
				Name:           "pipeline scan",
				InformationURI: "https://github.com/secure-movie-service/sms/blob/main/SECURITY.md",
				Rules:          rules,
			}},
			Results: results,
		}},
	}
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
