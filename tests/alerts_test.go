package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAlertRules is evidence for C-ALERTING: `promtool test rules` runs
// deploy/prometheus/alerts_test.yaml, in which every rule fires on a
// synthetic attack or outage and stays quiet on normal traffic; and every
// metric the rules read is one the service exports. promtool comes from
// Debian's prometheus package (`make promtool`); without it the test fails,
// it never skips.
func TestAlertRules(t *testing.T) {
	root := repoRoot(t)
	dir := filepath.Join(root, "deploy", "prometheus")
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("C-ALERTING promtool not found: run `make promtool` (Debian package prometheus)")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("C-ALERTING promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	rules, err := os.ReadFile(filepath.Join(dir, "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var exported strings.Builder
	for _, f := range []string{"service/api/metrics.go", "service/api/middleware.go", "service/cmd/movies/metrics.go"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		exported.Write(b)
	}
	names := regexp.MustCompile(`movies_[a-z_]+`).FindAllString(string(rules), -1)
	if len(names) < 7 {
		t.Fatalf("the rules read only %d metrics", len(names))
	}
	for _, n := range names {
		if !strings.Contains(exported.String(), `"`+n+`"`) {
			t.Errorf("C-ALERTING alerts.yaml reads %s, which the service does not export", n)
		}
	}
}
