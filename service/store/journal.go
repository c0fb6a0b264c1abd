package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// DefaultCompactBytes is the journal segment size past which a Journal
// compacts when Options.CompactBytes is zero.
const DefaultCompactBytes = 64 << 20

// maxBatch bounds how many queued writes one group commit takes.
const maxBatch = 1024

// Options configures Open.
type Options struct {
	// Logger receives recovery, fault and compaction reports; nil discards them.
	Logger *slog.Logger
	// CompactBytes is the size of the active journal segment past which the
	// journal is compacted into a snapshot: zero means DefaultCompactBytes,
	// a negative value turns automatic compaction off (Compact still works).
	CompactBytes int64
	// OnSync, if set, is told how long each journal fsync of a write batch
	// took and whether it failed (for metrics).
	OnSync func(d time.Duration, err error)

	// The fields below are reachable only from this package's tests and
	// benchmarks, never from a flag or another package.
	fs            fileSystem              // nil: the operating system
	noSync        bool                    // benchmark only: skip the fsync of each batch
	syncEachWrite bool                    // benchmark only: no group commit (one write per fsync)
	hook          func(step string) error // tests only: a non-nil error "crashes" compaction at step
}

// Journal is the durable Store: an in-memory index over an append-only,
// checksummed journal in a data directory, with group commit, torn-tail
// recovery, compaction to snapshots and a directory lock. Open returns one.
type Journal struct {
	dir  string
	fs   fileSystem
	log  *slog.Logger
	opts Options
	lock io.Closer

	mu sync.RWMutex // guards ix; only the committer writes it
	ix *index

	reqs    chan *request
	closeMu sync.RWMutex // held for reading while sending on reqs
	closed  bool
	done    chan struct{} // closed when the committer has exited

	healthy atomic.Bool // false from a failed write until a repair succeeds

	// Owned by the committer goroutine.
	f           file
	gen         uint64 // generation of the active segment
	end         int64  // offset after the last durable frame of the active segment
	broken      error  // classified cause while unhealthy
	pending     map[string]pendingWrite
	pendingSrc  map[sourceKey]string // source records taken ("" freed) by accepted, unflushed writes
	frame       []byte
	writes      []*request
	accepted    []*request
	probe       []byte
	compactAt   int64 // 0: no automatic compaction
	retryAt     int64 // after a failed compaction, wait for the segment to reach this
	compacting  bool
	closing     bool       // no new compaction once Close began
	running     []*request // Compact calls answered when the running compaction ends
	waiting     []*request // Compact calls for the next compaction
	compactDone chan error
}

type pendingWrite struct {
	m       Movie
	deleted bool
}

type reqKind uint8

const (
	reqWrite reqKind = iota
	reqProbe
	reqCompact
)

