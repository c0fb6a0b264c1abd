package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/internal/egress"
	"github.com/secure-movie-service/sms/service/store"
	"github.com/secure-movie-service/sms/service/upstream"
	"github.com/secure-movie-service/sms/service/upstream/upstreamtest"
)

var metropolis = upstreamtest.Film{ID: "Q151599", Title: "Metropolis", Year: 1927,
	Genres: []string{"science fiction film", "silent film"}, Directors: []string{"Fritz Lang"}}

const importBody = `{"source":"wikidata","id":"Q151599"}`

// withUpstream starts h as the Wikidata upstream on loopback and configures the harness
// to import from it through the egress guard (deadline 500ms, cap 1 MiB).
func withUpstream(tb testing.TB, h http.Handler) func(*Config) {
	tb.Helper()
	s := httptest.NewServer(h)
	tb.Cleanup(s.Close)
	guard := egress.New(egress.Config{Timeout: 500 * time.Millisecond, MaxBytes: 1 << 20,
		TestLoopbackHTTP: []netip.AddrPort{netip.MustParseAddrPort(s.Listener.Addr().String())}})
	cat := upstream.New(guard, nil, upstream.Wikidata{Base: s.URL})
	return func(c *Config) { c.Importer = cat }
}

func TestImport(t *testing.T) {
	hs := newHarness(t, withUpstream(t, upstreamtest.Wikidata(metropolis)))
	w := hs.do(t, req{method: "POST", path: "/v1/movies/import", token: "tok-editor", body: importBody})
	if w.Code != http.StatusCreated {
		t.Fatalf("import: %d %s", w.Code, w.Body)
	}
	m := decodeBody[store.Movie](t, w)
	if m.Title != "Metropolis" || m.Year != 1927 || !slices.Equal(m.Genres, metropolis.Genres) || m.Director != "Fritz Lang" ||
		m.Source != "wikidata" || m.SourceID != "Q151599" || m.CreatedBy != "editor" {
		t.Fatalf("imported %+v", m)
	}
	if w.Header().Get("Location") != "/v1/movies/"+m.ID || w.Header().Get("ETag") != `"1"` {
		t.Fatalf("Location %q ETag %q", w.Header().Get("Location"), w.Header().Get("ETag"))
	}
	in := hs.authz.inputs[len(hs.authz.inputs)-1]
	if in.Route != importRoute || in.Source != "wikidata" || !slices.Equal(in.Path, []string{"v1", "movies", "import"}) {
		t.Fatalf("OPA was asked %+v, want the import route with the source", in)
	}
	for _, token := range []string{"tok-editor", "tok-editor2", "tok-admin"} {
		again := hs.do(t, req{method: "POST", path: "/v1/movies/import", token: token, body: importBody})
		if again.Code != http.StatusOK || decodeBody[store.Movie](t, again).ID != m.ID {
			t.Fatalf("import again as %s: %d %s, want 200 with the same movie", token, again.Code, again.Body)
		}
	}
	if w := hs.do(t, req{method: "POST", path: "/v1/movies/import", token: "tok-viewer", body: importBody}); w.Code != http.StatusForbidden {
		t.Fatalf("C-AUTHZ-RBAC viewer imports: %d", w.Code)
	}
	upd := hs.do(t, req{method: "PUT", path: "/v1/movies/" + m.ID, token: "tok-editor", body: goodMovie, header: map[string]string{"If-Match": `"1"`}})
	if got := decodeBody[store.Movie](t, upd); got.Source != "wikidata" || got.SourceID != "Q151599" {
		t.Fatalf("an update lost the source: %+v", got)
	}
}

func TestImportInputValidation(t *testing.T) {
	hs := newHarness(t, withUpstream(t, upstreamtest.Wikidata(metropolis)))
	for _, tc := range []struct{ name, body, field string }{
		{"C-INPUT unknown source", `{"source":"imdb","id":"tt0017136"}`, "source"},
		{"C-INPUT source is not a URL", `{"source":"http://127.0.0.1/","id":"Q1"}`, "source"},
		{"C-INPUT id not of the source", `{"source":"wikidata","id":"Q1/../../admin"}`, "id"},
		{"C-INPUT id with a query", `{"source":"wikidata","id":"Q1.json?x=1"}`, "id"},
		{"C-INPUT missing id", `{"source":"wikidata"}`, "id"},
		{"C-INPUT missing source", `{"id":"Q1"}`, "source"},
		{"C-INPUT unknown field", `{"source":"wikidata","id":"Q1","url":"http://169.254.169.254/"}`, "url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := hs.do(t, req{method: "POST", path: "/v1/movies/import", token: "tok-editor", body: tc.body})
			p := decodeBody[problem](t, w)
			if w.Code != 400 || len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
				t.Fatalf("got %d %+v, want 400 naming %s", w.Code, p, tc.field)
			}
		})
	}
	if got := listAllMovies(t, hs); len(got) != 0 {
		t.Fatalf("rejected imports stored %d movies", len(got))
	}
}

