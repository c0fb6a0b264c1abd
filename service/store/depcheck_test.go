package store

import (
	"go/build/constraint"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-movie-service/sms/service/internal/depcheck"
)

// TestStdlibOnly: this package, tests included, imports only the standard
// library (an import path whose first element has no dot).
func TestStdlibOnly(t *testing.T) { depcheck.StandardLibraryOnly(t) }

// TestBenchHooksAreTagged: the exported switches that turn fsync or group
// commit off exist only under the smsbench build tag, never in a production
// build.
func TestBenchHooksAreTagged(t *testing.T) {
	src, err := os.ReadFile("bench_hooks.go")
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(src), "\n")
	expr, err := constraint.Parse(first)
	if err != nil {
		t.Fatalf("bench_hooks.go must start with a build constraint: %v", err)
	}
	if expr.Eval(func(tag string) bool { return tag != "smsbench" }) {
		t.Fatalf("bench_hooks.go is built without the smsbench tag: %q", first)
	}
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if f == "bench_hooks.go" || strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, _ := os.ReadFile(f)
		for _, s := range []string{"noSync = true", "syncEachWrite = true", "noSync: true", "syncEachWrite: true"} {
			if strings.Contains(string(b), s) {
				t.Errorf("%s sets a benchmark-only switch (%s)", f, s)
			}
		}
	}
}