// request is one call waiting for the committer.
type request struct {
	kind  reqKind
	mut   mutation
	enc   []byte       // the encoded operation
	state atomic.Int32 // reqQueued → reqTaken by the committer, or → reqAbandoned by its caller
	out   Movie
	done  chan error // buffered: the committer never blocks on a reply
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

var errClosed = fmt.Errorf("%w: journal is closed", ErrUnavailable)

// Open replays the journal in dir (creating dir with mode 0700 if needed),
// takes the directory lock, and returns a Journal ready for writes. A torn
// tail is truncated and logged; damage anywhere else makes Open fail with a
// *CorruptError that names the file and offset; a held lock makes it fail
// with ErrLocked.
func Open(dir string, opts Options) (*Journal, error) {
	if opts.fs == nil {
		opts.fs = osFS{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	j := &Journal{
		dir:         dir,
		fs:          opts.fs,
		log:         opts.Logger.With("component", "store", "dir", dir),
		opts:        opts,
		ix:          newIndex(),
		reqs:        make(chan *request, maxBatch),
		done:        make(chan struct{}),
		pending:     map[string]pendingWrite{},
		pendingSrc:  map[sourceKey]string{},
		compactDone: make(chan error, 1),
	}
	switch {
	case opts.CompactBytes == 0:
		j.compactAt = DefaultCompactBytes
	case opts.CompactBytes > 0:
		j.compactAt = opts.CompactBytes
	}
	j.probe = probeFrame()
	if err := ensureDir(j.fs, dir); err != nil {
		return nil, err
	}
	lock, err := j.fs.Lock(filepath.Join(dir, lockName))
	if err != nil {
		return nil, err
	}
	j.lock = lock
	if err := j.recover(); err != nil {
		lock.Close()
		return nil, err
	}
	j.healthy.Store(true)
	go j.run()
	return j, nil
}

// probeFrame is a valid, empty batch padded to 64 KiB: repair writes and
// syncs it, then cuts it off, to learn whether the disk takes data again.
func probeFrame() []byte {
	payload := make([]byte, 64<<10-frameHeaderLen)
	for i := range payload {
		payload[i] = ' '
	}
	copy(payload, `{"ops":[]}`)
	return appendFrame(nil, payload)
}

func (j *Journal) path(name string) string { return filepath.Join(j.dir, name) }

// recover loads the newest snapshot, replays the live journal segments,
// truncates a torn tail, and leaves the newest segment open for appends.
func (j *Journal) recover() error {
	lay, err := readLayout(j.fs, j.dir)
	if err != nil {
		return err
	}
	live, err := lay.live()
	if err != nil {
		return err
	}
	base := lay.base()
	apply := func(_ []byte, w wireFrame) error { applyFrame(j.ix, w); return nil }
	if lay.hasSnapshot() {
		p := j.path(snapshotName(base))
		f, err := j.fs.OpenFile(p, os.O_RDONLY, 0)
		if err != nil {
			return fmt.Errorf("open snapshot: %w", err)
		}
		_, err = readSnapshot(f, p, apply)
		f.Close()
		if err != nil {
			return err
		}
	}
	segs := make([]*segment, 0, len(live))
	defer func() {
		for _, s := range segs {
			if s.f != nil && s.f != j.f {
				s.f.Close()
			}
		}
	}()
	for _, g := range live {
		p := j.path(journalName(g))
		f, err := j.fs.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open journal: %w", err)
		}
		s := &segment{gen: g, path: p, f: f}
		segs = append(segs, s)
		if err := scanJournal(s, apply); err != nil {
			return err
		}
	}
	for i, s := range segs {
		if s.bad != nil || s.tornHeader {
			if err := judgeTail(segs, i); err != nil {
				return err
			}
		}
	}
	// Everything checked: now repair torn tails and headers.
	for _, s := range segs {
		if err := j.mendTail(s); err != nil {
			return err
		}
	}
	if len(segs) == 0 {
		f, err := j.createSegment(base)
		if err != nil {
			return err
		}
		j.f, j.gen, j.end = f, base, fileHeaderLen
	} else {
		last := segs[len(segs)-1]
		j.f, j.gen, j.end = last.f, last.gen, max(last.good, fileHeaderLen)
	}
	j.removeStale(lay.stale())
	for _, n := range lay.unknown {
		j.log.Warn("unknown file in data directory left alone", "file", n)
	}
	for _, n := range lay.quarantined {
		j.log.Warn("quarantined journal bytes kept in the data directory; inspect, then move them away", "file", n)
	}
	j.log.Info("journal opened", "movies", len(j.ix.ids), "snapshot_gen", base, "segments", len(segs), "active", journalName(j.gen))
	return nil
}

// mendTail cuts a torn tail (or rewrites a torn header) and syncs the cut.
func (j *Journal) mendTail(s *segment) error {
	switch {
	case s.tornHeader:
		j.log.Warn("journal segment header torn; rewriting it", "file", s.path, "offset", 0, "dropped_bytes", s.size)
		if err := s.f.Truncate(0); err != nil {
			return fmt.Errorf("truncate %s: %w", s.path, err)
		}
		if _, err := s.f.WriteAt(journalMagic, 0); err != nil {
			return fmt.Errorf("write %s: %w", s.path, err)
		}
		s.good = fileHeaderLen
	case s.bad != nil:
		q, err := j.quarantine(s)
		if err != nil {
			return err
		}
		attrs := []any{"file", s.path, "offset", s.good, "dropped_bytes", s.size - s.good, "reason", s.bad.Reason, "quarantine", q}
		switch s.bad.Kind {
		case frameDamaged:
			j.log.Error("JOURNAL DAMAGED: the last record failed its checksum; it was moved to the quarantine file and the store serves without it: "+
				"compare with the latest backup", attrs...)
		case frameAborted:
			j.log.Warn("journal aborted write set aside", attrs...)
		default:
			j.log.Warn("journal torn tail truncated", attrs...)
		}
		if err := s.f.Truncate(s.good); err != nil {
			return fmt.Errorf("truncate %s: %w", s.path, err)
		}
	default:
		return nil
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", s.path, err)
	}
	return nil
}

// quarantine copies segment s's bad tail, from s.good to its end, into a
// file beside it and makes that durable before the tail is cut: bytes that
// did not replay are set aside, never deleted.
func (j *Journal) quarantine(s *segment) (string, error) {
	name := quarantineName(s.gen, s.good)
	p := j.path(name)
	f, err := j.fs.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	defer f.Close()
	buf := make([]byte, min(s.size-s.good, 1<<20))
	for off := s.good; off < s.size; {
		n := min(int64(len(buf)), s.size-off)
		if _, err := s.f.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read %s: %w", s.path, err)
		}
		if _, err := f.WriteAt(buf[:n], off-s.good); err != nil {
			return "", fmt.Errorf("write %s: %w", name, err)
		}
		off += n
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("sync %s: %w", name, err)
	}
	if err := j.fs.SyncDir(j.dir); err != nil {
		return "", fmt.Errorf("sync data dir: %w", err)
	}
	return name, nil
}

// createSegment creates an empty journal segment and makes it durable,
// entry included, before anything is appended to it.
func (j *Journal) createSegment(gen uint64) (file, error) {
	p := j.path(journalName(gen))
	f, err := j.fs.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", p, err)
	}
	if _, err = f.WriteAt(journalMagic, 0); err == nil {
		if err = f.Sync(); err == nil {
			err = j.fs.SyncDir(j.dir)
		}
	}
	if err != nil {
		f.Close()
		_ = j.fs.Remove(p) // an empty leftover is harmless: replay skips empty segments
		return nil, fmt.Errorf("create %s: %w", p, err)
	}
	return f, nil
}