func listAllMovies(tb testing.TB, hs *harness) []store.Movie {
	tb.Helper()
	items, _, err := hs.store.List(context.Background(), store.Query{Limit: 100})
	if err != nil {
		tb.Fatal(err)
	}
	return items
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	gz.Write(b)
	gz.Close()
	return buf.Bytes()
}

func jsonHandler(body []byte, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Write(body)
	}
}

// hostileUpstreams are catalogue answers the service must refuse, each with the status
// the client gets. canary is text of the upstream's that must reach neither the client nor
// the log unescaped.
const canary = "upstream-canary-\x1b[31m"

func hostileUpstreams(internal string) []struct {
	name   string
	h      http.HandlerFunc
	status int
} {
	entity := upstreamtest.EntityJSON(metropolis)
	return []struct {
		name   string
		h      http.HandlerFunc
		status int
	}{
		{"C-EGRESS-SSRF redirect to 127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://"+internal+"/latest/meta-data/", http.StatusFound)
		}, 502},
		// A good record padded past the cap: only the cap refuses it.
		{"C-EGRESS-BOUNDED 10 MB body", jsonHandler(append(append([]byte{}, entity...), bytes.Repeat([]byte(" "), 10<<20)...)), 502},
		{"C-EGRESS-BOUNDED gzip bomb", jsonHandler(gzipped(append(append([]byte{}, entity...), bytes.Repeat([]byte(" "), 20<<20)...)), "Content-Encoding", "gzip"), 502},
		{"C-EGRESS-BOUNDED trickling body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			for i := 0; i < 60; i++ { // at most 3 s
				w.Write([]byte(" "))
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}, 504},
		{"C-UPSTREAM-UNTRUSTED duplicate keys", jsonHandler(append(entity[:len(entity)-1:len(entity)-1], []byte(`,"entities":{}}`)...)), 502},
		{"C-UPSTREAM-UNTRUSTED 1e400", jsonHandler([]byte(strings.Replace(string(entity), `"pageid":1`, `"pageid":1e400`, 1))), 502},
		{"C-UPSTREAM-UNTRUSTED raw control characters", jsonHandler([]byte(strings.Replace(string(entity), `"value":"Metropolis"}`, "\"value\":\"Metro\x1b[31m\x00polis\"}", 1))), 502},
		{"C-UPSTREAM-UNTRUSTED 100k-deep nesting", jsonHandler([]byte(`{"entities":` + strings.Repeat(`[`, 100_000) + strings.Repeat(`]`, 100_000) + `}`)), 502},
		{"C-UPSTREAM-UNTRUSTED escaped control characters in the title", jsonHandler([]byte(strings.Replace(string(entity), `"value":"Metropolis"}`, `"value":"Metro\u001b[31m\u0000polis"}`, 1))), 422},
		{"C-UPSTREAM-UNTRUSTED HTML", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<h1>" + canary + "</h1>"))
		}, 502},
		{"C-UPSTREAM-UNTRUSTED 500", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, canary, 500) }, 502},
		{"C-UPSTREAM-UNTRUSTED 429", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "7")
			http.Error(w, canary, 429)
		}, 503},
		{"C-UPSTREAM-UNTRUSTED 404", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, canary, 404) }, 422},
	}
}

// TestControlsImportFromHostileUpstream runs an import against local catalogues that
// misbehave: each is refused with the generic problem of its status, nothing is stored,
// the internal address is never reached, and neither the response nor the log carries
// the upstream's text.
func TestControlsImportFromHostileUpstream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var reached atomic.Int32
	go func() {
		for i := 0; i < 100; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			c.Close()
		}
	}()
	for _, tc := range hostileUpstreams(ln.Addr().String()) {
		t.Run(tc.name, func(t *testing.T) {
			before := reached.Load()
			hs := newHarness(t, withUpstream(t, tc.h))
			start := time.Now()
			w := hs.do(t, req{method: "POST", path: "/v1/movies/import", token: "tok-editor", body: importBody})
			if w.Code != tc.status {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tc.status)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("the import took %v", d)
			}
			if tc.status == 503 && w.Header().Get("Retry-After") != "7" {
				t.Fatalf("Retry-After %q, want the upstream's 7", w.Header().Get("Retry-After"))
			}
			body, logs := w.Body.String(), hs.logs.String()
			for _, leak := range []string{"upstream-canary", "Metro", "\x1b", "127.0.0.1", "pageid", "1e400"} {
				if strings.Contains(body, leak) {
					t.Fatalf("C-ERRORS the response carries %q: %s", leak, body)
				}
			}
			if strings.Contains(logs, "upstream-canary") || strings.Contains(logs, "\x1b") || strings.Contains(logs, "\x00") {
				t.Fatalf("the log carries the upstream's text:\n%s", logs)
			}
			if got := listAllMovies(t, hs); len(got) != 0 {
				t.Fatalf("stored %+v", got)
			}
			if n := reached.Load() - before; n != 0 {
				t.Fatalf("C-EGRESS-SSRF the internal address got %d connections", n)
			}
		})
	}
}

