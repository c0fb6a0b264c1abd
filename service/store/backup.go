package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Backup writes a single-file backup of the data in dir to w. It does not
// take the directory lock, so it works on the data dir of a running service:
// it copies the newest snapshot and then the journal segments up to the last
// whole, checksummed frame it finds, which is a consistent prefix of the
// history of writes. Every frame is verified before it is copied, and the
// backup ends with an end mark that Restore requires; if Backup returns an
// error, what it wrote is incomplete and must be discarded.
func Backup(dir string, w io.Writer) error { return backup(osFS{}, dir, w) }

// Restore verifies every checksum of the backup read from r and, only if the
// whole backup is valid, restores it into dir, which must be empty or not
// exist. The restored directory holds one snapshot; Open it as usual.
func Restore(r io.Reader, dir string) error { return restore(osFS{}, r, dir) }

// backupSet is the files a backup reads, opened before reading any, so that
// a compaction that removes them meanwhile cannot pull them away.
type backupSet struct {
	snap     file
	snapPath string
	segs     []*segment
}

func (b *backupSet) close() {
	if b.snap != nil {
		b.snap.Close()
	}
	for _, s := range b.segs {
		s.f.Close()
	}
}

// openBackupSet lists dir and opens the newest snapshot and the segments
// after it. A concurrent compaction can remove a listed file before it is
// opened; then it lists again.
func openBackupSet(fsys fileSystem, dir string) (*backupSet, error) {
	var lastErr error
	for attempt := 0; attempt < 50; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * time.Millisecond)
		}
		set, err := tryOpenBackupSet(fsys, dir)
		if err == nil {
			return set, nil
		}
		var ce *CorruptError
		if !errors.Is(err, os.ErrNotExist) && !errors.As(err, &ce) {
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryOpenBackupSet(fsys fileSystem, dir string) (set *backupSet, err error) {
	lay, err := readLayout(fsys, dir)
	if err != nil {
		return nil, err
	}
	live, err := lay.live()
	if err != nil {
		return nil, err
	}
	set = &backupSet{}
	defer func() {
		if err != nil {
			set.close()
		}
	}()
	if lay.hasSnapshot() {
		set.snapPath = filepath.Join(dir, snapshotName(lay.base()))
		if set.snap, err = fsys.OpenFile(set.snapPath, os.O_RDONLY, 0); err != nil {
			return nil, err
		}
	}
	for _, g := range live {
		p := filepath.Join(dir, journalName(g))
		f, err := fsys.OpenFile(p, os.O_RDONLY, 0)
		if err != nil {
			return nil, err
		}
		s := &segment{gen: g, path: p, f: f}
		set.segs = append(set.segs, s)
		if s.size, err = f.Size(); err != nil {
			return nil, err
		}
	}
	return set, nil
}

func backup(fsys fileSystem, dir string, w io.Writer) error {
	set, err := openBackupSet(fsys, dir)
	if err != nil {
		return fmt.Errorf("backup %s: %w", dir, err)
	}
	defer set.close()
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := bw.Write(backupMagic); err != nil {
		return fmt.Errorf("backup: write: %w", err)
	}
	frames, movies := 0, 0
	var werr error
	copyFrame := func(payload []byte, wf wireFrame) error {
		if werr == nil {
			_, werr = bw.Write(appendFrame(nil, payload))
		}
		frames++
		for _, op := range *wf.Ops {
			if op.Op == "put" {
				movies++
			}
		}
		return werr
	}
	if set.snap != nil {
		if _, err := readSnapshot(set.snap, set.snapPath, copyFrame); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	for i := range set.segs {
		stop, err := copySegment(set.segs, i, copyFrame)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		if stop {
			break
		}
	}
	end, _ := encodeEnd(frames, movies)
	if _, err := bw.Write(appendFrame(nil, end)); err != nil {
		return fmt.Errorf("backup: write: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("backup: write: %w", err)
	}
	return nil
}

// copySegment copies the valid frames of segment i (up to the size it had
// when opened) and reports stop when it ended at a bad frame: a live tail
// still being written, or a torn one. A bad frame with valid data after it
// is corruption, unless it reads whole a moment later (a write landed).
func copySegment(segs []*segment, i int, each func([]byte, wireFrame) error) (stop bool, err error) {
	s := segs[i]
	torn, err := checkHeader(s.f, s.size, journalMagic)
	if err != nil {
		return false, corruptAt(s.path, 0, err)
	}
	if torn {
		return true, nil
	}
	fr := newFrameReader(s.f, fileHeaderLen, s.size)
	retried := int64(-1)
	for {
		off := fr.off
		p, err := fr.next()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		var fe *frameError
		if errors.As(err, &fe) {
			s.good, s.bad = off, fe
			if err := judgeTail(segs, i); err == nil {
				return true, nil
			} else if retried == off {
				return false, err
			}
			// Read it once more: a concurrent writer may have completed it.
			time.Sleep(20 * time.Millisecond)
			retried = off
			if s.size, err = s.f.Size(); err != nil {
				return false, err
			}
			fr = newFrameReader(s.f, off, s.size)
			continue
		}
		if err != nil {
			return false, fmt.Errorf("read %s: %w", s.path, err)
		}
		w, err := decodeFrame(p)
		if err != nil {
			return false, corruptAt(s.path, off, err)
		}
		if w.End != nil {
			return false, &CorruptError{File: s.path, Offset: off, Reason: "end mark in a journal segment"}
		}
		if err := each(p, w); err != nil {
			return false, err
		}
	}
}

// readStreamFrame reads one frame from a stream at offset off.
func readStreamFrame(r *bufio.Reader, off int64, buf []byte) ([]byte, error) {
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, &frameError{Offset: off, Reason: "backup ends inside a frame header"}
	}
	n := binary.LittleEndian.Uint32(hdr[0:])
	if n < minFrameLen || n > maxFrameLen {
		return nil, &frameError{Offset: off, Reason: fmt.Sprintf("frame length %d out of range", n)}
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	p := buf[:n]
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, &frameError{Offset: off, Reason: "backup ends inside a frame"}
	}
	if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
		return nil, &frameError{Offset: off, Reason: "checksum mismatch"}
	}
	return p, nil
}

// readBackup verifies a whole backup stream and returns its state.
func readBackup(r io.Reader) (*index, error) {
	const name = "backup"
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, fileHeaderLen)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != string(backupMagic) {
		return nil, &CorruptError{File: name, Offset: 0, Reason: "not a movie store backup (bad header)"}
	}
	ix := newIndex()
	off := int64(fileHeaderLen)
	frames, movies := 0, 0
	var buf []byte
	for {
		p, err := readStreamFrame(br, off, buf)
		if errors.Is(err, io.EOF) {
			return nil, &CorruptError{File: name, Offset: off, Reason: "backup has no end mark (incomplete)"}
		}
		if err != nil {
			var fe *frameError
			if errors.As(err, &fe) {
				return nil, corruptAt(name, off, err)
			}
			return nil, err
		}
		buf = p
		w, err := decodeFrame(p)
		if err != nil {
			return nil, corruptAt(name, off, err)
		}
		if w.End != nil {
			if w.End.Frames != frames || w.End.Movies != movies {
				return nil, &CorruptError{File: name, Offset: off, Reason: fmt.Sprintf(
					"end mark counts %d frames and %d movies, backup has %d and %d", w.End.Frames, w.End.Movies, frames, movies)}
			}
			if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
				return nil, &CorruptError{File: name, Offset: off + frameHeaderLen + int64(len(p)), Reason: "data after the end mark"}
			}
			return ix, nil
		}
		applyFrame(ix, w)
		frames++
		for _, op := range *w.Ops {
			if op.Op == "put" {
				movies++
			}
		}
		off += frameHeaderLen + int64(len(p))
	}
}

func restore(fsys fileSystem, r io.Reader, dir string) error {
	ix, err := readBackup(r)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := ensureDir(fsys, dir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := requireEmpty(fsys, dir, ""); err != nil {
		return err
	}
	lock, err := fsys.Lock(filepath.Join(dir, lockName))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer lock.Close()
	if err := requireEmpty(fsys, dir, lockName); err != nil {
		return err
	}
	page := func(after string, n int) []Movie {
		items, _ := ix.list(Query{After: after, Limit: n})
		return items
	}
	if err := writeSnapshot(fsys, dir, 1, page, func(string) error { return nil }); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func requireEmpty(fsys fileSystem, dir, allowed string) error {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, n := range names {
		if n != allowed {
			return fmt.Errorf("restore: %s is not empty (found %s); restore only into an empty directory", dir, n)
		}
	}
	return nil
}
