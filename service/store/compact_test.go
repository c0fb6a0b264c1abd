package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

var errCrash = errors.New("injected crash")

// compactionSteps are the points at which writeSnapshot and rotate call the hook.
var compactionSteps = []string{"rotated", "temp-created", "temp-written", "temp-synced", "renamed", "dir-synced", "old-removed"}

// history writes creates, updates and deletes, so that a snapshot and the
// segments after it both matter.
func history(t *testing.T, j *Journal, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		id := fmt.Sprintf("%s%03d", prefix, i)
		mustCreate(t, j, testMovie(id, i))
		if i%3 == 1 {
			if _, err := j.Update(ctx, testMovie(id, i+500), 1); err != nil {
				t.Fatal(err)
			}
		}
		if i%4 == 2 {
			if err := j.Delete(ctx, id, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestCompactionCrashAtEachStep "crashes" a compaction at each of its steps
// (the hook stops it there, with no clean-up), takes the file system as a
// killed process leaves it (page cache intact) or as a power loss leaves it
// (only synced data and synced directory entries), and reopens: nothing
// acknowledged is lost, nothing is added, and no temp file is left over.
func TestCompactionCrashAtEachStep(t *testing.T) {
	for _, step := range compactionSteps {
		for _, kind := range []string{"kill", "power loss"} {
			t.Run(step+"/"+kind, func(t *testing.T) {
				mfs := newMemFS()
				var armed atomic.Bool
				opts := memOpts(mfs)
				opts.hook = func(s string) error {
					if armed.Load() && s == step {
						return errCrash
					}
					return nil
				}
				j := mustOpen(t, testDir, opts)
				history(t, j, "a", 40)
				if err := j.Compact(context.Background()); err != nil {
					t.Fatal(err)
				}
				history(t, j, "b", 40)
				want := dump(listAll(t, j))
				armed.Store(true)
				if err := j.Compact(context.Background()); !errors.Is(err, errCrash) {
					t.Fatalf("Compact: err = %v, want the injected crash", err)
				}
				after := mfs.crash()
				if kind == "kill" {
					after = mfs.processCrash()
				}
				j.Close()

				r, err := Open(testDir, memOpts(after))
				if err != nil {
					t.Fatalf("reopen: %v", err)
				}
				if got := dump(listAll(t, r)); got != want {
					t.Fatalf("state after crash at %s differs:\n got %s\nwant %s", step, got, want)
				}
				mustCreate(t, r, testMovie("after", 1))
				if err := r.Compact(context.Background()); err != nil {
					t.Fatalf("compaction after recovery: %v", err)
				}
				r.Close()
				names, _ := after.ReadDir(testDir)
				for _, n := range names {
					if strings.HasSuffix(n, tempSuffix) {
						t.Fatalf("temp file %s left after recovery", n)
					}
				}
			})
		}
	}
}

// TestAutomaticCompaction: past CompactBytes the journal compacts by
// itself, old segments go away, and the state survives reopening.
func TestAutomaticCompaction(t *testing.T) {
	mfs := newMemFS()
	opts := memOpts(mfs)
	opts.CompactBytes = 8 << 10
	j := mustOpen(t, testDir, opts)
	history(t, j, "x", 300)
	want := dump(listAll(t, j))
	j.Close()
	names, _ := mfs.ReadDir(testDir)
	lay, _ := readLayout(mfs, testDir)
	if len(lay.snapshots) != 1 || len(lay.journals) > 2 || lay.base() < 5 {
		t.Fatalf("after many compactions the directory holds %v", names)
	}
	r := mustOpen(t, testDir, memOpts(mfs))
	defer r.Close()
	if got := dump(listAll(t, r)); got != want {
		t.Fatalf("state differs after reopen")
	}
}

// TestFailedCompactionKeepsEverything: a snapshot that cannot be written
// (disk full) is cleaned up, the journal keeps every record, and a later
// compaction succeeds.
func TestFailedCompactionKeepsEverything(t *testing.T) {
	mfs := newMemFS()
	ffs := &faultFS{fileSystem: mfs}
	j := mustOpen(t, testDir, memOpts(ffs))
	defer j.Close()
	history(t, j, "y", 50)
	ffs.set(faults{match: "snapshot-", write: syscall.ENOSPC})
	if err := j.Compact(context.Background()); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Compact on a full disk: %v, want ErrNoSpace", err)
	}
	if err := j.Ready(context.Background()); err != nil {
		t.Fatalf("a failed compaction made the journal unready: %v", err)
	}
	if names, _ := mfs.ReadDir(testDir); strings.Contains(strings.Join(names, " "), tempSuffix) {
		t.Fatalf("failed snapshot left its temp file: %v", names)
	}
	ffs.set(faults{})
	mustCreate(t, j, testMovie("z", 1))
	want := dump(listAll(t, j))
	if err := j.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, testDir, memOpts(mfs.crash()))
	defer s.Close()
	if got := dump(listAll(t, s)); got != want {
		t.Fatalf("state after a failed then a successful compaction:\n got %s\nwant %s", got, want)
	}
}
