package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture writes n movies, one frame each, and returns the journal bytes,
// the movies, and the offset where each frame starts.
func fixture(t *testing.T, n int) ([]byte, []Movie, []int64) {
	t.Helper()
	mfs := newMemFS()
	j := mustOpen(t, testDir, memOpts(mfs))
	var ms []Movie
	for i := range n {
		ms = append(ms, mustCreate(t, j, testMovie(fmt.Sprintf("m%d", i), i)))
	}
	j.Close()
	data := mfs.bytes(journalPath(1))
	fr := newFrameReader(bytes.NewReader(data), fileHeaderLen, int64(len(data)))
	var starts []int64
	for {
		off := fr.off
		if _, err := fr.next(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		starts = append(starts, off)
	}
	if len(starts) != n {
		t.Fatalf("%d frames, want %d", len(starts), n)
	}
	return data, ms, starts
}

func openBytes(t *testing.T, data []byte, logs *syncBuffer) (*Journal, *memFS, error) {
	t.Helper()
	mfs := newMemFS()
	mfs.MkdirAll(testDir)
	mfs.setBytes(journalPath(1), data)
	opts := memOpts(mfs)
	if logs != nil {
		opts.Logger = testLogger(logs)
	}
	j, err := Open(testDir, opts)
	return j, mfs, err
}

// TestTornTail cuts the journal at every byte of its last record: Open
// truncates the partial record, logs the offset and the bytes dropped, and
// keeps every earlier record.
func TestTornTail(t *testing.T) {
	data, ms, starts := fixture(t, 5)
	last := starts[len(starts)-1]
	for cut := last + 1; cut < int64(len(data)); cut++ {
		var logs syncBuffer
		j, mfs, err := openBytes(t, data[:cut], &logs)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if got, want := dump(listAll(t, j)), dump(ms[:4]); got != want {
			t.Fatalf("cut at %d: got\n%s\nwant\n%s", cut, got, want)
		}
		j.Close()
		if n := int64(len(mfs.bytes(journalPath(1)))); n != last {
			t.Fatalf("cut at %d: journal is %d bytes after Open, want %d", cut, n, last)
		}
		want := fmt.Sprintf(`"offset":%d,"dropped_bytes":%d`, last, cut-last)
		if !strings.Contains(logs.String(), "journal torn tail truncated") || !strings.Contains(logs.String(), want) {
			t.Fatalf("cut at %d: log lacks %s:\n%s", cut, want, logs.String())
		}
	}
}

// TestBadTail: a final record that is whole but fails its checksum, or
// junk after the last record, with nothing valid after it, is a torn tail.
func TestBadTail(t *testing.T) {
	data, ms, _ := fixture(t, 3)
	flipped := bytes.Clone(data)
	flipped[len(flipped)-3] ^= 0x10
	cases := map[string][]byte{
		"checksum of the last record fails": flipped,
		"zeros after the last record":       append(bytes.Clone(data), make([]byte, 4096)...),
		"junk after the last record":        append(bytes.Clone(data), []byte("\xff\x00\x13garbage{\"ops\":[]}")...),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			j, _, err := openBytes(t, in, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			want := ms
			if name == "checksum of the last record fails" {
				want = ms[:2]
			}
			if got := dump(listAll(t, j)); got != dump(want) {
				t.Fatalf("got\n%s\nwant\n%s", got, dump(want))
			}
		})
	}
}

// TestCorruptionInTheMiddleRefusesToStart flips bits in every record but
// the last (length, checksum and payload bytes): Open refuses with an error
// that names the file and the record's offset and points at the restore
// procedure, and leaves the file untouched.
func TestCorruptionInTheMiddleRefusesToStart(t *testing.T) {
	data, _, starts := fixture(t, 5)
	dir := t.TempDir()
	path := filepath.Join(dir, journalName(1))
	for k, start := range starts[:len(starts)-1] {
		end := starts[k+1]
		for _, pos := range []int64{start, start + 2, start + 5, start + 8, (start + end) / 2, end - 1} {
			for _, bit := range []byte{0x01, 0x80} {
				bad := bytes.Clone(data)
				bad[pos] ^= bit
				if err := os.WriteFile(path, bad, 0o600); err != nil {
					t.Fatal(err)
				}
				_, err := Open(dir, Options{})
				var ce *CorruptError
				if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("flip %#x at %d: err = %v, want a *CorruptError", bit, pos, err)
				}
				if ce.File != path || ce.Offset != start {
					t.Fatalf("flip at %d: error names %s offset %d, want %s offset %d", pos, ce.File, ce.Offset, path, start)
				}
				for _, s := range []string{path, fmt.Sprintf("offset %d", start), "restore"} {
					if !strings.Contains(err.Error(), s) {
						t.Fatalf("error %q does not mention %q", err, s)
					}
				}
				if after, _ := os.ReadFile(path); !bytes.Equal(after, bad) {
					t.Fatalf("flip at %d: Open changed a file it refused", pos)
				}
			}
		}
	}
}

