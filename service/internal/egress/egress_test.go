package egress

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// upstream is a local catalogue server the test lists in TestLoopbackHTTP.
func upstream(tb testing.TB, h http.HandlerFunc) (*httptest.Server, netip.AddrPort) {
	tb.Helper()
	s := httptest.NewServer(h)
	tb.Cleanup(s.Close)
	return s, netip.MustParseAddrPort(s.Listener.Addr().String())
}

// internal is an address the guard must never reach: a loopback listener that
// counts the connections it accepts.
type internal struct {
	ln       net.Listener
	accepted atomic.Int32
}

func newInternal(tb testing.TB) *internal {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	in := &internal{ln: ln}
	go func() {
		for i := 0; i < 100; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			in.accepted.Add(1)
			c.Close()
		}
	}()
	tb.Cleanup(func() { ln.Close() })
	return in
}

func (in *internal) port() int { return in.ln.Addr().(*net.TCPAddr).Port }

// fakeResolver answers from a table and counts lookups.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr // successive answers per name; the last repeats
	lookups map[string]int
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	n := r.lookups[host]
	r.lookups[host]++
	return seq[min(n, len(seq)-1)], nil
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// recordingDial records every address the client tries to connect to and
// connects only to loopback (so a test never leaves the machine, even when
// the guard is broken).
type recordingDial struct {
	mu     sync.Mutex
	dialed []string
}

func (d *recordingDial) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, addr)
	d.mu.Unlock()
	if ap, err := netip.ParseAddrPort(addr); err != nil || !ap.Addr().IsLoopback() {
		return nil, errors.New("test dialer: not connecting off the machine")
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

func (d *recordingDial) addrs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dialed...)
}

func jsonOK(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write([]byte(`{"ok":true}`))
}

func mustFail(tb testing.TB, err error, want error) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("error %v, want %v", err, want)
	}
}

func TestControlsRedirectToInternalRefused(t *testing.T) {
	for _, target := range []string{ // %[1]d is the internal listener's port
		"https://127.0.0.1:%[1]d/",
		"http://127.0.0.1:%[1]d/",
		"https://localhost:%[1]d/",
		"https://[::ffff:127.0.0.1]:%[1]d/",
		"https://127.0.0.1:%[1]d@[::ffff:7f00:1]:%[1]d/",
		"https://169.254.169.254/latest/meta-data/",
		"https://[::1]:%[1]d/",
		"file:///etc/passwd",
	} {
		t.Run("C-EGRESS-SSRF redirect to "+strings.ReplaceAll(target, "%[1]d", "port"), func(t *testing.T) {
			in := newInternal(t)
			if strings.Contains(target, "%") {
				target = fmt.Sprintf(target, in.port())
			}
			s, ap := upstream(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target, http.StatusFound)
			})
			dial := &recordingDial{}
			res := &fakeResolver{answers: map[string][][]netip.Addr{"localhost": {addrs("127.0.0.1")}}, lookups: map[string]int{}}
			c := New(Config{TestLoopbackHTTP: []netip.AddrPort{ap}, Resolver: res, dial: dial.dial})
			_, err := c.Get(context.Background(), s.URL+"/entity")
			mustFail(t, err, ErrRefused)
			if n := in.accepted.Load(); n != 0 {
				t.Fatalf("the internal address accepted %d connections", n)
			}
			for _, a := range dial.addrs() {
				if a != ap.String() {
					t.Fatalf("the client tried to connect to %s", a)
				}
			}
		})
	}
}

func TestControlsNameResolvingToInternalRefused(t *testing.T) {
	in := newInternal(t)
	for _, tc := range []struct {
		name    string
		answers []netip.Addr
	}{
		{"loopback", addrs("127.0.0.1")},
		{"private", addrs("10.1.2.3")},
		{"private behind a public address", addrs("93.184.215.14", "192.168.0.10")},
		{"cloud metadata", addrs("169.254.169.254")},
		{"IPv4-mapped loopback", addrs("::ffff:127.0.0.1")},
		{"carrier-grade NAT", addrs("100.100.100.200")},
		{"IPv6 unique local", addrs("fd12:3456::1")},
	} {
		t.Run("C-EGRESS-SSRF "+tc.name, func(t *testing.T) {
			res := &fakeResolver{answers: map[string][][]netip.Addr{"catalogue.test": {tc.answers}}, lookups: map[string]int{}}
			dial := &recordingDial{}
			c := New(Config{Resolver: res, dial: dial.dial})
			_, err := c.Get(context.Background(), fmt.Sprintf("https://catalogue.test:%d/wiki/Special:EntityData/Q1.json", in.port()))
			mustFail(t, err, ErrRefused)
			if d := dial.addrs(); len(d) != 0 || in.accepted.Load() != 0 {
				t.Fatalf("the client connected to %v", d)
			}
		})
	}
}

