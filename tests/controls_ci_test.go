package tests

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type workflow struct {
	On   map[string]any `yaml:"on"`
	Jobs map[string]struct {
		Steps []struct {
			Uses string `yaml:"uses"`
			Run  string `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func mustWorkflow(tb testing.TB, name string) workflow {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(tb), ".github", "workflows", name))
	if err != nil {
		tb.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(b, &w); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return w
}

// runs reports whether some step of the workflow runs a command containing cmd, or uses an
// action whose reference starts with cmd.
func (w workflow) runs(cmd string) bool {
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			if strings.Contains(s.Run, cmd) || strings.HasPrefix(s.Uses, cmd) {
				return true
			}
		}
	}
	return false
}

// TestControlsCIRunsTheSecurityGates is evidence for C-CI-SCANS: CI runs the static analysis
// (pipeline scan, CodeQL), the tests and make verify-controls on every pull request and every
// push to main, and the release workflow verifies the controls before it releases.
func TestControlsCIRunsTheSecurityGates(t *testing.T) {
	ci := mustWorkflow(t, "ci.yml")
	if _, ok := ci.On["pull_request"]; !ok {
		t.Error("C-CI-SCANS ci.yml does not run on pull_request")
	}
	push, _ := ci.On["push"].(map[string]any)
	if branches, _ := push["branches"].([]any); !slices.Contains(branches, any("main")) {
		t.Errorf("C-CI-SCANS ci.yml does not run on pushes to main: %v", ci.On["push"])
	}
	for _, cmd := range []string{"make verify-controls", "make test", "pipeline scan", "github/codeql-action/analyze@"} {
		if !ci.runs(cmd) {
			t.Errorf("C-CI-SCANS ci.yml never runs %q", cmd)
		}
	}
	if rel := mustWorkflow(t, "release.yml"); !rel.runs("make verify-controls") {
		t.Error("C-CI-SCANS release.yml releases without make verify-controls")
	}
}

// TestControlsDependabotCoversEveryPin is evidence for C-DEPS-UPDATE: Dependabot proposes
// updates, at least weekly, for everything the repository pins: the Go modules of both
// modules, the SHA-pinned actions and the digest-pinned base image.
func TestControlsDependabotCoversEveryPin(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), ".github", "dependabot.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Updates []struct {
			Ecosystem string `yaml:"package-ecosystem"`
			Directory string `yaml:"directory"`
			Schedule  struct {
				Interval string `yaml:"interval"`
			} `yaml:"schedule"`
		} `yaml:"updates"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, want := range [][2]string{{"gomod", "/"}, {"gomod", "/service"}, {"github-actions", "/"}, {"docker", "/"}} {
		found := false
		for _, u := range cfg.Updates {
			if u.Ecosystem == want[0] && u.Directory == want[1] {
				found = true
				if u.Schedule.Interval != "daily" && u.Schedule.Interval != "weekly" {
					t.Errorf("C-DEPS-UPDATE %s %s updates %q, want daily or weekly", want[0], want[1], u.Schedule.Interval)
				}
			}
		}
		if !found {
			t.Errorf("C-DEPS-UPDATE dependabot.yml does not update %s in %s", want[0], want[1])
		}
	}
}