// TestControlsImportLimits: imports have a per-subject bucket (429 with Retry-After and
// the "import" RateLimit), a global one and a cap on fetches at once (503).
func TestControlsImportLimits(t *testing.T) {
	films := []upstreamtest.Film{}
	for i := range 6 {
		films = append(films, upstreamtest.Film{ID: fmt.Sprintf("Q%d", 100+i), Title: fmt.Sprintf("Film %d", i), Year: 1930 + i})
	}
	t.Run("C-EGRESS-BOUNDED per subject", func(t *testing.T) {
		hs := newHarness(t, withUpstream(t, upstreamtest.Wikidata(films...)), func(c *Config) { c.ImportSubjectLimit = newLimiter(0.001, 2) })
		for i := range 3 {
			w := hs.do(t, req{method: "POST", path: "/v1/movies/import", token: "tok-editor", body: fmt.Sprintf(`{"source":"wikidata","id":"Q%d"}`, 100+i)})
			if want := []int{201, 201, 429}[i]; w.Code != want {
				t.Fatalf("import %d: %d %s, want %d", i, w.Code, w.Body, want)
			}
			if i == 2 && (w.Header().Get("Retry-After") == "" || !strings.HasPrefix(w.Header().Get("RateLimit"), `"import";r=0;`)) {
				t.Fatalf("429 without Retry-After or the import RateLimit: %v", w.Header())
			}
		}
		if w := hs.do(t, req{method: "POST", path: "/v1/movies/import", token: "tok-editor2", body: `{"source":"wikidata","id":"Q103"}`}); w.Code != 201 {
			t.Fatalf("another subject: %d", w.Code)
		}
		if w := hs.do(t, req{method: "POST", path: "/v1/movies/import", token: "tok-editor", body: `{"source":"wikidata","id":"Q100"}`}); w.Code != 200 {
			t.Fatalf("a dedupe hit needs no token: %d", w.Code)
		}
	})
	t.Run("C-EGRESS-BOUNDED all subjects together", func(t *testing.T) {
		hs := newHarness(t, withUpstream(t, upstreamtest.Wikidata(films...)), func(c *Config) { c.ImportLimit = newLimiter(0.001, 1) })
		hs.do(t, req{method: "POST", path: "/v1/movies/import", token: "tok-editor", body: `{"source":"wikidata","id":"Q100"}`})
		w := hs.do(t, req{method: "POST", path: "/v1/movies/import", token: "tok-editor2", body: `{"source":"wikidata","id":"Q101"}`})
		if w.Code != 503 || w.Header().Get("Retry-After") == "" {
			t.Fatalf("past the global bucket: %d Retry-After=%q", w.Code, w.Header().Get("Retry-After"))
		}
	})
	t.Run("C-EGRESS-BOUNDED fetches at once", func(t *testing.T) {
		entered, release := make(chan struct{}, 1), make(chan struct{})
		slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			upstreamtest.Wikidata(films...).ServeHTTP(w, r)
		})
		hs := newHarness(t, withUpstream(t, slow), func(c *Config) { c.MaxImportsInFlight = 1 })
		done := make(chan int, 1)
		go func() {
			w := httptest.NewRecorder()
			hs.h.ServeHTTP(w, newRequest(req{method: "POST", path: "/v1/movies/import", token: "tok-editor", body: `{"source":"wikidata","id":"Q100"}`}))
			done <- w.Code
		}()
		<-entered
		w := hs.do(t, req{method: "POST", path: "/v1/movies/import", token: "tok-editor2", body: `{"source":"wikidata","id":"Q101"}`})
		close(release)
		if w.Code != 503 {
			t.Fatalf("a second fetch while one runs: %d", w.Code)
		}
		if code := <-done; code != 504 && code != 201 {
			t.Fatalf("the first import: %d", code)
		}
	})
}