// TestControlsResolvesOnceAndDialsTheCheckedAddress: a name is looked up once per
// connection and the client connects to the address it checked, so a second answer
// (DNS rebinding to 127.0.0.1) is never used.
func TestControlsResolvesOnceAndDialsTheCheckedAddress(t *testing.T) {
	res := &fakeResolver{answers: map[string][][]netip.Addr{"rebind.test": {addrs("93.184.215.14"), addrs("127.0.0.1")}}, lookups: map[string]int{}}
	dial := &recordingDial{}
	c := New(Config{Resolver: res, dial: dial.dial})
	_, err := c.Get(context.Background(), "https://rebind.test/x.json")
	mustFail(t, err, ErrUnreachable)
	if got := dial.addrs(); len(got) != 1 || got[0] != "93.184.215.14:443" {
		t.Fatalf("C-EGRESS-SSRF dialed %v, want only the checked address 93.184.215.14:443", got)
	}
	if n := res.lookups["rebind.test"]; n != 1 {
		t.Fatalf("C-EGRESS-SSRF %d lookups for one connection, want 1", n)
	}
}

func TestControlsHTTPSOnly(t *testing.T) {
	_, ap := upstream(t, jsonOK)
	other := newInternal(t)
	dial := &recordingDial{}
	c := New(Config{TestLoopbackHTTP: []netip.AddrPort{ap}, dial: dial.dial})
	for _, u := range []string{
		"http://93.184.215.14/x.json",
		fmt.Sprintf("http://127.0.0.1:%d/x.json", other.port()),
		"ftp://93.184.215.14/x.json",
		"https://user:pw@93.184.215.14/x.json",
		"https:///x.json",
		"//93.184.215.14/x.json",
	} {
		t.Run("C-EGRESS-SSRF "+u, func(t *testing.T) {
			_, err := c.Get(context.Background(), u)
			mustFail(t, err, ErrRefused)
		})
	}
	if d := dial.addrs(); len(d) != 0 {
		t.Fatalf("C-EGRESS-SSRF connected to %v", d)
	}
	if _, err := c.Get(context.Background(), "http://"+ap.String()+"/x.json"); err != nil {
		t.Fatalf("the listed test address over http: %v", err)
	}
}

func TestControlsRedirectsAtMostThree(t *testing.T) {
	var s *httptest.Server
	s, ap := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		if _, err := fmt.Sscanf(r.URL.Path, "/r/%d", &n); err == nil && n > 0 && n < 10 {
			http.Redirect(w, r, fmt.Sprintf("%s/r/%d", s.URL, n-1), http.StatusFound)
			return
		}
		jsonOK(w, r)
	})
	c := New(Config{TestLoopbackHTTP: []netip.AddrPort{ap}})
	if _, err := c.Get(context.Background(), s.URL+"/r/3"); err != nil {
		t.Fatalf("three redirects: %v", err)
	}
	_, err := c.Get(context.Background(), s.URL+"/r/4")
	mustFail(t, err, ErrRefused)
}

func TestControlsBodyCapped(t *testing.T) {
	const max = 1 << 20
	tenMB := bytes.Repeat([]byte(" "), 10<<20)
	var bomb bytes.Buffer
	gz := gzip.NewWriter(&bomb)
	gz.Write([]byte(`{"a":"`))
	gz.Write(bytes.Repeat([]byte("0"), 10<<20))
	gz.Write([]byte(`"}`))
	gz.Close()
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{"10 MB declared", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", fmt.Sprint(len(tenMB)))
			w.Write(tenMB)
		}},
		{"10 MB chunked", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			for i := 0; i < 10; i++ {
				w.Write(tenMB[:1<<20])
				w.(http.Flusher).Flush()
			}
		}},
		{"gzip bomb", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(bomb.Bytes())
		}},
	} {
		t.Run("C-EGRESS-BOUNDED "+tc.name, func(t *testing.T) {
			s, ap := upstream(t, tc.h)
			c := New(Config{TestLoopbackHTTP: []netip.AddrPort{ap}, MaxBytes: max})
			body, err := c.Get(context.Background(), s.URL)
			mustFail(t, err, ErrTooLarge)
			if body != nil {
				t.Fatalf("got %d bytes", len(body))
			}
		})
	}
	t.Run("gzip within the cap is decompressed", func(t *testing.T) {
		var small bytes.Buffer
		gz := gzip.NewWriter(&small)
		gz.Write([]byte(`{"ok":true}`))
		gz.Close()
		s, ap := upstream(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(small.Bytes())
		})
		body, err := New(Config{TestLoopbackHTTP: []netip.AddrPort{ap}}).Get(context.Background(), s.URL)
		if err != nil || string(body) != `{"ok":true}` {
			t.Fatalf("got %q, %v", body, err)
		}
	})
}

