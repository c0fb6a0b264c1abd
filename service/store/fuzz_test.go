package store

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzReplay seeds")

// FuzzReplay feeds arbitrary bytes to Open, as a journal segment and as a
// snapshot: Open never panics; it either refuses with a *CorruptError or
// yields a valid, writable store that reopens to the same state.
func FuzzReplay(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{journalName(1), snapshotName(1)} {
			mfs := newMemFS()
			mfs.MkdirAll(testDir)
			mfs.setBytes(filepath.Join(testDir, name), data)
			j, err := Open(testDir, memOpts(mfs))
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%s: Open failed without ErrCorrupt: %v", name, err)
				}
				continue
			}
			got := listAll(t, j)
			for i, m := range got {
				if m.ID == "" || m.Version == 0 || (i > 0 && got[i-1].ID >= m.ID) {
					t.Fatalf("%s: invalid state after replay: %s", name, dump(got))
				}
			}
			if err := j.Ready(context.Background()); err != nil {
				t.Fatalf("%s: replayed store not ready: %v", name, err)
			}
			if _, err := j.Create(context.Background(), testMovie("\x00fuzz-new", 1)); err != nil && !errors.Is(err, ErrExists) {
				t.Fatalf("%s: replayed store not writable: %v", name, err)
			}
			want := dump(listAll(t, j))
			j.Close()
			r, err := Open(testDir, memOpts(mfs))
			if err != nil {
				t.Fatalf("%s: reopen: %v", name, err)
			}
			if again := dump(listAll(t, r)); again != want {
				t.Fatalf("%s: replay not idempotent", name)
			}
			r.Close()
		}
	})
}

// TestFuzzSeeds regenerates the committed seeds with -update-seeds, and
// otherwise checks they are there.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReplay")
	if !*updateSeeds {
		ents, err := os.ReadDir(dir)
		if err != nil || len(ents) < 8 {
			t.Fatalf("want the committed seeds in %s (go test -run TestFuzzSeeds -update-seeds): %v", dir, err)
		}
		return
	}
	data, _, starts := fixture(t, 5)
	mfs := newMemFS()
	j := mustOpen(t, testDir, memOpts(mfs))
	history(t, j, "h", 12)
	j.Close()
	mixed := mfs.bytes(journalPath(1))
	flipped := bytes.Clone(data)
	flipped[starts[2]+12] ^= 0x20
	seeds := map[string][]byte{
		"empty":            {},
		"header-only":      journalMagic,
		"torn-header":      journalMagic[:5],
		"valid":            data,
		"put-update-del":   mixed,
		"torn-tail":        data[:len(data)-7],
		"flipped-middle":   flipped,
		"zeros-after":      append(bytes.Clone(data), make([]byte, 64)...),
		"snapshot":         snapshotBytes(t, 4),
		"probe-frame":      append(bytes.Clone(journalMagic), probeFrame()[:300]...),
		"end-in-journal":   append(bytes.Clone(journalMagic), appendFrame(nil, []byte(`{"end":{"frames":0,"movies":0}}`))...),
		"length-too-large": append(bytes.Clone(journalMagic), 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, '{', '}'),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