// removeStale deletes files a newer snapshot made redundant. Failures are
// logged: a leftover is ignored by replay and removed next time.
func (j *Journal) removeStale(names []string) {
	if len(names) == 0 {
		return
	}
	for _, n := range names {
		if err := j.fs.Remove(j.path(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			j.log.Warn("remove stale file", "file", n, "err", err)
		} else {
			j.log.Info("removed stale file", "file", n)
		}
	}
	if err := j.fs.SyncDir(j.dir); err != nil {
		j.log.Warn("sync data dir", "err", err)
	}
}

// Get returns the movie with id, or ErrNotFound.
func (j *Journal) Get(_ context.Context, id string) (Movie, error) {
	j.mu.RLock()
	defer j.mu.RUnlock()
	m, ok := j.ix.get(id)
	if !ok {
		return Movie{}, ErrNotFound
	}
	return clone(m), nil
}

// BySource returns the movie imported from source's record id, or ErrNotFound.
func (j *Journal) BySource(_ context.Context, source, id string) (Movie, error) {
	j.mu.RLock()
	defer j.mu.RUnlock()
	m, ok := j.ix.source(sourceKey{source, id})
	if !ok {
		return Movie{}, ErrNotFound
	}
	return clone(m), nil
}

// List returns a page of movies in id order; see Store.
func (j *Journal) List(_ context.Context, q Query) ([]Movie, string, error) {
	j.mu.RLock()
	defer j.mu.RUnlock()
	items, next := j.ix.list(q)
	return items, next, nil
}

// Create stores m with Version 1 once it is durable; ErrExists if the id is taken.
func (j *Journal) Create(ctx context.Context, m Movie) (Movie, error) {
	m.Version = 1
	return j.write(ctx, opCreate, m, 0)
}

// Update replaces the movie with m.ID if its version equals version; see Store.
func (j *Journal) Update(ctx context.Context, m Movie, version uint64) (Movie, error) {
	m.Version = version + 1
	return j.write(ctx, opUpdate, m, version)
}

// Delete removes the movie if its version equals version (0: any); see Store.
func (j *Journal) Delete(ctx context.Context, id string, version uint64) error {
	if id == "" {
		return ErrNotFound
	}
	enc, err := encodeOp(id, nil)
	if err != nil {
		return err
	}
	r := &request{kind: reqWrite, mut: mutation{kind: opDelete, id: id, version: version}, enc: enc}
	return j.submit(ctx, r)
}

func (j *Journal) write(ctx context.Context, kind opKind, m Movie, version uint64) (Movie, error) {
	if m.ID == "" || !utf8.ValidString(m.ID) {
		return Movie{}, errors.New("store: movie id must be non-empty UTF-8")
	}
	enc, err := encodeOp("", &m)
	if err != nil {
		return Movie{}, err
	}
	if m, err = asStored(m, enc); err != nil {
		return Movie{}, err
	}
	r := &request{kind: reqWrite, mut: mutation{kind: kind, id: m.ID, movie: m, version: version}, enc: enc}
	if err := j.submit(ctx, r); err != nil {
		return Movie{}, err
	}
	return clone(r.out), nil
}

// Ready reports nil while the journal accepts writes. After a failed write
// it retries: it cuts the journal back to its last durable frame and probes
// whether a write and fsync succeed again.
func (j *Journal) Ready(ctx context.Context) error {
	if j.healthy.Load() {
		j.closeMu.RLock()
		closed := j.closed
		j.closeMu.RUnlock()
		if closed {
			return errClosed
		}
		return nil
	}
	return j.submit(ctx, &request{kind: reqProbe})
}

// Compact writes a snapshot of the current state and removes the journal
// segments it covers. It returns when the snapshot is durable.
func (j *Journal) Compact(ctx context.Context) error {
	return j.submit(ctx, &request{kind: reqCompact})
}

// Close stops accepting writes, waits for queued writes and a running
// compaction, and releases the directory lock. Reads keep working.
func (j *Journal) Close() error {
	j.closeMu.Lock()
	if j.closed {
		j.closeMu.Unlock()
		return nil
	}
	j.closed = true
	close(j.reqs)
	j.closeMu.Unlock()
	<-j.done
	err := j.f.Close()
	if lerr := j.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

// submit queues r for the committer and waits for its reply. The context is
// honoured until the committer takes the request; after that the outcome is
// decided and the caller learns it, so an error never hides a write.
func (j *Journal) submit(ctx context.Context, r *request) error {
	if err := ctx.Err(); err != nil {
		return err // select below picks at random when both cases are ready
	}
	r.done = make(chan error, 1)
	j.closeMu.RLock()
	if j.closed {
		j.closeMu.RUnlock()
		return errClosed
	}
	select {
	case j.reqs <- r:
		j.closeMu.RUnlock()
	case <-ctx.Done():
		j.closeMu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return ctx.Err()
		}
		return <-r.done
	}
}

// run is the committer: it takes every queued request at once, writes the
// accepted writes as one frame with one fsync, and applies them to the index
// only after that fsync succeeded.
func (j *Journal) run() {
	defer close(j.done)
	batch := make([]*request, 0, maxBatch)
	for {
		select {
		case r, ok := <-j.reqs:
			if !ok {
				j.closing = true
				for _, w := range j.waiting {
					w.done <- errClosed
				}
				j.waiting = nil
				if j.compacting {
					j.finishCompaction(<-j.compactDone)
				}
				return
			}
			batch = append(batch[:0], r)
			if !j.opts.syncEachWrite {
				batch = j.gather(batch)
			}
			j.process(batch)
			clear(batch)
		case err := <-j.compactDone:
			j.finishCompaction(err)
		}
	}
}

// gather adds the requests already queued, without waiting for more.
func (j *Journal) gather(batch []*request) []*request {
	for len(batch) < maxBatch {
		select {
		case r, ok := <-j.reqs:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

func (j *Journal) process(batch []*request) {
	writes := j.writes[:0]
	probes := 0
	for _, r := range batch {
		if !r.state.CompareAndSwap(reqQueued, reqTaken) {
			continue // its caller gave up before we took it
		}
		switch r.kind {
		case reqWrite:
			writes = append(writes, r)
		case reqProbe:
			probes++
		case reqCompact:
			j.waiting = append(j.waiting, r)
		}
	}
	if len(writes) > 0 {
		j.commit(writes)
	}
	if probes > 0 {
		var err error
		if j.broken != nil {
			err = j.repair()
		}
		for _, r := range batch {
			if r.kind == reqProbe && r.state.Load() == reqTaken {
				r.done <- err
			}
		}
	}
	clear(writes)
	j.writes = writes[:0]
	j.maybeCompact()
}

// commit checks each write against the index plus the writes accepted
// before it in this batch, and makes the accepted ones durable together.
func (j *Journal) commit(ws []*request) {
	if j.broken != nil {
		if err := j.repair(); err != nil {
			reply(ws, err)
			return
		}
	}
	acc := j.accepted[:0]
	frame := j.startFrame()
	for i, r := range ws {
		cur, ok := j.lookup(r.mut.id)
		m, err := r.mut.check(cur, ok, j.sourceTaken(r.mut))
		if err != nil {
			r.done <- err
			continue
		}
		if len(acc) > 0 && len(frame)+len(r.enc) > frameTarget {
			if err := j.flush(frame, acc); err != nil {
				reply(ws[i:], err)
				return
			}
			acc, frame = acc[:0], j.startFrame()
		}
		if len(acc) > 0 {
			frame = append(frame, ',')
		}
		frame = append(frame, r.enc...)
		r.out = m
		j.pending[r.mut.id] = pendingWrite{m: m, deleted: r.mut.kind == opDelete}
		if k, ok := sourceOf(m); ok && r.mut.kind != opUpdate {
			j.pendingSrc[k] = m.ID
			if r.mut.kind == opDelete {
				j.pendingSrc[k] = ""
			}
		}
		acc = append(acc, r)
	}
	if len(acc) > 0 {
		_ = j.flush(frame, acc) // replies either way
	}
	clear(acc)
	j.accepted = acc[:0]
}

func (j *Journal) startFrame() []byte {
	f := append(j.frame[:0], make([]byte, frameHeaderLen)...)
	return append(f, `{"ops":[`...)
}

// sourceTaken reports whether a create names a source record that the
// index or an accepted write of this batch already holds.
func (j *Journal) sourceTaken(mu mutation) bool {
	k, ok := sourceOf(mu.movie)
	if !ok || mu.kind != opCreate {
		return false
	}
	if id, ok := j.pendingSrc[k]; ok {
		return id != ""
	}
	_, ok = j.ix.bySource[k]
	return ok
}

func (j *Journal) lookup(id string) (Movie, bool) {
	if p, ok := j.pending[id]; ok {
		return p.m, !p.deleted
	}
	return j.ix.get(id) // the committer is the index's only writer
}

// flush appends one frame holding acc's operations, syncs it, then applies
// them to the index and replies to each.
func (j *Journal) flush(frame []byte, acc []*request) error {
	defer clear(j.pending)
	defer clear(j.pendingSrc)
	frame = append(frame, "]}"...)
	sealFrame(frame)
	j.frame = frame[:0] // keep the buffer for the next batch
	if err := j.append(frame); err != nil {
		reply(acc, err)
		return err
	}
	j.mu.Lock()
	for _, r := range acc {
		if r.mut.kind == opDelete {
			j.ix.remove(r.mut.id)
		} else {
			j.ix.put(r.out)
		}
	}
	j.mu.Unlock()
	reply(acc, nil)
	return nil
}

// append writes b at the end of the active segment and syncs it. On any
// failure the journal turns unhealthy and cuts the unsynced bytes off, so no
// half frame, and no frame whose writer was told it failed, stays behind for
// a later append to bury in the middle.
func (j *Journal) append(b []byte) error {
	n, err := j.f.WriteAt(b, j.end)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err == nil && !j.opts.noSync {
		start := time.Now()
		err = j.f.Sync()
		if j.opts.OnSync != nil {
			j.opts.OnSync(time.Since(start), err)
		}
		if err != nil {
			err = fmt.Errorf("fsync: %w", err)
		}
	}
	if err != nil {
		j.fail(fmt.Errorf("append %d bytes to %s at offset %d: %w", len(b), journalName(j.gen), j.end, err), b)
		return j.broken
	}
	j.end += int64(len(b))
	return nil
}

// fail marks the journal unhealthy and tries at once to cut the file back to
// its last durable frame. After a failed fsync the page cache may hold bytes
// the disk does not (Linux reports such an error once and may drop the dirty
// pages), so the region past j.end is treated as garbage: cut, and synced
// again, before anything is appended. When the cut fails too (a disk gone
// read-only), the failed frame's header is overwritten with its abort mark,
// so that even if its bytes reach the disk later, replay sets it aside
// instead of bringing back a write whose client was told it failed.
func (j *Journal) fail(err error, frame []byte) {
	j.broken = classify(err)
	j.healthy.Store(false)
	j.log.Error("journal write failed; writes refused until the disk takes data again", "err", err, "durable_offset", j.end)
	cerr := j.cut()
	if cerr == nil {
		return
	}
	j.log.Error("journal cut back to last durable frame failed; will retry", "err", cerr, "durable_offset", j.end)
	hdr := append([]byte(nil), frame[:frameHeaderLen]...)
	abortFrame(hdr)
	if _, aerr := j.f.WriteAt(hdr, j.end); aerr != nil {
		j.log.Error("journal could not mark the failed write aborted", "err", aerr, "offset", j.end)
		return
	}
	if aerr := j.f.Sync(); aerr != nil {
		j.log.Error("journal could not sync the abort mark of the failed write", "err", aerr, "offset", j.end)
	}
}

// cut truncates the active segment to j.end and syncs the truncation.
func (j *Journal) cut() error {
	if err := j.f.Truncate(j.end); err != nil {
		return fmt.Errorf("truncate %s to %d: %w", journalName(j.gen), j.end, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s after truncate: %w", journalName(j.gen), err)
	}
	return nil
}

// repair runs before a write or a readiness probe while unhealthy: cut the
// segment back to its last durable frame, then prove with a 64 KiB probe
// frame (written, synced and cut off again) that the disk takes data.
func (j *Journal) repair() error {
	err := j.cut()
	if err == nil {
		var n int
		n, err = j.f.WriteAt(j.probe, j.end)
		if err == nil && n < len(j.probe) {
			err = io.ErrShortWrite
		}
		if err == nil {
			err = j.f.Sync()
		}
		if err == nil {
			err = j.cut()
		}
		if err != nil {
			_ = j.cut()
		}
	}
	if err != nil {
		j.broken = classify(err)
		j.log.Warn("journal still unwritable", "err", err)
		return j.broken
	}
	j.broken = nil
	j.healthy.Store(true)
	j.log.Info("journal writable again", "durable_offset", j.end)
	return nil
}

func reply(rs []*request, err error) {
	for _, r := range rs {
		r.done <- err
	}
}