func TestControlsDeadlines(t *testing.T) {
	t.Run("C-EGRESS-BOUNDED a trickling body", func(t *testing.T) {
		s, ap := upstream(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"a":"`))
			for i := 0; i < 100; i++ { // at most 5 s
				select {
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
				w.Write([]byte("x"))
				w.(http.Flusher).Flush()
			}
		})
		c := New(Config{TestLoopbackHTTP: []netip.AddrPort{ap}, Timeout: 500 * time.Millisecond})
		start := time.Now()
		_, err := c.Get(context.Background(), s.URL)
		mustFail(t, err, ErrTimeout)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v with a 500ms deadline", d)
		}
	})
	t.Run("C-EGRESS-BOUNDED slow response headers", func(t *testing.T) {
		s, ap := upstream(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
		})
		c := New(Config{TestLoopbackHTTP: []netip.AddrPort{ap}, HeaderTimeout: 200 * time.Millisecond})
		_, err := c.Get(context.Background(), s.URL)
		mustFail(t, err, ErrTimeout)
	})
	t.Run("C-EGRESS-BOUNDED a TLS handshake that never completes", func(t *testing.T) {
		silent := newSilent(t)
		ap := netip.MustParseAddrPort(silent.Addr().String())
		c := New(Config{TestLoopbackHTTP: []netip.AddrPort{ap}, TLSTimeout: 200 * time.Millisecond})
		start := time.Now()
		_, err := c.Get(context.Background(), "https://"+ap.String()+"/")
		mustFail(t, err, ErrTimeout)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v with a 200ms TLS deadline", d)
		}
	})
}

// newSilent accepts connections and never writes a byte.
func newSilent(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for i := 0; i < 10; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln
}

func TestControlsStatusAndContentType(t *testing.T) {
	for _, tc := range []struct {
		name       string
		h          http.HandlerFunc
		code       int
		retryAfter time.Duration
		sentinel   error
	}{
		{"500", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "secret stack trace", 500) }, 500, 0, nil},
		{"429 with Retry-After", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
		}, 429, 7 * time.Second, nil},
		{"429 without Retry-After", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(429) }, 429, 30 * time.Second, nil},
		{"429 with a huge Retry-After", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "999999")
			w.WriteHeader(429)
		}, 429, 10 * time.Minute, nil},
		{"404", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(404) }, 404, 0, nil},
		{"HTML", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>"))
		}, 0, 0, ErrBadResponse},
		{"JSON in Latin-1", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=iso-8859-1")
			w.Write([]byte("{}"))
		}, 0, 0, ErrBadResponse},
		{"unknown encoding", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "br")
			w.Write([]byte("{}"))
		}, 0, 0, ErrBadResponse},
		{"broken gzip", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write([]byte("not gzip at all"))
		}, 0, 0, ErrBadResponse},
	} {
		t.Run("C-UPSTREAM-UNTRUSTED "+tc.name, func(t *testing.T) {
			s, ap := upstream(t, tc.h)
			_, err := New(Config{TestLoopbackHTTP: []netip.AddrPort{ap}}).Get(context.Background(), s.URL+"/?apikey=canary-key-1f")
			if strings.Contains(fmt.Sprint(err), "canary-key-1f") || strings.Contains(fmt.Sprint(err), "secret") {
				t.Fatalf("the error carries the URL or the upstream's text: %v", err)
			}
			if tc.sentinel != nil {
				mustFail(t, err, tc.sentinel)
				return
			}
			se, ok := errors.AsType[*StatusError](err)
			if !ok || se.Code != tc.code || se.RetryAfter != tc.retryAfter {
				t.Fatalf("error %#v, want status %d with Retry-After %v", err, tc.code, tc.retryAfter)
			}
		})
	}
}

func TestErrorsNeverCarryTheURL(t *testing.T) {
	ln := newSilent(t)
	ln.Close() // nothing listens there now: connection refused
	ap := netip.MustParseAddrPort(ln.Addr().String())
	_, err := New(Config{TestLoopbackHTTP: []netip.AddrPort{ap}}).Get(context.Background(), "http://"+ap.String()+"/?apikey=canary-key-2f")
	mustFail(t, err, ErrUnreachable)
	if strings.Contains(err.Error(), "canary-key-2f") {
		t.Fatalf("C-SECRETS the error carries the URL: %v", err)
	}
}
