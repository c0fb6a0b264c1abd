package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TestWriteFaults injects each kind of write failure through the file
// interface and checks the whole contract: the failing write returns
// ErrNoSpace (507) or ErrUnavailable (503), is never visible, Ready reports
// the fault, the journal keeps nothing past its last durable frame (so no
// crash, and no later append, can bring the failed write back or bury half a
// record), and writes resume by themselves once the fault clears.
func TestWriteFaults(t *testing.T) {
	cases := []struct {
		name string
		f    faults
		want error
	}{
		{"disk full (ENOSPC after a partial write)", faults{write: syscall.ENOSPC, short: true}, ErrNoSpace},
		{"quota exceeded (EDQUOT)", faults{write: syscall.EDQUOT}, ErrNoSpace},
		{"read-only file system (EROFS)", faults{write: syscall.EROFS, truncate: syscall.EROFS, create: syscall.EROFS}, ErrUnavailable},
		{"I/O error on write (EIO)", faults{write: syscall.EIO}, ErrUnavailable},
		{"short write without an error", faults{short: true}, ErrUnavailable},
		{"fsync error, dirty pages dropped (Linux)", faults{sync: syscall.EIO}, ErrUnavailable},
		{"fsync error, dirty pages kept for later writeback", faults{sync: syscall.EIO, keep: true}, ErrUnavailable},
		{"C-STORE-DURABLE fsync error with pages kept, and the cut failing too (disk going read-only)",
			faults{sync: syscall.EIO, keep: true, truncate: syscall.EROFS}, ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			mfs := newMemFS()
			ffs := &faultFS{fileSystem: mfs}
			var logs syncBuffer
			opts := memOpts(ffs)
			opts.Logger = testLogger(&logs)
			j := mustOpen(t, testDir, opts)
			defer j.Close()
			a := mustCreate(t, j, testMovie("a", 1))

			tc.f.match = "journal-"
			ffs.set(tc.f)
			if _, err := j.Create(ctx, testMovie("b", 2)); !errors.Is(err, tc.want) {
				t.Fatalf("Create during fault: err = %v, want %v", err, tc.want)
			}
			// Whatever survives the failed write, a kill or a power loss (after
			// background writeback) must not bring it back.
			mfs.writeback()
			for name, crashed := range map[string]*memFS{"kill": mfs.processCrash(), "power loss": mfs.crash()} {
				r := mustOpen(t, testDir, memOpts(crashed))
				if got := dump(listAll(t, r)); got != dump([]Movie{a}) {
					t.Fatalf("after %s during the fault:\n%s", name, got)
				}
				r.Close()
			}

			// Concurrent writers during the fault all fail too.
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Go(func() {
					if _, err := j.Create(ctx, testMovie(fmt.Sprintf("c%02d", i), i)); err == nil {
						t.Errorf("Create c%02d succeeded during the fault", i)
					}
				})
			}
			wg.Wait()
			if _, err := j.Update(ctx, testMovie("a", 7), 1); !errors.Is(err, tc.want) {
				t.Fatalf("Update during fault: err = %v, want %v", err, tc.want)
			}
			if got := dump(listAll(t, j)); got != dump([]Movie{a}) {
				t.Fatalf("failed writes are visible:\n%s", got)
			}
			if err := j.Ready(ctx); err == nil {
				t.Fatal("Ready = nil while the disk fails")
			}
			if tc.f.truncate == nil {
				// The cut: nothing past the last durable frame, even in the page cache.
				if got, want := len(mfs.bytes(journalPath(1))), fileHeaderLen+frameLenOf(t, a); got != want {
					t.Fatalf("journal holds %d bytes after the failure, want %d (the last durable frame's end)", got, want)
				}
			}
			ffs.set(faults{})
			if tc.name == "I/O error on write (EIO)" {
				// No Ready probe here: the next write itself retries.
			} else if err := j.Ready(ctx); err != nil {
				t.Fatalf("Ready after the fault cleared: %v", err)
			}
			c := mustCreate(t, j, testMovie("c", 3))
			if !strings.Contains(logs.String(), "journal write failed") || !strings.Contains(logs.String(), "journal writable again") {
				t.Errorf("fault and recovery not logged:\n%s", logs.String())
			}
			// The store opens cleanly after a crash: no half record was buried.
			for name, crashed := range map[string]*memFS{"kill": mfs.processCrash(), "power loss": mfs.crash()} {
				r, err := Open(testDir, memOpts(crashed))
				if err != nil {
					t.Fatalf("reopen after %s: %v", name, err)
				}
				if got, want := dump(listAll(t, r)), dump([]Movie{a, c}); got != want {
					t.Fatalf("after %s: got\n%s\nwant\n%s", name, got, want)
				}
				r.Close()
			}
		})
	}
}

// TestUnhealthyUntilRepaired: while the fault persists, Ready keeps failing
// and so does every write (the repair probe proves the disk is still full).
func TestUnhealthyUntilRepaired(t *testing.T) {
	ffs := &faultFS{fileSystem: newMemFS()}
	j := mustOpen(t, testDir, memOpts(ffs))
	defer j.Close()
	ctx := context.Background()
	ffs.set(faults{match: "journal-", write: syscall.ENOSPC})
	for i := range 3 {
		if _, err := j.Create(ctx, testMovie(fmt.Sprint(i), i)); !errors.Is(err, ErrNoSpace) {
			t.Fatalf("write %d: %v, want ErrNoSpace", i, err)
		}
		if err := j.Ready(ctx); !errors.Is(err, ErrNoSpace) {
			t.Fatalf("Ready %d: %v, want ErrNoSpace", i, err)
		}
	}
	ffs.set(faults{})
	if err := j.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if err := j.Ready(ctx); err != nil {
		t.Fatal(err)
	}
}

func frameLenOf(t *testing.T, m Movie) int {
	t.Helper()
	op, err := encodeOp("", &m)
	if err != nil {
		t.Fatal(err)
	}
	return frameHeaderLen + len(`{"ops":[`) + len(op) + len(`]}`)
}
