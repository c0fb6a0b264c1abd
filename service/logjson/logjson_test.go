package logjson

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// both logs the same thing through slog.JSONHandler and through Handler and
// returns both outputs, with the clock's times replaced by T (TestTimes
// compares the times).
func both(t testing.TB, opts *slog.HandlerOptions, log func(*slog.Logger)) (want, got string) {
	t.Helper()
	var a, b bytes.Buffer
	log(slog.New(slog.NewJSONHandler(&a, opts)))
	log(slog.New(New(&b, opts)))
	clock := regexp.MustCompile(`"time":"[^"]*"`)
	return clock.ReplaceAllString(a.String(), `"time":"T"`), clock.ReplaceAllString(b.String(), `"time":"T"`)
}

// logDirect writes one line with Handler.LogAttrs and returns it, its time
// replaced by T.
func logDirect(opts *slog.HandlerOptions, level slog.Level, msg string, attrs ...slog.Attr) string {
	var b bytes.Buffer
	New(&b, opts).LogAttrs(context.Background(), level, msg, attrs...)
	return regexp.MustCompile(`"time":"[^"]*"`).ReplaceAllString(b.String(), `"time":"T"`)
}

// TestLogAttrsWritesWhatHandleWrites: the direct path writes the line a
// logger's LogAttrs writes, for fast and slow attributes, and honours the
// level and the options.
func TestLogAttrsWritesWhatHandleWrites(t *testing.T) {
	for _, attrs := range [][]slog.Attr{
		{slog.String("log", "access"), slog.Int("status", 200), slog.Float64("duration_ms", 0.5), slog.Any("r", []string{"a"})},
		{slog.Time("t", time.Unix(0, 0)), slog.Group("g", slog.Int("a", 1)), slog.Any("v", valuer{})},
		nil,
	} {
		for _, opts := range []*slog.HandlerOptions{nil, {Level: slog.LevelError}} {
			want, _ := both(t, opts, func(l *slog.Logger) { l.LogAttrs(context.Background(), slog.LevelInfo, "m", attrs...) })
			if got := logDirect(opts, slog.LevelInfo, "m", attrs...); got != want {
				t.Fatalf("%v %+v: got\n%s\nwant\n%s", attrs, opts, got, want)
			}
		}
	}
}

// TestLogAttrsAddsItsCallersSource: with AddSource, the line names the
// caller of LogAttrs, as a logger's LogAttrs names its caller.
func TestLogAttrsAddsItsCallersSource(t *testing.T) {
	var b bytes.Buffer
	New(&b, &slog.HandlerOptions{AddSource: true}).LogAttrs(context.Background(), slog.LevelInfo, "m")
	if !strings.Contains(b.String(), `"function":"github.com/secure-movie-service/sms/service/logjson.TestLogAttrsAddsItsCallersSource"`) {
		t.Fatalf("source: %s", b.String())
	}
}

// TestTimes: a record's time is written as slog.JSONHandler writes it, its
// monotonic reading dropped; no time, no field; a year past 9999 as slog
// reports it.
func TestTimes(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 11, 30, 23, 59, 1, 123456789, time.FixedZone("x", 3600)),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Now(), // with a monotonic reading
		{},
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		var a, b bytes.Buffer
		r := slog.NewRecord(tm, slog.LevelInfo, "m", 0)
		r.AddAttrs(slog.String("k", "v"))
		slog.NewJSONHandler(&a, nil).Handle(context.Background(), r)
		New(&b, nil).Handle(context.Background(), r)
		if a.String() != b.String() {
			t.Fatalf("%v: got\n%s\nwant\n%s", tm, b.String(), a.String())
		}
	}
}

type marshaler struct{}

func (marshaler) MarshalJSON() ([]byte, error) { return []byte(`{"m":1}`), nil }

type jsonError struct{ marshaler }

func (jsonError) Error() string { return "e" }

type valuer struct{}

