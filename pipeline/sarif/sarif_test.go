package sarif_test

import (
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/pipeline/controls"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/sarif"
	"github.com/secure-movie-service/sms/pipeline/scan"
	"github.com/secure-movie-service/sms/pipeline/vuln"
)

// TestEveryProducedLogHasWhatCodeScanningNeeds renders the SARIF of pipeline scan, pipeline
// controls and pipeline vuln and checks, on the bytes as written, that the driver has a
// name, version and informationUri and every rule a result references has
// shortDescription, fullDescription and help (GitHub refuses reports without them).
func TestEveryProducedLogHasWhatCodeScanningNeeds(t *testing.T) {
	scanReport := &scan.Report{
		Findings: []scan.Finding{
			{Check: scan.CheckGosec, Rule: "G402", Severity: "HIGH", Confidence: "HIGH", CWE: "295", File: "a/b.go", Line: 7, Message: "TLS InsecureSkipVerify set true."},
			{Check: scan.CheckGosec, Rule: "G115", Severity: "HIGH", CWE: "190", File: "a/c.go", Line: 3, Message: "integer overflow conversion"},
			{Check: scan.CheckNosec, Rule: "NOSEC001", Severity: "MEDIUM", File: "a/d.go", Line: 2, Message: "no justification"},
			{Check: scan.CheckWorkflowPolicy, Rule: "GHA001", Severity: "HIGH", File: ".github/workflows/ci.yml", Line: 12, Message: "not pinned"},
			{Check: scan.CheckDockerfilePolicy, Rule: "DF000", Severity: "HIGH", File: "Dockerfile", Message: "no FROM"},
			{Check: scan.CheckActionlint, Rule: "expression", Severity: "MEDIUM", File: ".github/workflows/ci.yml", Line: 3, Message: "bad"},
		},
		Suppressed: []scan.Suppressed{{Finding: scan.Finding{Check: scan.CheckGosec, Rule: "G304", Severity: "MEDIUM", File: "c.go", Line: 2}, Justification: "why"}},
	}
	var scanOut bytes.Buffer
	if err := scanReport.Write(&scanOut, "sarif"); err != nil {
		t.Fatal(err)
	}
	ctlReport := &controls.Report{Model: "threatmodel/threatmodel.yaml"}
	for _, r := range controls.Rules {
		ctlReport.Findings = append(ctlReport.Findings, controls.Finding{Rule: r.ID, Control: "C-X-01", Line: 10, Message: r.Text})
	}
	ctlOut, err := ctlReport.SARIF()
	if err != nil {
		t.Fatal(err)
	}
	f := vuln.Finding{ID: "GO-2026-0001", Aliases: []string{"CVE-2026-1"}, Summary: "bad parse", Module: "example.com/m",
		Version: "v1.0.0", FixedVersion: "v1.0.1", Level: predicate.LevelCalled, Symbols: []string{"m.Parse"},
		CallSites: []vuln.CallSite{{File: "main.go", Line: 9}}, Target: ".", Product: "example.com/app"}
	info := f
	info.ID, info.Level, info.CallSites = "GO-2026-0002", predicate.LevelRequired, nil
	vulnReport := &vuln.Report{Scanner: vuln.Scanner{URI: "pkg:golang/golang.org/x/vuln@v1.9.0", Version: "v1.9.0"},
		DB: vuln.DB{URI: "file:///db", Modified: time.Now(), Version: "v0.0.0-x"}, Mode: vuln.ModeSource,
		Findings: []vuln.Finding{f}, Informational: []vuln.Finding{info}}
	var vulnOut bytes.Buffer
	if err := vulnReport.Write(&vulnOut, "sarif"); err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string][]byte{"scan": scanOut.Bytes(), "controls": ctlOut, "vuln": vulnOut.Bytes()} {
		t.Run(name, func(t *testing.T) {
			var log sarif.Log
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&log); err != nil {
				t.Fatal(err)
			}
			if len(log.Runs) != 1 || len(log.Runs[0].Results) == 0 {
				t.Fatalf("want one run with results: %s", raw)
			}
			if err := log.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if !strings.Contains(vulnOut.String(), `"uri": "go.mod"`) && !strings.Contains(vulnOut.String(), `"uri": "main.go"`) {
		t.Errorf("vuln results are not located at go.mod or the call site: %s", vulnOut.String())
	}
}

// TestCheckRefusesWhatCodeScanningRefuses makes sure Check itself fails on each omission.
func TestCheckRefusesWhatCodeScanningRefuses(t *testing.T) {
	good := func() *sarif.Log {
		rule := sarif.Rule{ID: "R1", ShortDescription: sarif.Message{Text: "s"}, FullDescription: sarif.Message{Text: "f"}, Help: sarif.Message{Text: "h"}}
		return sarif.New(sarif.Driver{Name: "t", Version: "1", InformationURI: "https://x", Rules: []sarif.Rule{rule}},
			[]sarif.Result{{RuleID: "R1", Level: "error", Message: sarif.Message{Text: "m"}, Locations: []sarif.Location{sarif.At("a.go", 1, 0)}}})
	}
	if err := good().Check(); err != nil {
		t.Fatal(err)
	}
	for name, spoil := range map[string]func(*sarif.Log){
		"no version":         func(l *sarif.Log) { l.Runs[0].Tool.Driver.Version = "" },
		"no informationUri":  func(l *sarif.Log) { l.Runs[0].Tool.Driver.InformationURI = "" },
		"no fullDescription": func(l *sarif.Log) { l.Runs[0].Tool.Driver.Rules[0].FullDescription.Text = "" },
		"no help":            func(l *sarif.Log) { l.Runs[0].Tool.Driver.Rules[0].Help.Text = "" },
		"unknown rule":       func(l *sarif.Log) { l.Runs[0].Results[0].RuleID = "R2" },
		"no location":        func(l *sarif.Log) { l.Runs[0].Results[0].Locations = nil },
		"bad rule index":     func(l *sarif.Log) { l.Runs[0].Results[0].RuleIndex = 5 },
	} {
		l := good()
		spoil(l)
		if err := l.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestImportsOnlyTheStandardLibrary keeps the package a leaf every reporter can use.
func TestImportsOnlyTheStandardLibrary(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s", name, p)
			}
		}
	}
}
