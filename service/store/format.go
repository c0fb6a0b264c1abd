package store

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"
	"unicode/utf8"
)

// On-disk framing; README.md describes it for operators.
const (
	fileHeaderLen  = 8       // every file starts with an 8-byte magic
	frameHeaderLen = 8       // uint32 LE payload length, uint32 LE CRC-32C of the payload
	maxFrameLen    = 4 << 20 // the length's top byte is always zero (see README.md)
	maxOpLen       = 1 << 20 // one encoded put or delete
	frameTarget    = 1 << 20 // a batch or snapshot frame is closed once it passes this
	minFrameLen    = 2       // "{}"
)

var (
	journalMagic  = []byte("SMSJRNL1")
	snapshotMagic = []byte("SMSSNAP1")
	backupMagic   = []byte("SMSBKUP1")

	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// CorruptError reports stored bytes that fail their checks somewhere other
// than a torn tail. It names the file and the byte offset, and wraps
// ErrCorrupt.
type CorruptError struct {
	File   string // path of the file
	Offset int64  // byte offset of the first bad frame (or header)
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("store: %s is corrupt at offset %d: %s; the store refuses to start rather than serve partial data: "+
		"move the data directory aside and restore the latest backup into an empty one (`movies restore -data-dir DIR FILE`, see service/store/README.md)",
		e.File, e.Offset, e.Reason)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// wireOp is one operation as it is stored: a put carries the whole movie and
// its version, a delete only the id.
type wireOp struct {
	Op      string  `json:"op"` // "put" or "del"
	ID      string  `json:"id,omitempty"`
	Version uint64  `json:"version,omitempty"`
	Movie   *record `json:"movie,omitempty"`
}

// record is a movie as the journal stores it. It is not Movie, the API's
// wire type: renaming a JSON field there must never change the disk format.
type record struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Year      int       `json:"year"`
	Genres    []string  `json:"genres"`
	Director  string    `json:"director"`
	Source    string    `json:"source,omitempty"` // absent in records written before imports existed
	SourceID  string    `json:"source_id,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toRecord(m *Movie) *record {
	return &record{ID: m.ID, Title: m.Title, Year: m.Year, Genres: m.Genres, Director: m.Director,
		Source: m.Source, SourceID: m.SourceID, CreatedBy: m.CreatedBy, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

// movie returns the stored record as a Movie at version.
func (r *record) movie(version uint64) Movie {
	return Movie{ID: r.ID, Title: r.Title, Year: r.Year, Genres: r.Genres, Director: r.Director,
		Source: r.Source, SourceID: r.SourceID, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Version: version}
}

// wireFrame is one frame's payload: either a batch of operations (one group
// commit, applied all or nothing) or, last in snapshots and backups, an end
// mark that proves the file is complete.
type wireFrame struct {
	Ops *[]wireOp `json:"ops,omitempty"`
	End *wireEnd  `json:"end,omitempty"`
}

type wireEnd struct {
	Frames int `json:"frames"` // ops frames before the end mark
	Movies int `json:"movies"` // put operations before the end mark
}

// encodeOp returns the stored form of a put (m with its Version) or, when m
// is nil, of a delete of id.
func encodeOp(id string, m *Movie) ([]byte, error) {
	op := wireOp{Op: "del", ID: id}
	if m != nil {
		op = wireOp{Op: "put", Version: m.Version, Movie: toRecord(m)}
	}
	b, err := json.Marshal(op)
	if err != nil {
		return nil, fmt.Errorf("encode movie: %w", err)
	}
	if len(b) > maxOpLen {
		return nil, fmt.Errorf("store: movie encodes to %d bytes, more than %d", len(b), maxOpLen)
	}
	return b, nil
}

// asStored returns m as replay will read it back. JSON replaces invalid UTF-8
// with U+FFFD, so such a movie is round-tripped; every other movie already
// reads back identically.
func asStored(m Movie, enc []byte) (Movie, error) {
	if allValidUTF8([]string{m.ID, m.Title, m.Director, m.Source, m.SourceID, m.CreatedBy}) && allValidUTF8(m.Genres) {
		return m, nil
	}
	var op wireOp
	if err := json.Unmarshal(enc, &op); err != nil || op.Movie == nil {
		return Movie{}, fmt.Errorf("store: movie does not round-trip: %v", err)
	}
	return op.Movie.movie(m.Version), nil
}

func allValidUTF8(ss []string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// encodeEnd returns the payload of an end mark.
func encodeEnd(frames, movies int) ([]byte, error) {
	return json.Marshal(wireFrame{End: &wireEnd{Frames: frames, Movies: movies}})
}

// appendFrame appends payload framed with its length and CRC-32C.
func appendFrame(dst, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, frameLen(payload))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(payload, castagnoli))
	return append(dst, payload...)
}

// frameLen is the length field of payload's frame. Writers keep frames
// within maxFrameLen (frameTarget plus one operation); a larger one is a bug.
func frameLen(payload []byte) uint32 {
	n := len(payload)
	if n < 0 || n > maxFrameLen {
		panic(fmt.Sprintf("store: frame of %d bytes exceeds %d", n, maxFrameLen))
	}
	return uint32(n)
}

// abortFrame turns the sealed frame header hdr into its abort mark: the
// same length and the checksum inverted, so replay knows the frame as a
// write that was reported failed and never applies it.
func abortFrame(hdr []byte) {
	binary.LittleEndian.PutUint32(hdr[4:], ^binary.LittleEndian.Uint32(hdr[4:]))
}

// sealFrame fills in the header of a frame built in place: buf holds
// frameHeaderLen reserved bytes followed by the payload.
func sealFrame(buf []byte) {
	payload := buf[frameHeaderLen:]
	binary.LittleEndian.PutUint32(buf[0:], frameLen(payload))
	binary.LittleEndian.PutUint32(buf[4:], crc32.Checksum(payload, castagnoli))
}

// decodeFrame parses and checks a payload whose checksum already matched.
func decodeFrame(payload []byte) (wireFrame, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var f wireFrame
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("payload: %v", err)
	}
	if rest := payload[dec.InputOffset():]; len(bytes.TrimSpace(rest)) != 0 {
		return f, errors.New("payload: data after the JSON object")
	}
	if (f.Ops == nil) == (f.End == nil) {
		return f, errors.New("payload: want exactly one of ops and end")
	}
	if f.Ops == nil {
		return f, nil
	}
	for i, op := range *f.Ops {
		switch {
		case op.Op == "put" && op.ID == "" && op.Version > 0 && op.Movie != nil && op.Movie.ID != "":
		case op.Op == "del" && op.ID != "" && op.Version == 0 && op.Movie == nil:
		default:
			return f, fmt.Errorf("payload: operation %d is not a valid put or del", i)
		}
	}
	return f, nil
}

// frameError says why the bytes at Offset are not a whole, valid frame.
type frameError struct {
	Offset int64
	Reason string
	Kind   frameFault
}

// frameFault tells a crash's leftovers from damage.
type frameFault uint8

const (
	frameTorn    frameFault = iota // runs past the end of the file, or no header: a crash mid-write
	frameDamaged                   // whole, but its checksum fails: the bytes changed after they were written
	frameAborted                   // marked by abortFrame: a write that was reported failed
)

func (e *frameError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Reason) }

// frameReader reads frames sequentially from a file of known size.
type frameReader struct {
	br      *bufio.Reader
	off     int64 // offset of the next frame
	size    int64
	payload []byte
}

func newFrameReader(r io.ReaderAt, off, size int64) *frameReader {
	bufSize := int(min(max(size-off, 16), 256<<10))
	return &frameReader{br: bufio.NewReaderSize(io.NewSectionReader(r, off, size-off), bufSize), off: off, size: size}
}

// next returns the next payload (valid only until the following call) and
// advances; io.EOF at a clean end; a *frameError when the bytes at the
// current offset are not a whole frame with a matching checksum; any other
// error is a read error.
func (fr *frameReader) next() ([]byte, error) {
	if fr.off == fr.size {
		return nil, io.EOF
	}
	bad := func(format string, a ...any) error {
		return &frameError{Offset: fr.off, Reason: fmt.Sprintf(format, a...)}
	}
	if fr.size-fr.off < frameHeaderLen {
		return nil, bad("%d bytes where a frame header needs %d", fr.size-fr.off, frameHeaderLen)
	}
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(fr.br, hdr[:]); err != nil {
		return nil, fr.readErr(err)
	}
	n := int64(binary.LittleEndian.Uint32(hdr[0:]))
	sum := binary.LittleEndian.Uint32(hdr[4:])
	switch {
	case n < minFrameLen || n > maxFrameLen:
		return nil, bad("frame length %d out of range", n)
	case n > fr.size-fr.off-frameHeaderLen:
		return nil, bad("frame of %d bytes runs past the end of the file (%d bytes left)", n, fr.size-fr.off-frameHeaderLen)
	}
	if int64(cap(fr.payload)) < n {
		fr.payload = make([]byte, n)
	}
	p := fr.payload[:n]
	if _, err := io.ReadFull(fr.br, p); err != nil {
		return nil, fr.readErr(err)
	}
	if c := crc32.Checksum(p, castagnoli); c != sum {
		if c == ^sum {
			return nil, &frameError{Offset: fr.off, Reason: "write aborted after it failed", Kind: frameAborted}
		}
		return nil, &frameError{Offset: fr.off, Reason: "checksum mismatch in a whole frame", Kind: frameDamaged}
	}
	fr.off += frameHeaderLen + n
	return p, nil
}

// readErr reports a read error; a file that shrank under the reader (a live
// journal cut back after a failed write) reads as a bad frame.
func (fr *frameReader) readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &frameError{Offset: fr.off, Reason: "file ended while reading"}
	}
	return fmt.Errorf("read at %d: %w", fr.off, err)
}

// findFrame reports whether any offset in [from, size) starts a frame whose
// length fits and whose checksum matches: evidence that the bad bytes before
// it are damage in the middle rather than a torn tail.
func findFrame(r io.ReaderAt, from, size int64) (bool, error) {
	const window = 1 << 20
	buf := make([]byte, min(window, max(size-from, 0))+frameHeaderLen)
	var payload []byte
	for base := from; base+frameHeaderLen <= size; base += window {
		n := min(int64(len(buf)), size-base)
		if _, err := r.ReadAt(buf[:n], base); err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		for i := int64(0); i < window && i+frameHeaderLen <= n; i++ {
			l := int64(binary.LittleEndian.Uint32(buf[i:]))
			p := base + i
			if l < minFrameLen || l > maxFrameLen || l > size-p-frameHeaderLen {
				continue
			}
			start := i + frameHeaderLen
			if start+l <= n {
				payload = buf[start : start+l]
			} else {
				payload = make([]byte, l)
				if _, err := r.ReadAt(payload, p+frameHeaderLen); err != nil && !errors.Is(err, io.EOF) {
					return false, err
				}
			}
			if payload[0] == '{' && crc32.Checksum(payload, castagnoli) == binary.LittleEndian.Uint32(buf[i+4:]) {
				return true, nil
			}
		}
	}
	return false, nil
}

// checkHeader reads a file's magic. torn is true when the file is shorter
// than the header and holds a prefix of it (a crash while it was created).
func checkHeader(r io.ReaderAt, size int64, magic []byte) (torn bool, err error) {
	n := min(size, fileHeaderLen)
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 0); err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	if !bytes.Equal(hdr, magic[:n]) {
		return false, &frameError{Offset: 0, Reason: fmt.Sprintf("file header %q is not %q", hdr, magic)}
	}
	return n < fileHeaderLen, nil
}
