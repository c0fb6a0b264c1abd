package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// policyDir is the repository's policy/repo.
func policyDir(tb testing.TB) string {
	tb.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "policy", "repo"))
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

func mustWrite(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func TestParseDirective(t *testing.T) {
	tests := []struct {
		name, args    string
		rules         []string
		justification string
		valid         bool
	}{
		{"rules and justification", " G304 G306 -- paths come from the operator", []string{"G304", "G306"}, "paths come from the operator", true},
		{"bare", "", []string{}, "", false},
		{"rule without justification", " G304", []string{"G304"}, "", false},
		{"empty justification", " G304 --   ", []string{"G304"}, "", false},
		{"justification without rule", " -- trust me", []string{}, "trust me", false},
		{"extra dashes", " G101 --- not a credential: a variable name", []string{"G101"}, "not a credential: a variable name", true},
		{"rule ids only before --", " G104 -- see G304", []string{"G104"}, "see G304", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := ParseDirective("f.go", 3, "#nosec"+tt.args, tt.args)
			if !reflect.DeepEqual(d.Rules, tt.rules) || d.Justification != tt.justification || d.Valid != tt.valid {
				t.Errorf("got rules %q justification %q valid %v", d.Rules, d.Justification, d.Valid)
			}
		})
	}
}

