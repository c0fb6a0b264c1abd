package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	scanSHA     = "de0fac2e4500dabe0009e67214ff5f5447ce83dd"
	scanBuilder = "golang:1.26.8-bookworm@sha256:dc9ad6c05acc7a88e5b71bde60a5fe3bd4b9f0db209011711b464107438a8107"
)

// scanGoodDockerfile passes every rule; each bad case changes one thing.
var scanGoodDockerfile = strings.Join([]string{
	"FROM " + scanBuilder + " AS build",                  // 1
	"ENV CGO_ENABLED=0",                                  // 2
	"RUN go build -trimpath -o /out/movies ./cmd/movies", // 3
	"FROM scratch",                                       // 4
	"COPY --from=build /out/movies /movies",              // 5
	"USER 65532:65532",                                   // 6
	`ENTRYPOINT ["/movies"]`,                             // 7
	"",
}, "\n")

// scanGoodWorkflow passes every rule.
var scanGoodWorkflow = `name: good
on: [push, pull_request]
permissions: {}
jobs:
  test:
    runs-on: ubuntu-24.04
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@` + scanSHA + ` # v6.0.2
        with:
          persist-credentials: false
      - env:
          TITLE: ${{ github.event.pull_request.title }}
        run: echo "$TITLE"
`

func scanReplaceLine(text string, line int, with string) string {
	lines := strings.Split(text, "\n")
	lines[line-1] = with
	return strings.Join(lines, "\n")
}

// TestScanPolicyRulesFailOnBadExamples: every policy/repo rule, through the real parsers and the
// real CLI, fails on its bad example with its code and the line of the offence; the good
// examples pass every rule.
func TestScanPolicyRulesFailOnBadExamples(t *testing.T) {
	policy := filepath.Join(repoRoot(t), "policy", "repo")
	tests := []struct {
		name       string
		dockerfile string
		workflow   string
		code       string
		file       string
		line       int
	}{
		{"good examples pass", scanGoodDockerfile, scanGoodWorkflow, "", "", 0},
		{"DF001 FROM without digest", scanReplaceLine(scanGoodDockerfile, 1, "FROM golang:1.26 AS build"), scanGoodWorkflow, "DF001", "Dockerfile", 1},
		{"DF002 missing USER", scanReplaceLine(scanGoodDockerfile, 6, "WORKDIR /"), scanGoodWorkflow, "DF002", "Dockerfile", 4},
		{"DF003 root USER", scanReplaceLine(scanGoodDockerfile, 6, "USER root"), scanGoodWorkflow, "DF003", "Dockerfile", 6},
		{"DF004 named USER", scanReplaceLine(scanGoodDockerfile, 6, "USER nonroot"), scanGoodWorkflow, "DF004", "Dockerfile", 6},
		{"DF005 ADD of a URL", scanReplaceLine(scanGoodDockerfile, 5, "ADD https://example.com/movies /movies"), scanGoodWorkflow, "DF005", "Dockerfile", 5},
		{"DF006 secret in ENV", scanReplaceLine(scanGoodDockerfile, 2, "ENV CGO_ENABLED=0 \\\n    DB_PASSWORD=hunter2"), scanGoodWorkflow, "DF006", "Dockerfile", 2},
		{"DF006 secret in ARG", scanReplaceLine(scanGoodDockerfile, 2, "ARG GITHUB_TOKEN"), scanGoodWorkflow, "DF006", "Dockerfile", 2},
		{"DF007 package manager in the final stage", scanReplaceLine(scanGoodDockerfile, 5, "RUN apk add --no-cache curl"), scanGoodWorkflow, "DF007", "Dockerfile", 5},
		{"DF008 unpinned syntax frontend", "# syntax=docker/dockerfile:1\n" + scanGoodDockerfile, scanGoodWorkflow, "DF008", "Dockerfile", 1},
		{"Dockerfile syntax error", scanReplaceLine(scanGoodDockerfile, 3, "RUNN go build"), scanGoodWorkflow, "SCAN-PARSE", "Dockerfile", 3},
		{"GHA001 action by tag", scanGoodDockerfile, strings.Replace(scanGoodWorkflow, "actions/checkout@"+scanSHA+" # v6.0.2", "actions/checkout@v6", 1), "GHA001", ".github/workflows/ci.yml", 10},
		{"GHA002 SHA without version comment", scanGoodDockerfile, strings.Replace(scanGoodWorkflow, " # v6.0.2", "", 1), "GHA002", ".github/workflows/ci.yml", 10},
		{"GHA003 no top-level permissions", scanGoodDockerfile, strings.Replace(scanGoodWorkflow, "permissions: {}\n", "", 1), "GHA003", ".github/workflows/ci.yml", 1},
		{"GHA004 top-level write", scanGoodDockerfile, strings.Replace(scanGoodWorkflow, "permissions: {}\n", "permissions:\n  contents: write\n", 1), "GHA004", ".github/workflows/ci.yml", 4},
		{"GHA005 job write-all", scanGoodDockerfile, strings.Replace(scanGoodWorkflow, "    permissions:\n      contents: read\n", "    permissions: write-all\n", 1), "GHA005", ".github/workflows/ci.yml", 7},
		{"GHA006 id-token without signing", scanGoodDockerfile, strings.Replace(scanGoodWorkflow, "      contents: read\n", "      contents: read\n      id-token: write\n", 1), "GHA006", ".github/workflows/ci.yml", 9},
		{"GHA007 pull_request_target checks out the PR", scanGoodDockerfile,
			strings.Replace(strings.Replace(scanGoodWorkflow, "on: [push, pull_request]", "on: pull_request_target", 1),
				"          persist-credentials: false\n", "          persist-credentials: false\n          ref: ${{ github.event.pull_request.head.sha }}\n", 1),
			"GHA007", ".github/workflows/ci.yml", 10},
		{"GHA008 expression injection in run", scanGoodDockerfile,
			strings.Replace(scanGoodWorkflow, "        run: echo \"$TITLE\"\n", "        run: |\n          echo start\n          echo \"${{ github.event.pull_request.title }}\"\n", 1),
			"GHA008", ".github/workflows/ci.yml", 17},
		{"workflow syntax error", scanGoodDockerfile, scanGoodWorkflow + "  broken: [\n", "SCAN-PARSE", ".github/workflows/ci.yml", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(tt.dockerfile), 0o600); err != nil {
				t.Fatal(err)
			}
			wf := filepath.Join(dir, ".github", "workflows", "ci.yml")
			if err := os.MkdirAll(filepath.Dir(wf), 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(wf, []byte(tt.workflow), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, stderr := scanRun(t, dir, "--only", "policy", "--policy", policy, "--format", "json")
			r := scanJSON(t, out, stderr)
			if tt.code == "" {
				if code != 0 || !r.Passed {
					t.Fatalf("exit %d, findings %+v", code, r.Findings)
				}
				return
			}
			if code != 1 {
				t.Fatalf("exit %d, want 1; findings %+v\n%s", code, r.Findings, stderr)
			}
			for _, f := range r.Findings {
				if f.Rule == tt.code && f.File == tt.file && (tt.line == 0 || f.Line == tt.line) {
					if f.Message == "" {
						t.Errorf("%s without a message", f.Rule)
					}
					return
				}
			}
			t.Errorf("no %s at %s:%d; findings %+v", tt.code, tt.file, tt.line, r.Findings)
		})
	}
}