func (valuer) LogValue() slog.Value { return slog.StringValue("resolved") }

// TestSameLinesAsJSONHandler: every kind of record, the fast ones and the
// ones left to slog, comes out byte for byte as slog.JSONHandler writes it.
func TestSameLinesAsJSONHandler(t *testing.T) {
	now := time.Date(2026, 11, 30, 23, 59, 1, 123456789, time.FixedZone("x", 3600))
	cases := map[string]func(*slog.Logger){
		"request lines": func(l *slog.Logger) {
			l.LogAttrs(context.Background(), slog.LevelInfo, "request", slog.String("log", "access"),
				slog.String("request_id", "0123456789abcdef01234567"), slog.String("method", "GET"),
				slog.String("route", "GET /v1/movies/{id}"), slog.Int("status", 200), slog.Float64("duration_ms", 0.123),
				slog.String("subject", "alice"), slog.String("client_ip", "127.0.0.1"), slog.String("decision_id", "c-1"))
			l.LogAttrs(context.Background(), slog.LevelInfo, "authorization", slog.Bool("allow", true),
				slog.Any("reasons", []string{"A: b", "\b\f\n<&>\u2028"}), slog.Any("none", []string(nil)),
				slog.Any("empty", []string{}))
		},
		"escaping": func(l *slog.Logger) {
			l.Warn("\"\\\x00\x1f\x7f\u2028\u2029\xff<&>é", "k\n", "\b\f\t\r\xc3", "ok", "日本")
		},
		"numbers": func(l *slog.Logger) {
			l.Error("n", "i", -42, "u", uint64(math.MaxUint64), "d", 1500*time.Millisecond,
				"f1", 1e-7, "f2", 1e21, "f3", -0.0, "f4", 123456789.125, "f5", 1e-6, "f6", 5e-324, "f7", math.MaxFloat64)
		},
		"left to slog": func(l *slog.Logger) {
			l.Info("slow", "nan", math.NaN(), "inf", math.Inf(-1), "t", now, "g", slog.GroupValue(slog.Int("a", 1)),
				"v", valuer{}, "m", marshaler{}, "je", jsonError{}, "", "empty key", "x", struct{ A int }{1})
			l.Info("", slog.Attr{}, slog.Group("", slog.Int("inline", 1)))
			l.With("component", "store").WithGroup("g").Info("with", "a", 1)
			l.Info("error", "err", errors.New("boom\n"))
		},
		"levels": func(l *slog.Logger) {
			l.Log(context.Background(), slog.LevelInfo+2, "info+2")
			l.Debug("not written")
		},
	}
	for name, log := range cases {
		t.Run(name, func(t *testing.T) {
			want, got := both(t, nil, log)
			if got != want {
				t.Fatalf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
	t.Run("options", func(t *testing.T) {
		for _, opts := range []*slog.HandlerOptions{
			{Level: slog.LevelDebug},
			{AddSource: true},
			{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}},
		} {
			want, got := both(t, opts, func(l *slog.Logger) { l.Debug("d", "a", 1); l.Info("i", "b", "c") })
			if got != want {
				t.Fatalf("%+v: got\n%s\nwant\n%s", opts, got, want)
			}
		}
	})
}

// TestOneWritePerLine: concurrent records, fast and slow, each arrive as one
// whole line of one Write, on a writer that is not safe for concurrent use.
func TestOneWritePerLine(t *testing.T) {
	w := &lineChecker{t: t}
	h := New(w, nil)
	l, sub := slog.New(h), slog.New(h).With("component", "x")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				l.Info("fast", "i", i, "j", j)
				sub.Info("slow", "i", i, "t", time.Time{})
			}
		})
	}
	wg.Wait()
	if w.lines != 8*200*2 {
		t.Fatalf("%d lines, want %d", w.lines, 8*200*2)
	}
}

// lineChecker fails the test on a Write that overlaps another (it yields
// inside each, so that an unserialised caller overlaps) or holds other than
// one line.
type lineChecker struct {
	t     *testing.T
	busy  atomic.Bool
	lines int
}

