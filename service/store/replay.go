package store

import (
	"errors"
	"fmt"
	"io"
)

// applyFrame applies a batch of operations to ix. Puts carry the whole
// movie, so applying the same batch twice leaves the same state.
func applyFrame(ix *index, f wireFrame) {
	for _, op := range *f.Ops {
		if op.Op == "del" {
			ix.remove(op.ID)
			continue
		}
		ix.put(op.Movie.movie(op.Version))
	}
}

// corruptAt turns a frame or payload problem at off into a *CorruptError.
func corruptAt(path string, off int64, err error) error {
	var fe *frameError
	if errors.As(err, &fe) {
		return &CorruptError{File: path, Offset: fe.Offset, Reason: fe.Reason}
	}
	return &CorruptError{File: path, Offset: off, Reason: err.Error()}
}

// readSnapshot checks a whole snapshot file and calls each for every ops
// frame. A snapshot is renamed into place only after it was synced, so any
// flaw in it, a missing end mark included, is corruption.
func readSnapshot(f file, path string, each func(payload []byte, w wireFrame) error) (movies int, err error) {
	size, err := f.Size()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	torn, err := checkHeader(f, size, snapshotMagic)
	if err != nil {
		return 0, corruptAt(path, 0, err)
	}
	if torn {
		return 0, &CorruptError{File: path, Offset: 0, Reason: "file shorter than its header"}
	}
	fr := newFrameReader(f, fileHeaderLen, size)
	frames := 0
	for {
		off := fr.off
		p, err := fr.next()
		if errors.Is(err, io.EOF) {
			return 0, &CorruptError{File: path, Offset: off, Reason: "snapshot has no end mark"}
		}
		if err != nil {
			var fe *frameError
			if errors.As(err, &fe) {
				return 0, corruptAt(path, off, err)
			}
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
		w, err := decodeFrame(p)
		if err != nil {
			return 0, corruptAt(path, off, err)
		}
		if w.End != nil {
			if w.End.Frames != frames || w.End.Movies != movies {
				return 0, &CorruptError{File: path, Offset: off, Reason: fmt.Sprintf(
					"end mark counts %d frames and %d movies, file has %d and %d", w.End.Frames, w.End.Movies, frames, movies)}
			}
			if fr.off != size {
				return 0, &CorruptError{File: path, Offset: fr.off, Reason: "data after the end mark"}
			}
			return movies, nil
		}
		for _, op := range *w.Ops {
			if op.Op != "put" {
				return 0, &CorruptError{File: path, Offset: off, Reason: "snapshot holds a delete"}
			}
		}
		frames++
		movies += len(*w.Ops)
		if err := each(p, w); err != nil {
			return 0, err
		}
	}
}

// segment is the outcome of scanning one journal segment.
type segment struct {
	gen        uint64
	path       string
	f          file
	size       int64
	good       int64       // offset after the last valid frame
	tornHeader bool        // shorter than its header: a crash while it was created
	bad        *frameError // the first frame that is not whole and valid; nil if none
}

// empty reports whether the segment holds no frame at all.
func (s *segment) empty() bool { return s.size <= fileHeaderLen && (s.bad == nil) }

// scanJournal reads the frames of one segment and calls each for every
// valid frame before the first bad one. A frame whose checksum matches but
// whose payload is not a valid batch is corruption wherever it is: bytes
// that were torn cannot match their checksum.
func scanJournal(s *segment, each func(payload []byte, w wireFrame) error) error {
	size, err := s.f.Size()
	if err != nil {
		return fmt.Errorf("stat %s: %w", s.path, err)
	}
	s.size = size
	torn, err := checkHeader(s.f, size, journalMagic)
	if err != nil {
		return corruptAt(s.path, 0, err)
	}
	if torn {
		s.tornHeader = true
		return nil
	}
	fr := newFrameReader(s.f, fileHeaderLen, size)
	for {
		off := fr.off
		s.good = off
		p, err := fr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if errors.As(err, &s.bad) {
				return nil
			}
			return fmt.Errorf("read %s: %w", s.path, err)
		}
		w, err := decodeFrame(p)
		if err != nil {
			return corruptAt(s.path, off, err)
		}
		if w.End != nil {
			return &CorruptError{File: s.path, Offset: off, Reason: "end mark in a journal segment"}
		}
		if err := each(p, w); err != nil {
			return err
		}
	}
}

// judgeTail decides whether segment i's bad bytes are a torn tail (the
// segment is the last one holding frames and no valid frame follows the bad
// one) or damage in the middle, which is returned as a *CorruptError.
func judgeTail(segs []*segment, i int) error {
	s := segs[i]
	for _, later := range segs[i+1:] {
		if !later.empty() {
			off := s.good
			reason := "segment is incomplete but a later segment holds data"
			if s.bad != nil {
				reason = s.bad.Reason + "; a later segment holds data"
			}
			return &CorruptError{File: s.path, Offset: off, Reason: reason}
		}
	}
	if s.bad == nil {
		return nil
	}
	followed, err := findFrame(s.f, s.bad.Offset+1, s.size)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.path, err)
	}
	if followed {
		return &CorruptError{File: s.path, Offset: s.bad.Offset, Reason: s.bad.Reason + "; valid records follow it"}
	}
	return nil
}
