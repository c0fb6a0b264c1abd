package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func mustBackup(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Backup(dir, &buf); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	return buf.Bytes()
}

// TestBackupRestore: a backup of a snapshot plus journal segments restores
// into a new directory with the same movies, byte for byte.
func TestBackupRestore(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir, Options{CompactBytes: -1})
	history(t, j, "a", 60)
	if err := j.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	history(t, j, "b", 60)
	want := dump(listAll(t, j))
	b := mustBackup(t, dir) // while the journal is open and locked: Backup takes no lock
	j.Close()
	target := filepath.Join(t.TempDir(), "new", "data")
	if err := Restore(bytes.NewReader(b), target); err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, target, Options{})
	defer r.Close()
	if got := dump(listAll(t, r)); got != want {
		t.Fatalf("restored state differs:\n got %s\nwant %s", got, want)
	}
}

// TestRestoreRefuses: Restore writes nothing unless the whole backup
// verifies and the target directory is empty.
func TestRestoreRefuses(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir, Options{})
	history(t, j, "a", 20)
	j.Close()
	good := mustBackup(t, dir)

	t.Run("non-empty directory", func(t *testing.T) {
		target := t.TempDir()
		if err := os.WriteFile(filepath.Join(target, "keep"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Restore(bytes.NewReader(good), target); err == nil {
			t.Fatal("Restore into a non-empty directory succeeded")
		}
		if ents, _ := os.ReadDir(target); len(ents) != 1 {
			t.Fatalf("Restore changed a directory it refused: %v", ents)
		}
	})
	bad := map[string][]byte{
		"empty":               nil,
		"wrong header":        append([]byte("SMSJRNL1"), good[8:]...),
		"data after end mark": append(bytes.Clone(good), 0),
	}
	for cut := int64(1); cut < int64(len(good)); cut += max(1, int64(len(good))/97) {
		bad[fmt.Sprintf("truncated at %d", cut)] = good[:cut]
	}
	for pos := 0; pos < len(good); pos += max(1, len(good)/89) {
		b := bytes.Clone(good)
		b[pos] ^= 0x04
		bad[fmt.Sprintf("bit flipped at %d", pos)] = b
	}
	for name, b := range bad {
		target := filepath.Join(t.TempDir(), "data")
		err := Restore(bytes.NewReader(b), target)
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: err = %v, want ErrCorrupt", name, err)
		}
		if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: Restore created %s although the backup is bad", name, target)
		}
	}
}

// TestBackupRefusesCorruptData: a bad record followed by valid ones is
// damage, not a live tail: Backup fails naming the file.
func TestBackupRefusesCorruptData(t *testing.T) {
	data, _, starts := fixture(t, 4)
	dir := t.TempDir()
	bad := bytes.Clone(data)
	bad[starts[1]+10] ^= 1
	p := filepath.Join(dir, journalName(1))
	if err := os.WriteFile(p, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if err := Backup(dir, io.Discard); !errors.As(err, &ce) || ce.File != p || ce.Offset != starts[1] {
		t.Fatalf("Backup: err = %v, want corruption in %s at %d", err, p, starts[1])
	}
}

// TestBackupUnderConcurrentWrites takes backups while 32 writers create,
// update and delete and the journal compacts every few KiB: each backup
// restores, and every movie in it is a state its writer asked for, no older
// than what was acknowledged when the backup started and no newer than what
// had been asked for when it ended; so the count lies between the two too.
func TestBackupUnderConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir, Options{CompactBytes: 32 << 10})
	defer j.Close()
	l := newLedger()
	ctx, cancel := context.WithCancel(context.Background())
	wg := writeLoad(ctx, j, l, "bk", 32)
	defer func() { cancel(); wg.Wait() }()
	for i := range 6 {
		time.Sleep(30 * time.Millisecond)
		ackedBefore := l.ackedNow()
		b := mustBackup(t, dir)
		startedAfter := l.startedNow()
		target := filepath.Join(t.TempDir(), "restored")
		if err := Restore(bytes.NewReader(b), target); err != nil {
			t.Fatalf("backup %d does not restore: %v", i, err)
		}
		r := mustOpen(t, target, Options{})
		got := listAll(t, r)
		r.Close()
		acked := l.verify(t, got, ackedBefore, startedAfter)
		t.Logf("backup %d: %d bytes, %d movies, %d acknowledged before it began", i, len(b), len(got), acked)
	}
}

// TestBackupFileSurvivesPowerLoss: once BackupFile returns, the backup is
// durable under its name: its data synced and its directory entry too.
func TestBackupFileSurvivesPowerLoss(t *testing.T) {
	mfs := newMemFS()
	j := mustOpen(t, testDir, memOpts(mfs))
	history(t, j, "a", 20)
	j.Close()
	if _, err := mfs.MkdirAll("/backups"); err != nil {
		t.Fatal(err)
	}
	out := "/backups/movies.smsbak"
	if err := backupFile(mfs, testDir, out); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := backup(mfs, testDir, &want); err != nil {
		t.Fatal(err)
	}
	if got := mfs.crash().bytes(out); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("C-BACKUP after a power loss the backup holds %d bytes, want %d: the rename was not made durable", len(got), want.Len())
	}
	if err := backupFile(mfs, testDir, out); err == nil {
		t.Fatal("BackupFile overwrote an existing backup")
	}
	names, _ := mfs.ReadDir("/backups")
	if len(names) != 1 {
		t.Fatalf("backup directory holds %v, want only the backup", names)
	}
}