func (w *lineChecker) Write(p []byte) (int, error) {
	if !w.busy.CompareAndSwap(false, true) {
		w.t.Error("concurrent Write")
		return len(p), nil
	}
	defer w.busy.Store(false)
	runtime.Gosched()
	if bytes.Count(p, []byte("\n")) != 1 || p[len(p)-1] != '\n' {
		w.t.Errorf("a Write of not one line: %q", p)
	}
	w.lines++
	return len(p), nil
}

func FuzzSameAsJSONHandler(f *testing.F) {
	f.Add("msg", "key", "value", int64(-1), 0.5, "a\x00b")
	f.Add("\u2028", "\xff", "\b\f", int64(math.MaxInt64), 1e-7, "")
	f.Add("", "k", "<&>", int64(0), 1e300, "\"\\")
	f.Fuzz(func(t *testing.T, msg, key, val string, i int64, fl float64, item string) {
		attrs := []slog.Attr{slog.String(key, val), slog.Int64("i", i), slog.Float64("f", fl),
			slog.Any("list", []string{item, val}), slog.Any("err", errors.New(item))}
		want, got := both(t, nil, func(l *slog.Logger) { l.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...) })
		if got != want {
			t.Fatalf("got\n%s\nwant\n%s", got, want)
		}
		if direct := logDirect(nil, slog.LevelWarn, msg, attrs...); direct != want {
			t.Fatalf("LogAttrs wrote\n%s\nwant\n%s", direct, want)
		}
	})
}

func BenchmarkRequestLine(b *testing.B) {
	type logFunc func(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr)
	for _, impl := range []struct {
		name string
		log  func(*bytes.Buffer) logFunc
	}{
		{"slog.JSONHandler", func(w *bytes.Buffer) logFunc { return slog.New(slog.NewJSONHandler(w, nil)).LogAttrs }},
		{"logjson", func(w *bytes.Buffer) logFunc { return slog.New(New(w, nil)).LogAttrs }},
		{"logjson.LogAttrs", func(w *bytes.Buffer) logFunc { return New(w, nil).LogAttrs }},
	} {
		b.Run(impl.name, func(b *testing.B) {
			var w bytes.Buffer
			logAttrs := impl.log(&w)
			reasons := []string{"ALLOW_VIEWER_READ: viewer may read movies"}
			owners := []string{"subject-001", "subject-002"}
			resource := strings.Repeat("0", 32)
			b.ReportAllocs()
			for i := range b.N {
				if i%1000 == 0 {
					w.Reset()
				}
				logAttrs(context.Background(), slog.LevelInfo, "authorization", slog.String("log", "audit"),
					slog.String("request_id", "0123456789abcdef01234567"), slog.String("subject", "subject-001"),
					slog.String("method", "GET"), slog.String("route", "/v1/movies/{id}"), slog.Bool("allow", true),
					slog.String("decision_id", "c-0123456789ab-1"), slog.Any("reasons", reasons), slog.Bool("cached", true),
					slog.Bool("compiled", true), slog.String("resource_id", resource),
					slog.String("owner", owners[i%len(owners)]))
			}
		})
	}
}

// TestRequestLinesTakeTheFastPath: what a request logs is written here, not
// handed to slog (which the equality tests alone would not notice).
func TestRequestLinesTakeTheFastPath(t *testing.T) {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "authorization", 0)
	r.AddAttrs(slog.String("log", "audit"), slog.Int("status", 200), slog.Float64("duration_ms", 0.25),
		slog.Bool("allow", true), slog.Any("reasons", []string{"A"}), slog.Any("error", errors.New("e")),
		slog.Duration("d", time.Second), slog.Uint64("u", 1))
	if _, ok := appendRecord(nil, r); !ok {
		t.Fatal("a request's record left to slog.JSONHandler")
	}
}
