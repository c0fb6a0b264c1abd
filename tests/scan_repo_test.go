package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// scanReport is the part of `pipeline scan --format json` the tests read.
type scanReport struct {
	Passed bool `json:"passed"`
	Checks []struct {
		Name   string `json:"name"`
		Ran    bool   `json:"ran"`
		Passed bool   `json:"passed"`
	} `json:"checks"`
	Findings []struct {
		Check, Rule, Severity, File, Message string
		Line                                 int
	} `json:"findings"`
	Nosec []struct {
		File          string   `json:"file"`
		Line          int      `json:"line"`
		Rules         []string `json:"rules"`
		Justification string   `json:"justification"`
		Valid         bool     `json:"valid"`
	} `json:"nosec"`
}

// scanRun runs `pipeline scan ARGS` (bounded by a timeout) and returns its exit code and output.
func scanRun(tb testing.TB, dir string, args ...string) (int, []byte, string) {
	tb.Helper()
	bin := binary(tb, "./pipeline/cmd/pipeline")
	cmd := exec.Command(bin, append([]string{"scan"}, args...)...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		tb.Fatalf("pipeline scan %v: still running after 10 minutes", args)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		tb.Fatal(err)
	}
	return code, stdout.Bytes(), stderr.String()
}

func scanJSON(tb testing.TB, out []byte, stderr string) scanReport {
	tb.Helper()
	var r scanReport
	if err := json.Unmarshal(out, &r); err != nil {
		tb.Fatalf("scan output is not JSON: %v\n%s\nstderr:\n%s", err, out, stderr)
	}
	return r
}

// scanCopyRepo copies the repository as it is (tracked and untracked files that are not
// ignored) into a temporary directory.
func scanCopyRepo(tb testing.TB) string {
	tb.Helper()
	root := repoRoot(tb)
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("git ls-files: %v", err)
	}
	dst := tb.TempDir()
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(files) > 20000 {
		tb.Fatalf("%d files: not a copy a test should make", len(files))
	}
	for _, f := range files {
		src := filepath.Join(root, f)
		info, err := os.Lstat(src)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the work tree, or not a regular file
		}
		b, err := os.ReadFile(src)
		if err != nil {
			tb.Fatal(err)
		}
		target := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(target, b, info.Mode().Perm()); err != nil {
			tb.Fatal(err)
		}
	}
	return dst
}

// TestScanRepositoryPasses: the repository as it is passes every check (gosec at medium and
// above, justified #nosec only, policy/repo, actionlint).
func TestScanRepositoryPasses(t *testing.T) {
	code, out, stderr := scanRun(t, repoRoot(t), "--format", "json")
	r := scanJSON(t, out, stderr)
	if code != 0 || !r.Passed {
		var b strings.Builder
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "  %s:%d: %s/%s %s %s\n", f.File, f.Line, f.Check, f.Rule, f.Severity, f.Message)
		}
		t.Fatalf("pipeline scan exit %d on the repository:\n%s", code, b.String())
	}
	want := map[string]bool{"gosec": false, "nosec": false, "dockerfile-policy": false, "workflow-policy": false, "actionlint": false}
	for _, c := range r.Checks {
		if _, ok := want[c.Name]; ok && c.Ran && c.Passed {
			want[c.Name] = true
		}
	}
	for name, ok := range want {
		if !ok {
			t.Errorf("check %s did not run and pass: %+v", name, r.Checks)
		}
	}
	for _, d := range r.Nosec {
		if !d.Valid || d.Justification == "" || len(d.Rules) == 0 {
			t.Errorf("%s:%d: #nosec without rule or justification", d.File, d.Line)
		}
	}
}

// planted holds one finding per line that gosec must report, and a bare #nosec.
const planted = `package planted

import (
	"crypto/tls"
	"net/http"
	"os"
	"os/exec"
)

// Client skips certificate verification.
func Client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // line 12
}

// Run runs a command built from request data.
func Run(w http.ResponseWriter, r *http.Request) {
	out, _ := exec.Command("sh", "-c", r.URL.Query().Get("cmd")).Output() // line 17
	_, _ = w.Write(out)
}

// Connect uses a hard-coded credential.
func Connect() string {
	password := "Xq9#vR2!mT7@kL4$wZ8&pN" // line 23
	return password
}

// Read hides a finding with a bare directive.
func Read(p string) ([]byte, error) {
	return os.ReadFile(p) // #nosec
}
`

// TestScanFailsOnPlantedFindings: in a temporary copy of the repository, planted insecure code
// makes the scan fail (exit 1) and each finding names its file and line, in JSON and in SARIF.
func TestScanFailsOnPlantedFindings(t *testing.T) {
	dir := scanCopyRepo(t)
	file := "pipeline/plantedvuln/planted.go"
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(file)), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(planted), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := scanRun(t, dir, "--only", "gosec", "--format", "json", "./pipeline/plantedvuln/...")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, stderr)
	}
	r := scanJSON(t, out, stderr)
	found := map[string]bool{}
	for _, f := range r.Findings {
		if f.File == file {
			found[fmt.Sprintf("%s:%d", f.Rule, f.Line)] = true
		}
	}
	tests := []struct {
		name string
		any  []string // one of these rule:line pairs
	}{
		{"InsecureSkipVerify: true (G402)", []string{"G402:12"}},
		{"command from request data (G204 or taint G702)", []string{"G204:17", "G702:17"}},
		{"hard-coded credential (G101)", []string{"G101:23"}},
		{"bare #nosec fails and does not hide G304", []string{"NOSEC001:29"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range tt.any {
				if found[k] {
					return
				}
			}
			t.Errorf("none of %v reported for %s; got %v", tt.any, file, found)
		})
	}
	if !found["G304:29"] {
		t.Errorf("the bare #nosec suppressed G304 at line 29: %v", found)
	}

	// The same run as SARIF: results point at the planted file and line.
	sarif := filepath.Join(t.TempDir(), "scan.sarif")
	code, _, stderr = scanRun(t, dir, "--only", "gosec", "--format", "sarif", "-o", sarif, "./pipeline/plantedvuln/...")
	if code != 1 || !strings.Contains(stderr, file+":12") {
		t.Fatalf("sarif run: exit %d, stderr lacks the text summary:\n%s", code, stderr)
	}
	b, err := os.ReadFile(sarif)
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &log); err != nil || log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("SARIF: %v\n%s", err, b)
	}
	ok := false
	for _, res := range log.Runs[0].Results {
		loc := res.Locations[0].PhysicalLocation
		if res.RuleID == "gosec/G402" && loc.ArtifactLocation.URI == file && loc.Region.StartLine == 12 {
			ok = true
		}
	}
	if !ok {
		t.Errorf("no gosec/G402 result at %s:12 in the SARIF log:\n%s", file, b)
	}
}

// TestScanUsageErrors: bad flags exit 2.
func TestScanUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"--format", "xml"}, {"--severity", "critical"}, {"--only", "trivy"}, {"--no-such-flag"}} {
		code, _, stderr := scanRun(t, repoRoot(t), args...)
		if code != 2 {
			t.Errorf("pipeline scan %v: exit %d, want 2\n%s", args, code, stderr)
		}
	}
}
