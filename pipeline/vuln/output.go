package vuln

import (
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/pipeline/buildinfo"
	"github.com/secure-movie-service/sms/pipeline/sarif"
)

// Formats the report renders in.
var Formats = []string{"text", "json", "sarif", "openvex"}

// Write renders the report as text, json (the Report), sarif or openvex.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "text":
		r.WriteText(w)
		return nil
	case "json":
		return encode(w, r)
	case "sarif":
		return r.SARIF().Write(w)
	case "openvex":
		return encode(w, r.OpenVEX())
	}
	return fmt.Errorf("format %q (want %s)", format, strings.Join(Formats, ", "))
}

func encode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// SARIF renders every finding as a result: called ones as errors (waived ones suppressed
// externally, naming the VEX statement), informational ones as notes. A result sits at its
// call site when the trace has one, else at the go.mod of the scanned module (source mode).
func (r *Report) SARIF() *sarif.Log {
	driver := sarif.Driver{Name: "govulncheck", Version: r.Scanner.Version, InformationURI: "https://go.dev/security/vuln/",
		Properties: map[string]any{"database": r.DB.URI, "databaseModified": r.DB.Modified.Format(time.RFC3339),
			"databaseVersion": r.DB.Version, "pipelineVersion": buildinfo.Version()}}
	seen := map[string]bool{}
	var results []sarif.Result
	add := func(fs []Finding, level string) {
		for _, f := range fs {
			if !seen[f.ID] {
				seen[f.ID] = true
				driver.Rules = append(driver.Rules, vulnRule(f))
			}
			res := sarif.Result{RuleID: f.ID, Level: level, Message: sarif.Message{Text: f.Line()},
				Locations: []sarif.Location{r.location(f)}}
			if f.WaivedBy != nil {
				res.Suppressions = []sarif.Suppression{{Kind: "external", Justification: f.WaivedBy.String() + ": " + f.WaivedBy.ImpactStatement}}
			}
			results = append(results, res)
		}
	}
	add(r.Findings, "error")
	add(r.Waived, "error")
	add(r.Informational, "note")
	return sarif.New(driver, results)
}

// location is where code scanning shows a finding.
func (r *Report) location(f Finding) sarif.Location {
	if r.Mode == ModeBinary {
		return sarif.At(f.Target, 0, 0)
	}
	if len(f.CallSites) > 0 {
		c := f.CallSites[0]
		return sarif.At(path.Join(f.Target, c.File), c.Line, 0)
	}
	return sarif.At(path.Join(f.Target, "go.mod"), 0, 0)
}

func vulnRule(f Finding) sarif.Rule {
	summary := f.Summary
	if summary == "" {
		summary = "Known vulnerability in " + f.Module
	}
	url := "https://pkg.go.dev/vuln/" + f.ID
	fix := "No fixed version is published: remove the use, or record a justified, expiring OpenVEX statement in vex/ if the code is truly not affected."
	switch {
	case f.FixedVersion != "" && (f.Module == "stdlib" || f.Module == "toolchain"):
		fix = "Build with Go " + "go" + strings.TrimPrefix(f.FixedVersion, "v") + " or later (the standard library is fixed there)."
	case f.FixedVersion != "":
		fix = "Upgrade " + f.Module + " to " + f.FixedVersion + " or later."
	}
	full := fmt.Sprintf("%s: %s (%s). Aliases: %s.", f.ID, summary, f.Module, orDash(strings.Join(f.Aliases, ", ")))
	return sarif.Rule{
		ID: f.ID, ShortDescription: sarif.Message{Text: summary}, FullDescription: sarif.Message{Text: full},
		Help:    sarif.Message{Text: fix + " Details: " + url, Markdown: fix + "\n\nDetails: [" + f.ID + "](" + url + ")"},
		HelpURI: url, Properties: map[string]any{"tags": []string{"security", "vulnerability", f.Module}},
	}
}

// OpenVEX renders the report as an OpenVEX document: affected for unwaived called
// findings, not_affected for waived ones (with their statement's justification) and for
// informational ones (vulnerable_code_not_in_execute_path), as govulncheck -format openvex.
func (r *Report) OpenVEX() *VEXDocument {
	doc := &VEXDocument{Context: VEXContext, ID: "govulncheck/vex:" + r.Finished.UTC().Format(time.RFC3339Nano),
		Author: "pipeline vuln", Timestamp: r.Finished.UTC().Format(time.RFC3339), Version: 1,
		Tooling: "govulncheck " + r.Scanner.Version + " with " + r.DB.URI, Statements: []VEXStatement{}}
	add := func(f Finding, status, just, impact string) *VEXStatement {
		doc.Statements = append(doc.Statements, VEXStatement{
			Vulnerability: VEXVuln{ID: "https://pkg.go.dev/vuln/" + f.ID, Name: f.ID, Aliases: f.Aliases, Description: f.Summary},
			Products:      []VEXProduct{{ID: "pkg:golang/" + f.Product}},
			Status:        status, Justification: just, ImpactStatement: impact,
		})
		return &doc.Statements[len(doc.Statements)-1]
	}
	for _, f := range r.Findings {
		st := add(f, "affected", "", "")
		st.ActionStatement = "No fixed version is published; stop calling the vulnerable code."
		if f.FixedVersion != "" {
			st.ActionStatement = "Upgrade " + f.Module + " to " + f.FixedVersion + " or later."
		}
	}
	for _, f := range r.Waived {
		add(f, "not_affected", f.WaivedBy.Justification, f.WaivedBy.ImpactStatement)
	}
	for _, f := range r.Informational {
		add(f, "not_affected", "vulnerable_code_not_in_execute_path", "Govulncheck determined that the vulnerable code isn't called")
	}
	return doc
}
