package store

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

// Compaction, step by step (each step name is a test hook):
//
//  1. rotated: the committer starts segment G+1 (created, synced, directory
//     synced) and appends there from now on. Snapshot G+1 must hold at least
//     the state of segments ≤ G.
//  2. temp-created, temp-written, temp-synced: a background goroutine writes
//     snapshot-(G+1).snap.tmp from the index, page by page under the read
//     lock, and fsyncs it. The index may already include writes of segment
//     G+1; that is harmless because each stored operation carries the whole
//     resulting movie (or a delete), so replaying segment G+1 over such a
//     snapshot ends in the same state.
//  3. renamed, dir-synced: rename to snapshot-(G+1).snap, fsync the directory.
//     From here on replay starts at G+1.
//  4. old-removed: delete segments ≤ G and older snapshots, fsync the directory.
//
// A crash before 3 leaves the old snapshot and every segment (the .tmp is
// removed on the next Open); a crash after it leaves redundant files that the
// next Open removes. Either way nothing is lost.

// maybeCompact starts a compaction when one was asked for or the active
// segment passed the threshold. It runs in the committer.
func (j *Journal) maybeCompact() {
	if j.compacting || j.closing {
		return
	}
	due := len(j.waiting) > 0 ||
		(j.compactAt > 0 && j.end >= j.compactAt && j.end >= j.retryAt)
	if !due {
		return
	}
	if j.broken != nil {
		reply(j.waiting, j.broken)
		j.waiting = nil
		return
	}
	if err := j.rotate(); err != nil {
		j.log.Warn("compaction: start new journal segment", "err", err)
		j.retryAt = j.end + j.compactAt
		reply(j.waiting, fmt.Errorf("compact: %w", classify(err)))
		j.waiting = nil
		return
	}
	j.compacting = true
	j.running, j.waiting = j.waiting, nil
	gen := j.gen
	go func() { j.compactDone <- j.snapshot(gen) }()
}

// rotate makes segment gen+1 durable and switches appends to it.
func (j *Journal) rotate() error {
	f, err := j.createSegment(j.gen + 1)
	if err != nil {
		return err
	}
	old := j.f
	j.f, j.gen, j.end, j.retryAt = f, j.gen+1, fileHeaderLen, 0
	if err := old.Close(); err != nil {
		j.log.Warn("close old journal segment", "err", err)
	}
	return j.step("rotated")
}

func (j *Journal) step(name string) error {
	if j.opts.hook != nil {
		return j.opts.hook(name)
	}
	return nil
}

// finishCompaction runs in the committer when the background part ends.
func (j *Journal) finishCompaction(err error) {
	j.compacting = false
	if err != nil {
		j.log.Warn("compaction failed; the journal keeps every record and will try again", "err", err)
		j.retryAt = j.end + j.compactAt
		err = fmt.Errorf("compact: %w", classify(err))
	} else {
		j.log.Info("compacted", "snapshot", snapshotName(j.gen))
	}
	reply(j.running, err)
	j.running = nil
	j.maybeCompact()
}

// snapshot writes snapshot gen from the index and removes what it covers.
func (j *Journal) snapshot(gen uint64) error {
	page := func(after string, n int) []Movie {
		j.mu.RLock()
		defer j.mu.RUnlock()
		items, _ := j.ix.list(Query{After: after, Limit: n})
		return items
	}
	if err := writeSnapshot(j.fs, j.dir, gen, page, j.step); err != nil {
		return err
	}
	lay, err := readLayout(j.fs, j.dir)
	if err != nil {
		return err
	}
	var names []string
	for _, n := range lay.stale() {
		if n != snapshotName(gen)+tempSuffix {
			names = append(names, n)
		}
	}
	j.removeStale(names)
	return j.step("old-removed")
}

// crashed wraps an error returned by a test hook: the "process" died there,
// so nothing is cleaned up.
type crashed struct{ err error }

func (c crashed) Error() string { return "crashed: " + c.err.Error() }
func (c crashed) Unwrap() error { return c.err }

// writeSnapshot writes every movie that page yields (in id order) to
// snapshot gen: temp file, fsync, rename, fsync the directory.
func writeSnapshot(fsys fileSystem, dir string, gen uint64, page func(after string, n int) []Movie, step func(string) error) (err error) {
	final := filepath.Join(dir, snapshotName(gen))
	tmp := final + tempSuffix
	f, err := fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	closed := false
	defer func() {
		if _, ok := err.(crashed); ok {
			return
		}
		if !closed {
			f.Close()
		}
		if err != nil {
			_ = fsys.Remove(tmp)
		}
	}()
	hook := func(name string) error {
		if err := step(name); err != nil {
			return crashed{err}
		}
		return nil
	}
	if err := hook("temp-created"); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(&offsetWriter{f: f}, 1<<20)
	bw.Write(snapshotMagic)
	payload := make([]byte, 0, frameTarget+maxOpLen)
	frames, movies, inFrame := 0, 0, 0
	emit := func() {
		payload = append(payload, "]}"...)
		bw.Write(appendFrame(nil, payload))
		frames++
		payload, inFrame = payload[:0], 0
	}
	after := ""
	for {
		items := page(after, 512)
		for i := range items {
			enc, err := encodeOp("", &items[i])
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", items[i].ID, err)
			}
			if inFrame > 0 && len(payload)+len(enc) > frameTarget {
				emit()
			}
			if inFrame == 0 {
				payload = append(payload, `{"ops":[`...)
			} else {
				payload = append(payload, ',')
			}
			payload = append(payload, enc...)
			inFrame++
			movies++
		}
		if len(items) < 512 {
			break
		}
		after = items[len(items)-1].ID
	}
	if inFrame > 0 {
		emit()
	}
	end, _ := encodeEnd(frames, movies)
	bw.Write(appendFrame(nil, end))
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := hook("temp-written"); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := hook("temp-synced"); err != nil {
		return err
	}
	closed = true
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, final); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	if err := hook("renamed"); err != nil {
		return err
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return hook("dir-synced")
}

// offsetWriter writes sequentially through WriteAt.
type offsetWriter struct {
	f   file
	off int64
}

func (w *offsetWriter) Write(p []byte) (int, error) {
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	if err == nil && n < len(p) {
		err = fmt.Errorf("short write")
	}
	return n, err
}
