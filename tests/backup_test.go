package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupRestoreCommands backs up a running server's data dir with
// `movies backup`, restores it with `movies restore` into an empty dir, and
// serves the restored copy: it holds what was acknowledged before the backup.
func TestBackupRestoreCommands(t *testing.T) {
	id, opa, m := startStack(t)
	editor, viewer := id.token(t, "editor", "editor"), id.token(t, "viewer", "viewer")
	var want []string
	for range 5 {
		mv, _ := mustCreateMovie(t, m, editor)
		want = append(want, mv.ID)
	}
	bin := binary(t, "./service/cmd/movies")
	dir := t.TempDir()
	file := filepath.Join(dir, "movies.backup")
	if out, err := runCmd(t, bin, "backup", "-data-dir", m.dataDir, "-o", file); err != nil {
		t.Fatalf("C-BACKUP backup of a running server: %v\n%s", err, out)
	}
	if out, err := runCmd(t, bin, "backup", "-data-dir", m.dataDir, "-o", file); err == nil {
		t.Fatalf("backup overwrote an existing file: %s", out)
	}
	restored := filepath.Join(dir, "restored")
	if out, err := runCmd(t, bin, "restore", "-data-dir", restored, file); err != nil {
		t.Fatalf("C-BACKUP restore: %v\n%s", err, out)
	}
	if out, err := runCmd(t, bin, "restore", "-data-dir", restored, file); err == nil {
		t.Fatalf("restore into a non-empty dir succeeded: %s", out)
	}
	// A damaged backup is refused and restores nothing.
	b, _ := os.ReadFile(file)
	b[len(b)/2] ^= 0x40
	bad := filepath.Join(dir, "bad.backup")
	writeFile(t, bad, b, 0o600)
	if out, err := runCmd(t, bin, "restore", "-data-dir", filepath.Join(dir, "bad"), bad); err == nil || !strings.Contains(out, "restore") {
		t.Fatalf("C-BACKUP a corrupted backup was restored: %v %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
		t.Fatal("a refused restore left files behind")
	}
	m2 := startMovies(t, id, moviesOpts{opaURL: opa.url, opaTokenFile: filepath.Join(opa.dir, "opa-token"), dataDir: restored})
	for _, mid := range want {
		if r := do(t, "GET", m2.url+"/v1/movies/"+mid, viewer, ""); r.status != 200 {
			t.Fatalf("C-BACKUP movie %s missing after restore: %s", mid, r)
		}
	}
	if n := listCount(t, m2, viewer); n != len(want) {
		t.Fatalf("%d movies after restore, want %d", n, len(want))
	}
}
