// Package tests holds the end-to-end tests: they build the real binaries,
// start real processes (the movies server, OPA, a registry) on loopback
// addresses, and attack them. Every wait is bounded in count and time.
package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// binDir holds the binaries built for this test run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sms-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the repository's top directory (tests run in tests/).
func repoRoot(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.Dir(wd)
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// binary builds the main package pkg (relative to the repository root,
// e.g. "./service/cmd/movies") once per test run and returns its path.
func binary(tb testing.TB, pkg string) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	out := filepath.Join(binDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = repoRoot(tb)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out
}

// toolBinary returns the path of a tool pinned in go.mod, building it if needed.
func toolBinary(tb testing.TB, name string) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := "tool:" + name
	if p, ok := built[key]; ok {
		return p
	}
	cmd := exec.Command("go", "tool", "-n", name)
	cmd.Dir = repoRoot(tb)
	b, err := cmd.Output()
	if err != nil {
		tb.Fatalf("go tool -n %s: %v", name, err)
	}
	p := strings.TrimSpace(string(b))
	built[key] = p
	return p
}
