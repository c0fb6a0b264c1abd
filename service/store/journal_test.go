package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStoreSemantics runs the same script against Memory and Journal: the
// journal must keep the Store interface's semantics exactly.
func TestStoreSemantics(t *testing.T) {
	stores := map[string]func(t *testing.T) Store{
		"memory":  func(*testing.T) Store { return NewMemory() },
		"journal": func(t *testing.T) Store { return mustOpen(t, t.TempDir(), Options{}) },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			defer s.Close()
			m := mustCreate(t, s, testMovie("b", 1))
			if m.Version != 1 {
				t.Fatalf("created version = %d, want 1", m.Version)
			}
			mustCreate(t, s, testMovie("a", 2))
			mustCreate(t, s, testMovie("c", 3))
			steps := []struct {
				name string
				err  error
				do   func() error
			}{
				{"create existing", ErrExists, func() error { _, err := s.Create(ctx, testMovie("b", 9)); return err }},
				{"update stale", ErrVersionMismatch, func() error { _, err := s.Update(ctx, testMovie("b", 4), 7); return err }},
				{"update missing", ErrNotFound, func() error { _, err := s.Update(ctx, testMovie("zz", 4), 1); return err }},
				{"update", nil, func() error {
					got, err := s.Update(ctx, testMovie("b", 4), 1)
					if err == nil && got.Version != 2 {
						return fmt.Errorf("version %d after update, want 2", got.Version)
					}
					return err
				}},
				{"delete stale", ErrVersionMismatch, func() error { return s.Delete(ctx, "b", 1) }},
				{"delete", nil, func() error { return s.Delete(ctx, "b", 2) }},
				{"delete missing", ErrNotFound, func() error { return s.Delete(ctx, "b", 0) }},
				{"delete any version", nil, func() error { return s.Delete(ctx, "c", 0) }},
				{"get deleted", ErrNotFound, func() error { _, err := s.Get(ctx, "b"); return err }},
				{"recreate", nil, func() error { _, err := s.Create(ctx, testMovie("b", 5)); return err }},
			}
			for _, st := range steps {
				if err := st.do(); !errors.Is(err, st.err) {
					t.Fatalf("%s: err = %v, want %v", st.name, err, st.err)
				}
			}
			got := listAll(t, s)
			if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" || got[1].Title != testMovie("b", 5).Title {
				t.Fatalf("final listing:\n%s", dump(got))
			}
			// A returned movie shares no memory with the store.
			got[0].Genres[0] = "changed"
			if again, _ := s.Get(ctx, "a"); again.Genres[0] != "drama" {
				t.Fatal("caller's change to a returned movie leaked into the store")
			}
			if err := s.Ready(ctx); err != nil {
				t.Fatalf("Ready: %v", err)
			}
		})
	}
}

// TestReplayIdempotent: three reopen cycles give identical listings, and
// replaying changes no file after the first (nothing is appended or cut).
func TestReplayIdempotent(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir, Options{CompactBytes: 4 << 10})
	ctx := context.Background()
	for i := range 200 {
		id := fmt.Sprintf("m%03d", i)
		mustCreate(t, j, testMovie(id, i))
		switch i % 5 {
		case 1:
			if _, err := j.Update(ctx, testMovie(id, i+1000), 1); err != nil {
				t.Fatal(err)
			}
		case 2:
			if err := j.Delete(ctx, id, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := dump(listAll(t, j))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	var files string
	for cycle := range 3 {
		j := mustOpen(t, dir, Options{CompactBytes: -1})
		if got := dump(listAll(t, j)); got != want {
			t.Fatalf("cycle %d: listing differs:\n got %s\nwant %s", cycle, got, want)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		now := dirContents(t, dir)
		if cycle > 0 && now != files {
			t.Fatalf("cycle %d: replay changed the data files", cycle)
		}
		files = now
	}
}

func dirContents(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%s %x\n", e.Name(), b)
	}
	return sb.String()
}

// TestGroupCommit: 64 concurrent writers share fsyncs; with group commit
// off (the benchmark baseline) every write pays its own.
func TestGroupCommit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		eachWrite bool
	}{{"group commit", false}, {"one fsync per write", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ffs := &faultFS{fileSystem: newMemFS()}
			// Slow fsyncs, as on a real disk, let writers queue up behind one.
			ffs.set(faults{delay: 500 * time.Microsecond})
			opts := memOpts(ffs)
			opts.syncEachWrite = tc.eachWrite
			j := mustOpen(t, testDir, opts)
			defer j.Close()
			_, syncs0 := ffs.counts()
			const writers, each = 64, 20
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						mustCreate(t, j, testMovie(fmt.Sprintf("w%02d-%02d", w, i), i))
					}
				})
			}
			wg.Wait()
			_, syncs := ffs.counts()
			syncs -= syncs0
			t.Logf("%d writes, %d fsyncs", writers*each, syncs)
			if tc.eachWrite && syncs != writers*each {
				t.Fatalf("baseline: %d fsyncs for %d writes, want one each", syncs, writers*each)
			}
			if !tc.eachWrite && syncs > writers*each/4 {
				t.Fatalf("group commit: %d fsyncs for %d writes, want them shared", syncs, writers*each)
			}
		})
	}
}

