package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// controlsFixture copies pipeline/controls/testdata/drift (a small model, a Go module and a
// Rego package that pass as they are; its manual control is not attested).
func controlsFixture(tb testing.TB) string {
	tb.Helper()
	src := filepath.Join(repoRoot(tb), "pipeline", "controls", "testdata", "drift")
	dst := tb.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return dst
}

func controlsRun(tb testing.TB, args ...string) (int, string, string) {
	tb.Helper()
	cmd := exec.Command(binary(tb, "./pipeline/cmd/pipeline"), append([]string{"controls"}, args...)...)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	case err != nil:
		tb.Fatal(err)
	}
	return 0, stdout.String(), stderr.String()
}

// TestControlsCLIExitCodes runs the real `pipeline controls` on a fixture: 0 when every
// tested control holds (with every report written and the missing attestation named), 1
// naming the control when its test is renamed or, with --require-attestations, naming the
// missing attestation (with a SARIF result at the control's line), 2 on a usage error.
func TestControlsCLIExitCodes(t *testing.T) {
	dir := controlsFixture(t)
	out := filepath.Join(dir, "out")
	code, stdout, stderr := controlsRun(t, "-root", dir, "-out", out)
	if code != 0 || !strings.Contains(stdout, "PASS (tested controls; attestations missing): controls 2/3 hold (tested 2/2, manual 0/1, platform 0/0); threats 2/2; evidence 3/3") ||
		!strings.Contains(stdout, "attestations missing (1): C-REVIEW") {
		t.Fatalf("pristine fixture: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, stdout, stderr := controlsRun(t, "-root", dir, "-out", "", "--require-attestations"); code != 1 ||
		!strings.Contains(stderr, "attestations required and missing: C-REVIEW") {
		t.Fatalf("--require-attestations without an attestation: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, f := range []string{"report.txt", "report.md", "report.json", "controls.sarif", "junit.xml"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "predicate.json")); err == nil {
		t.Error("predicate.json written outside a git work tree")
	}

	test := filepath.Join(dir, "check_test.go")
	b, _ := os.ReadFile(test)
	if err := os.WriteFile(test, bytes.Replace(b, []byte("func TestLimit("), []byte("func TestLimitCaps("), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = controlsRun(t, "-root", dir, "-out", out)
	if code != 1 || !strings.Contains(stderr, "C-LIMIT") || !strings.Contains(stdout, "did you mean TestLimitCaps?") {
		t.Fatalf("renamed test: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var sarif struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	b, _ = os.ReadFile(filepath.Join(out, "controls.sarif"))
	if err := json.Unmarshal(b, &sarif); err != nil || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) != 1 {
		t.Fatalf("SARIF: %v\n%s", err, b)
	}
	model, _ := os.ReadFile(filepath.Join(dir, "threatmodel", "threatmodel.yaml"))
	line := 1 + strings.Count(string(model[:bytes.Index(model, []byte("  - id: C-LIMIT"))]), "\n")
	loc := sarif.Runs[0].Results[0].Locations[0].PhysicalLocation
	if r := sarif.Runs[0].Results[0]; r.RuleID != "TM005" || loc.ArtifactLocation.URI != "threatmodel/threatmodel.yaml" || loc.Region.StartLine != line {
		t.Fatalf("SARIF result %+v, want TM005 at threatmodel/threatmodel.yaml:%d", r, line)
	}

	if code, _, stderr := controlsRun(t, "-root", dir, "-bogus"); code != 2 {
		t.Fatalf("unknown flag: exit %d %s", code, stderr)
	}
	if code, _, stderr := controlsRun(t, "-root", dir, "-model", "nope.yaml"); code != 2 {
		t.Fatalf("missing model: exit %d %s", code, stderr)
	}
}