func TestFindDirectives(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.go")
	mustWrite(t, path, `package a

import "os"

// Read reads. A comment that mentions #nosec mid-sentence is not a directive.
func Read(p string) ([]byte, error) {
	return os.ReadFile(p) // #nosec G304 -- the caller validated p
}

func Bare(p string) ([]byte, error) {
	return os.ReadFile(p) // #nosec
}

/*
 #nosec G101 -- in a block comment, on line 15
*/
const x = 1

//gosec:disable G115 -- a disable directive
var y = 2
`)
	dirs, err := findDirectives(dir, []string{path})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, d := range dirs {
		got = append(got, strings.Join([]string{d.File, itoa(d.Line), strings.Join(d.Rules, ","), d.Justification, boolStr(d.Valid)}, "|"))
	}
	want := []string{
		"a.go|7|G304|the caller validated p|true",
		"a.go|11|||false",
		"a.go|15|G101|in a block comment, on line 15|true",
		"a.go|19|G115|a disable directive|true",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("directives:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func FuzzParseDirective(f *testing.F) {
	for _, s := range []string{"", " G304 -- why", " -- x", " G1 G12 G123 G1234 -- y", "----", " G304 --", "G304--G305"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, args string) {
		d := ParseDirective("f.go", 1, "#nosec"+args, args)
		if d.Valid != (len(d.Rules) > 0 && d.Justification != "") {
			t.Fatalf("valid %v with rules %q and justification %q", d.Valid, d.Rules, d.Justification)
		}
		for _, r := range d.Rules {
			if !ruleIDRE.MatchString(r) || len(r) != 4 {
				t.Fatalf("rule %q", r)
			}
		}
		if d.Justification != strings.TrimSpace(d.Justification) {
			t.Fatalf("justification %q not trimmed", d.Justification)
		}
	})
}

// TestPolicyOverParsedFiles runs the real policy/repo over real text through the parsers.
func TestPolicyOverParsedFiles(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "Dockerfile"), "FROM golang:1.26 AS build\nRUN go build -o /app .\nFROM scratch\nCOPY --from=build /app /app\nENTRYPOINT [\"/app\"]\n")
	mustWrite(t, filepath.Join(root, ".github", "workflows", "bad.yml"), `on: pull_request
jobs:
  t:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - run: |
          echo hello
          echo "${{ github.event.pull_request.title }}"
`)
	mustWrite(t, filepath.Join(root, ".github", "workflows", "broken.yaml"), "jobs: [\n")
	r, err := Run(context.Background(), Options{Root: root, PolicyDir: policyDir(t), Only: []string{GroupPolicy}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range r.Findings {
		got[f.File+":"+itoa(f.Line)+":"+f.Rule] = true
	}
	for _, want := range []string{
		"Dockerfile:1:DF001",
		"Dockerfile:3:DF002",
		".github/workflows/bad.yml:1:GHA003",
		".github/workflows/bad.yml:6:GHA001",
		".github/workflows/bad.yml:9:GHA008",
		".github/workflows/broken.yaml:1:SCAN-PARSE",
	} {
		if !got[want] {
			t.Errorf("missing %s in %v", want, got)
		}
	}
	if r.Passed || r.Check(CheckDockerfilePolicy).Passed || r.Check(CheckWorkflowPolicy).Passed || r.Check(CheckGosec).Ran {
		t.Errorf("checks: %+v", r.Checks)
	}
}

func TestPolicyFailsClosed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := LoadPolicy(ctx, dir); err == nil {
		t.Error("an empty policy directory loaded")
	}
	// A policy that defines nothing for the queries is an error, not a pass.
	mustWrite(t, filepath.Join(dir, "x.rego"), "package other\n\nallow := true\n")
	p, err := LoadPolicy(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Dockerfile(ctx, map[string]any{"instructions": []any{}}); err == nil {
		t.Error("undefined data.repo.dockerfile.deny passed")
	}
	// A deny without a code cannot be reported: an error, not a silent pass.
	mustWrite(t, filepath.Join(dir, "y.rego"), "package repo.workflow\n\ndeny contains \"just text\"\n")
	p, err = LoadPolicy(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Workflow(ctx, map[string]any{}); err == nil {
		t.Error("a malformed deny passed")
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{{Severity: "critical"}, {Confidence: "sure"}, {Only: []string{"trivy"}}} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestSARIF(t *testing.T) {
	r := &Report{
		Findings: []Finding{
			{Check: CheckGosec, Rule: "G402", Severity: "HIGH", Confidence: "HIGH", CWE: "295", File: "a/b.go", Line: 7, Column: 3, Message: "TLS InsecureSkipVerify set true."},
			{Check: CheckWorkflowPolicy, Rule: "GHA001", Severity: "HIGH", File: ".github/workflows/ci.yml", Line: 12, Message: "not pinned"},
			{Check: CheckDockerfilePolicy, Rule: "DF000", Severity: "HIGH", File: "Dockerfile", Message: "no FROM"},
		},
		Suppressed: []Suppressed{{Finding: Finding{Check: CheckGosec, Rule: "G304", Severity: "MEDIUM", File: "c.go", Line: 2}, Justification: "why"}},
	}
	var buf bytes.Buffer
	if err := r.Write(&buf, "sarif"); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID         string         `json:"id"`
						Properties map[string]any `json:"properties"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
						Region           *struct{ StartLine, StartColumn int }
					} `json:"physicalLocation"`
				} `json:"locations"`
				Suppressions []struct{ Kind, Justification string } `json:"suppressions"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != 4 {
		t.Fatalf("log: %s", buf.String())
	}
	run := log.Runs[0]
	for _, res := range run.Results {
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("ruleIndex of %s points at %s", res.RuleID, run.Tool.Driver.Rules[res.RuleIndex].ID)
		}
	}
	g := run.Results[0]
	if g.RuleID != "gosec/G402" || g.Level != "error" || g.Locations[0].PhysicalLocation.ArtifactLocation.URI != "a/b.go" ||
		g.Locations[0].PhysicalLocation.Region == nil || g.Locations[0].PhysicalLocation.Region.StartLine != 7 {
		t.Errorf("gosec result: %+v", g)
	}
	if run.Results[2].Locations[0].PhysicalLocation.Region != nil {
		t.Error("a finding without a line got a region")
	}
	if s := run.Results[3].Suppressions; len(s) != 1 || s[0].Kind != "inSource" || s[0].Justification != "why" {
		t.Errorf("suppressed result: %+v", run.Results[3])
	}
	for _, rule := range run.Tool.Driver.Rules {
		if rule.ID == "gosec/G402" && !reflect.DeepEqual(rule.Properties["tags"], []any{"security", "gosec", "external/cwe/cwe-295"}) {
			t.Errorf("tags: %v", rule.Properties["tags"])
		}
	}
}

func TestTextReport(t *testing.T) {
	r := &Report{
		Checks:     []CheckResult{{Name: CheckGosec, Ran: true, Findings: 1}, {Name: CheckNosec, Ran: true, Passed: true}},
		Findings:   []Finding{{Check: CheckGosec, Rule: "G402", Severity: "HIGH", Confidence: "HIGH", CWE: "295", File: "a/b.go", Line: 7, Column: 3, Message: "TLS\nInsecureSkipVerify set true."}},
		Directives: []Directive{{File: "c.go", Line: 2, Rules: []string{"G304"}, Justification: "why", Valid: true, Suppresses: []string{"G304 at line 2"}}, {File: "d.go", Line: 9, Rules: []string{}}},
	}
	var buf bytes.Buffer
	r.WriteText(&buf)
	out := buf.String()
	for _, want := range []string{
		"FAIL gosec", "ok   nosec",
		"a/b.go:7:3: G402 HIGH/HIGH CWE-295  TLS InsecureSkipVerify set true.",
		"c.go:2: G304 -- why  (suppresses G304 at line 2)",
		"✗ d.go:9:  -- (no justification)",
		"FAIL: 1 finding(s), 2 #nosec",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	if err := r.Write(&buf, "xml"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestCheckFuncs(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "Dockerfile"), "FROM scratch\nUSER 0\n")
	mustWrite(t, filepath.Join(root, "policy", "repo", "p.rego"), "package repo.dockerfile\n\ndeny contains {\"code\": \"X1\", \"msg\": \"no\", \"line\": 2} if input.instructions[1].args[0] == \"0\"\n")
	mustWrite(t, filepath.Join(root, "policy", "repo", "w.rego"), "package repo.workflow\n\ndeny := set()\n")
	checks := CheckFuncs(root)
	ctx := context.Background()
	err := checks[CheckDockerfilePolicy](ctx)
	if err == nil || !strings.Contains(err.Error(), "Dockerfile:2: X1 no") {
		t.Errorf("dockerfile-policy: %v", err)
	}
	if err := checks[CheckWorkflowPolicy](ctx); err != nil {
		t.Errorf("workflow-policy with no workflows: %v", err)
	}
	if err := checks[CheckActionlint](ctx); err != nil {
		t.Errorf("actionlint with no workflows: %v", err)
	}
	for _, name := range []string{CheckGosec, CheckNosec} {
		if _, ok := checks[name]; !ok {
			t.Errorf("no %s check", name)
		}
	}
}