// TestWriteVisibleOnlyAfterFsync: while the batch's fsync has not returned,
// neither the writer nor a reader sees the write.
func TestWriteVisibleOnlyAfterFsync(t *testing.T) {
	ffs := &faultFS{fileSystem: newMemFS()}
	j := mustOpen(t, testDir, memOpts(ffs))
	defer j.Close()
	gate := make(chan struct{})
	var release sync.Once
	defer release.Do(func() { close(gate) }) // before Close, even when the test fails
	ffs.set(faults{match: "journal-", gate: gate})
	done := make(chan error, 1)
	go func() { _, err := j.Create(context.Background(), testMovie("x", 1)); done <- err }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if w, _ := ffs.counts(); w > 0 {
			break // the frame is written; its fsync is held at the gate
		}
		if time.Now().After(deadline) {
			t.Fatal("write never reached the file")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := j.Get(context.Background(), "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before fsync returned: %v, want ErrNotFound", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Create returned (%v) before its fsync", err)
	default:
	}
	release.Do(func() { close(gate) })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := j.Get(context.Background(), "x"); err != nil {
		t.Fatalf("Get after fsync: %v", err)
	}
}

// TestCanceledWriteIsNotApplied: a context that ends before the write is
// taken returns its error and the write never happens.
func TestCanceledWriteIsNotApplied(t *testing.T) {
	j := mustOpen(t, testDir, memOpts(newMemFS()))
	defer j.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := j.Create(ctx, testMovie("x", 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := j.Get(context.Background(), "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("canceled write is visible: %v", err)
	}
}

// TestLock: a second Open of a locked data dir fails with ErrLocked (flock
// is per open file, so this holds within one process too), and succeeds once
// the first is closed.
func TestLock(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir, Options{})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, dir, Options{}).Close()
}

// TestFileModes: the data dir is 0700 (tightened if it was looser) and every
// file in it 0600.
func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	j := mustOpen(t, dir, Options{})
	for i := range 10 {
		mustCreate(t, j, testMovie(fmt.Sprint(i), i))
	}
	if err := j.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, j, testMovie("after", 1))
	var buf bytes.Buffer
	if err := Backup(dir, &buf); err != nil {
		t.Fatal(err)
	}
	j.Close()
	restored := filepath.Join(t.TempDir(), "restored")
	if err := Restore(&buf, restored); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, restored} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want 0700", d, fi.Mode().Perm())
		}
		ents, _ := os.ReadDir(d)
		kinds := map[string]bool{}
		for _, e := range ents {
			fi, _ := e.Info()
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s/%s: mode %v, want 0600", d, e.Name(), fi.Mode().Perm())
			}
			kinds[strings.SplitN(e.Name(), "-", 2)[0]] = true
		}
		if d == dir && !(kinds["journal"] && kinds["snapshot"] && kinds["LOCK"]) {
			t.Errorf("%s: want journal, snapshot and LOCK files, have %v", d, kinds)
		}
	}
}

// TestMovieHoldsNoSecrets: the journal stores Movie as it is; a field that
// could carry a token must never be added to it.
func TestMovieHoldsNoSecrets(t *testing.T) {
	rt := reflect.TypeOf(Movie{})
	for i := range rt.NumField() {
		name := strings.ToLower(rt.Field(i).Name + " " + rt.Field(i).Tag.Get("json"))
		for _, bad := range []string{"token", "secret", "password", "key", "auth", "bearer", "jwt"} {
			if strings.Contains(name, bad) {
				t.Errorf("Movie field %s looks like it could hold a credential; the journal must never store one", rt.Field(i).Name)
			}
		}
	}
}
