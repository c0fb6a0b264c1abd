package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServiceUsesOnlyTheStandardLibrary proves the runtime's supply chain
// is empty: the service module requires nothing, its packages (tests
// included) import only the standard library and themselves, and the built
// binary records no dependency.
func TestServiceUsesOnlyTheStandardLibrary(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "service")
	gocmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	mod := gocmd("list", "-m")
	t.Run("C-DEPS-STDLIB go.mod requires nothing", func(t *testing.T) {
		if all := gocmd("list", "-m", "all"); all != mod {
			t.Fatalf("go list -m all:\n%s", all)
		}
	})
	t.Run("C-DEPS-STDLIB only standard-library imports", func(t *testing.T) {
		out := gocmd("list", "-deps", "-test", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./...")
		for line := range strings.Lines(out) {
			p, _, _ := strings.Cut(strings.TrimSpace(line), " ") // "pkg [pkg.test]" for test variants
			if p != mod && !strings.HasPrefix(p, mod+"/") && !strings.HasPrefix(p, mod+".") {
				t.Errorf("non-standard import %s", p)
			}
		}
	})
	t.Run("C-DEPS-STDLIB binary has no dep lines", func(t *testing.T) {
		out, err := exec.Command("go", "version", "-m", binary(t, "./service/cmd/movies")).Output()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(out)) {
			if f := strings.Fields(line); len(f) > 0 && f[0] == "dep" {
				t.Errorf("binary depends on %s", line)
			}
		}
	})
}
