package controls

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// make release reruns verify-controls unless the predicate is HEAD's from a clean tree; the
// predicate is read as JSON, pretty-printed as pipeline controls writes it.
func TestFresh(t *testing.T) {
	repo := testkit.MustRepo(t)
	out, err := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output()
	testkit.Must(t, err)
	head := strings.TrimSpace(string(out))
	write := func(t *testing.T, rev string, dirty bool) string {
		p := predicate.Controls{Revision: rev, ModelDigest: "sha256:" + strings.Repeat("ab", 32), Dirty: &dirty, Passed: true,
			Controls: map[string]predicate.ControlResult{"C-X-01": {Status: "pass", Evidence: []predicate.Evidence{{ID: "go:x.TestX", Status: "pass"}}}}}
		b, err := json.MarshalIndent(p, "", "  ")
		testkit.Must(t, err)
		path := filepath.Join(t.TempDir(), "predicate.json")
		testkit.Must(t, os.WriteFile(path, b, 0o600))
		return path
	}
	ctx := context.Background()
	if err := Fresh(ctx, repo, write(t, head, false)); err != nil {
		t.Fatalf("HEAD's predicate on a clean tree: %v", err)
	}
	stale := []struct {
		name string
		path func(t *testing.T) string
	}{
		{"another revision", func(t *testing.T) string { return write(t, strings.Repeat("f", 40), false) }},
		{"results from a dirty tree", func(t *testing.T) string { return write(t, head, true) }},
		{"no predicate", func(t *testing.T) string { return filepath.Join(t.TempDir(), "none.json") }},
		{"not a predicate", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "p.json")
			testkit.Must(t, os.WriteFile(p, []byte(`{"revision":"`+head+`"}`), 0o600))
			return p
		}},
		{"the tree changed since", func(t *testing.T) string {
			p := write(t, head, false)
			testkit.Must(t, os.WriteFile(filepath.Join(repo, "new.txt"), []byte("x"), 0o600))
			t.Cleanup(func() { _ = os.Remove(filepath.Join(repo, "new.txt")) })
			return p
		}},
	}
	for _, tc := range stale {
		t.Run(tc.name, func(t *testing.T) {
			if err := Fresh(ctx, repo, tc.path(t)); !errors.Is(err, ErrStale) {
				t.Fatalf("got %v, want ErrStale", err)
			}
		})
	}
}