// TestRefusals: other damage that Open must not paper over.
func TestRefusals(t *testing.T) {
	data, _, starts := fixture(t, 3)
	validFrame := func(payload string) []byte { return appendFrame(nil, []byte(payload)) }
	cases := []struct {
		name  string
		setup func(m *memFS)
		file  string
	}{
		{"wrong file header", func(m *memFS) {
			bad := bytes.Clone(data)
			copy(bad, "NOTAJRNL")
			m.setBytes(journalPath(1), bad)
		}, journalPath(1)},
		{"whole record with a matching checksum but an invalid payload, at the tail", func(m *memFS) {
			m.setBytes(journalPath(1), append(bytes.Clone(data), validFrame(`{"ops":[{"op":"put"}]}`)...))
		}, journalPath(1)},
		{"unknown field in a record", func(m *memFS) {
			m.setBytes(journalPath(1), append(bytes.Clone(data), validFrame(`{"ops":[],"token":"x"}`)...))
		}, journalPath(1)},
		{"missing journal segment", func(m *memFS) {
			m.setBytes(journalPath(1), data)
			m.setBytes(journalPath(3), journalMagic)
		}, journalPath(2)},
		{"torn record in a segment followed by one that holds data", func(m *memFS) {
			m.setBytes(journalPath(1), data[:starts[2]+3])
			m.setBytes(journalPath(2), data)
		}, journalPath(1)},
		{"corrupt snapshot", func(m *memFS) {
			snap := snapshotBytes(t, 3)
			snap[len(snap)/2] ^= 1
			m.setBytes(snapshotPath(2), snap)
		}, snapshotPath(2)},
		{"snapshot without its end mark", func(m *memFS) {
			snap := snapshotBytes(t, 3)
			fr := newFrameReader(bytes.NewReader(snap), fileHeaderLen, int64(len(snap)))
			var lastStart int64
			for {
				off := fr.off
				if _, err := fr.next(); err != nil {
					break
				}
				lastStart = off
			}
			m.setBytes(snapshotPath(2), snap[:lastStart])
		}, snapshotPath(2)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mfs := newMemFS()
			mfs.MkdirAll(testDir)
			tc.setup(mfs)
			_, err := Open(testDir, memOpts(mfs))
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Open: err = %v, want a *CorruptError", err)
			}
			if ce.File != tc.file {
				t.Fatalf("error names %s, want %s (%v)", ce.File, tc.file, err)
			}
		})
	}
}

// snapshotBytes returns a snapshot (generation 2) holding n movies.
func snapshotBytes(t *testing.T, n int) []byte {
	t.Helper()
	mfs := newMemFS()
	j := mustOpen(t, testDir, memOpts(mfs))
	for i := range n {
		mustCreate(t, j, testMovie(fmt.Sprintf("s%d", i), i))
	}
	if err := j.Compact(t.Context()); err != nil {
		t.Fatal(err)
	}
	j.Close()
	return mfs.bytes(snapshotPath(2))
}

// TestTornHeaderAndEmptySegments: a crash while a segment was being created
// leaves a short header; the torn tail of the segment before it is still a
// torn tail.
func TestTornHeaderAndEmptySegments(t *testing.T) {
	data, ms, starts := fixture(t, 3)
	for n := range fileHeaderLen {
		mfs := newMemFS()
		mfs.MkdirAll(testDir)
		mfs.setBytes(journalPath(1), data[:starts[2]+5]) // torn last record
		mfs.setBytes(journalPath(2), journalMagic[:n])   // torn header
		j, err := Open(testDir, memOpts(mfs))
		if err != nil {
			t.Fatalf("header of %d bytes: %v", n, err)
		}
		if got := dump(listAll(t, j)); got != dump(ms[:2]) {
			t.Fatalf("header of %d bytes: got\n%s", n, got)
		}
		mustCreate(t, j, testMovie("new", 9))
		j.Close()
		if got := mfs.bytes(journalPath(2)); !bytes.HasPrefix(got, journalMagic) {
			t.Fatalf("header not rewritten: %q", got)
		}
		r := mustOpen(t, testDir, memOpts(mfs))
		if len(listAll(t, r)) != 3 {
			t.Fatalf("after append to the mended segment: %s", dump(listAll(t, r)))
		}
		r.Close()
	}
}

// TestDamagedLastRecordIsQuarantined: a last record that is whole but fails
// its checksum is not a torn write. Open serves without it, but its bytes
// move to a quarantine file beside the journal (durably, never deleted) and
// the log says so at error level; a second Open keeps the quarantine file.
func TestDamagedLastRecordIsQuarantined(t *testing.T) {
	data, ms, starts := fixture(t, 3)
	last := starts[len(starts)-1]
	flipped := bytes.Clone(data)
	flipped[len(flipped)-3] ^= 0x10
	var logs syncBuffer
	j, mfs, err := openBytes(t, flipped, &logs)
	if err != nil {
		t.Fatal(err)
	}
	if got := dump(listAll(t, j)); got != dump(ms[:2]) {
		t.Fatalf("got\n%s\nwant\n%s", got, dump(ms[:2]))
	}
	j.Close()
	q := filepath.Join(testDir, quarantineName(1, last))
	if got := mfs.crash().bytes(q); !bytes.Equal(got, flipped[last:]) {
		t.Fatalf("C-STORE-DURABLE quarantine %s holds %d durable bytes, want the %d bytes of the damaged record", q, len(got), len(flipped)-int(last))
	}
	if !strings.Contains(logs.String(), `"level":"ERROR","msg":"JOURNAL DAMAGED`) || !strings.Contains(logs.String(), quarantineName(1, last)) {
		t.Fatalf("C-STORE-DURABLE the damaged record was not reported loudly with its quarantine file:\n%s", logs.String())
	}
	logs = syncBuffer{}
	opts := memOpts(mfs)
	opts.Logger = testLogger(&logs)
	r := mustOpen(t, testDir, opts)
	r.Close()
	if mfs.bytes(q) == nil || !strings.Contains(logs.String(), "quarantined journal bytes kept") {
		t.Fatalf("a second Open lost or forgot the quarantine file:\n%s", logs.String())
	}
}
