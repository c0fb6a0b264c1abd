// Package logjson is a log/slog handler that writes the lines
// slog.JSONHandler writes, byte for byte, at a fraction of the cost for the
// records a request logs: attributes that are strings, integers, booleans,
// durations, finite floats, errors and string lists, on a logger without
// With attributes or groups. Every other record (groups, times, LogValuers,
// other values, a logger made by With or WithGroup, ReplaceAttr or
// AddSource set) is written by a slog.JSONHandler over the same writer and
// lock. Nothing is dropped or reordered: each record is one Write of one
// line. It imports only the standard library.
package logjson

import (
	"context"
	"io"
	"log/slog"
	"math"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Handler writes JSON lines; see the package comment.
type Handler struct {
	json  slog.Handler // writes what the fast path does not
	out   io.Writer
	mu    *sync.Mutex // one Write at a time, shared with the handlers With makes
	level slog.Leveler
	fast  bool // the record's own attributes are all there is to write

	addSource bool
}

// New returns a Handler writing to w with opts (nil: level Info), as
// slog.NewJSONHandler(w, opts) would.
func New(w io.Writer, opts *slog.HandlerOptions) *Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	var level slog.Leveler = slog.LevelInfo
	if opts.Level != nil {
		level = opts.Level
	}
	return &Handler{json: slog.NewJSONHandler(w, opts), out: w, mu: &sync.Mutex{}, level: level,
		fast: opts.ReplaceAttr == nil && !opts.AddSource, addSource: opts.AddSource}
}

// Enabled reports whether l is at or above the handler's level.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// WithAttrs returns a handler that adds attrs to every record (written by
// slog.JSONHandler).
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{json: h.json.WithAttrs(attrs), out: h.out, mu: h.mu, level: h.level, addSource: h.addSource}
}

// WithGroup returns a handler that nests later attributes under name
// (written by slog.JSONHandler).
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{json: h.json.WithGroup(name), out: h.out, mu: h.mu, level: h.level, addSource: h.addSource}
}

// bufs holds line buffers; a line longer than maxPooled is not kept.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooled = 16 << 10

func getBuf() *[]byte { return bufs.Get().(*[]byte) }

func putBuf(bp *[]byte) {
	if cap(*bp) <= maxPooled {
		bufs.Put(bp)
	}
}

// Handle writes r as one line.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if !h.fast {
		return h.slow(ctx, r)
	}
	bp := getBuf()
	defer putBuf(bp)
	b, ok := appendRecord((*bp)[:0], r)
	*bp = b
	if !ok {
		return h.slow(ctx, r)
	}
	return h.write(b)
}

// LogAttrs writes what Handle writes for a record of level, msg and attrs
// made now, without making one: a request's lines skip copying their
// attributes into a slog.Record and iterating over them.
func (h *Handler) LogAttrs(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if !h.Enabled(ctx, level) {
		return
	}
	now := time.Now()
	if h.fast {
		bp := getBuf()
		defer putBuf(bp)
		b, ok := appendHead((*bp)[:0], now, level, msg)
		for i := 0; ok && i < len(attrs); i++ {
			b, ok = appendAttr(b, attrs[i])
		}
		*bp = append(b, "}\n"...)
		if ok {
			h.write(*bp)
			return
		}
	}
	var pc uintptr
	if h.addSource {
		var pcs [1]uintptr
		runtime.Callers(2, pcs[:]) // LogAttrs's caller, as slog.Logger.LogAttrs records its own
		pc = pcs[0]
	}
	r := slog.NewRecord(now, level, msg, pc)
	r.AddAttrs(attrs...)
	h.slow(ctx, r)
}

func (h *Handler) write(line []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.out.Write(line)
	return err
}

func (h *Handler) slow(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.json.Handle(ctx, r)
}

// appendRecord appends r's line as slog.JSONHandler writes it, or reports
// false when r holds something only slog.JSONHandler writes.
func appendRecord(b []byte, r slog.Record) ([]byte, bool) {
	b, ok := appendHead(b, r.Time, r.Level, r.Message)
	if !ok {
		return b, false
	}
	r.Attrs(func(a slog.Attr) bool {
		b, ok = appendAttr(b, a)
		return ok
	})
	return append(b, "}\n"...), ok
}

// appendHead appends the line's start: its time (none when t is zero),
// level and message.
func appendHead(b []byte, t time.Time, level slog.Level, msg string) ([]byte, bool) {
	b = append(b, '{')
	if !t.IsZero() {
		t = t.Round(0) // no monotonic reading
		if y := t.Year(); y < 0 || y >= 10000 {
			return b, false
		}
		b = append(b, `"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":`...)
	b = appendString(b, level.String(), false)
	b = append(b, `,"msg":`...)
	return appendString(b, msg, false), true
}

// appendAttr appends `,"key":value`, or reports false for what the fast
// path leaves to slog.JSONHandler (empty keys included, which slog elides
// or inlines).
func appendAttr(b []byte, a slog.Attr) ([]byte, bool) {
	if a.Key == "" {
		return b, false
	}
	b = append(b, ',')
	b = appendString(b, a.Key, false)
	b = append(b, ':')
	v := a.Value
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String(), false), true
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10), true
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10), true
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool()), true
	case slog.KindDuration:
		return strconv.AppendInt(b, int64(v.Duration()), 10), true
	case slog.KindFloat64:
		return appendFloat(b, v.Float64())
	case slog.KindAny:
		return appendAny(b, v.Any())
	}
	return b, false
}

// appendAny writes the values of KindAny the fast path knows: string lists
// (as encoding/json marshals them) and errors without MarshalJSON (their
// message).
func appendAny(b []byte, x any) ([]byte, bool) {
	switch x := x.(type) {
	case []string:
		if x == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s, true)
		}
		return append(b, ']'), true
	case interface{ MarshalJSON() ([]byte, error) }:
		return b, false
	case error:
		return appendString(b, x.Error(), false), true
	}
	return b, false
}

// appendFloat formats f as encoding/json does (slog marshals floats with
// it): the shortest decimal, in exponent form below 1e-6 and from 1e21 on,
// with no leading zero in a negative exponent. NaN and infinities, which
// encoding/json refuses, are left to slog.
func appendFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1] // e-07 → e-7
		b = b[:n-1]
	}
	return b, true
}

// plain marks the bytes a JSON string holds as they are: printable ASCII
// but the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a quoted JSON string without HTML escaping:
// quote, backslash and control characters escaped, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped. slog writes \b and \f as \u0008 and
// \u000c; encoding/json (marshal, for string lists) as \b and \f.
func appendString(b []byte, s string, marshal bool) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case marshal && c == '\b':
				b = append(b, '\\', 'b')
			case marshal && c == '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