// TestScanRealDockerfileAndWorkflowsPass: the repository's own Dockerfile and workflows pass
// policy/repo and actionlint.
func TestScanRealDockerfileAndWorkflowsPass(t *testing.T) {
	code, out, stderr := scanRun(t, repoRoot(t), "--only", "policy,actionlint", "--format", "json")
	r := scanJSON(t, out, stderr)
	if code != 0 || !r.Passed {
		t.Fatalf("exit %d: %+v", code, r.Findings)
	}
	ran := map[string]bool{}
	for _, c := range r.Checks {
		ran[c.Name] = c.Ran && c.Passed
	}
	if !ran["dockerfile-policy"] || !ran["workflow-policy"] || !ran["actionlint"] {
		t.Errorf("checks: %+v", r.Checks)
	}
	for _, want := range []string{"ci.yml", "release.yml", "scorecard.yml"} {
		if _, err := os.Stat(filepath.Join(repoRoot(t), ".github", "workflows", want)); err != nil {
			t.Errorf("workflow %s: %v", want, err)
		}
	}
}

// TestScanActionlintFindsWorkflowErrors: actionlint's findings fail the scan with file and line.
func TestScanActionlintFindsWorkflowErrors(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, ".github", "workflows", "ci.yml")
	if err := os.MkdirAll(filepath.Dir(wf), 0o750); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(scanGoodWorkflow, "run: echo \"$TITLE\"", "run: echo \"${{ github.no_such_context }}\"", 1)
	if err := os.WriteFile(wf, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := scanRun(t, dir, "--only", "actionlint", "--format", "json")
	r := scanJSON(t, out, stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %+v", code, r.Findings)
	}
	for _, f := range r.Findings {
		if f.Check == "actionlint" && f.File == ".github/workflows/ci.yml" && f.Line == 15 {
			return
		}
	}
	t.Errorf("no actionlint finding at ci.yml:15: %+v", r.Findings)
}
