package tests

import (
	"bytes"
	"compress/gzip"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/upstream/upstreamtest"
)

var metropolis = upstreamtest.Film{ID: "Q151599", Title: "Metropolis", Year: 1927,
	Genres: []string{"science fiction film", "silent film"}, Directors: []string{"Fritz Lang"}}

// upstreamCanary is text of the catalogue's that must reach neither a client nor a log.
const upstreamCanary = "upstream-canary-\x1b[31m-5e2a"

// hostileCatalogue is a local Wikidata whose items misbehave by id; the rest it serves
// as upstreamtest.Wikidata does. internal is a loopback address it redirects to.
func hostileCatalogue(internal string) http.Handler {
	good := upstreamtest.Wikidata(metropolis)
	entity := string(upstreamtest.EntityJSON(metropolis))
	js := func(body string, header ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.Write([]byte(body))
		}
	}
	var bomb bytes.Buffer
	gz := gzip.NewWriter(&bomb)
	gz.Write([]byte(entity)) // a good record padded past the cap: only the cap refuses it
	gz.Write(bytes.Repeat([]byte(" "), 20<<20))
	gz.Close()
	hostile := map[string]http.HandlerFunc{
		"Q2": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://"+internal+"/latest/meta-data/", http.StatusFound)
		},
		"Q3": js(entity + strings.Repeat(" ", 10<<20)),
		"Q4": js(bomb.String(), "Content-Encoding", "gzip"),
		"Q5": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			for i := 0; i < 100; i++ { // at most 5 s
				w.Write([]byte(" "))
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		},
		"Q6":  js(strings.TrimSuffix(entity, "}") + `,"entities":{}}`),
		"Q7":  js(strings.Replace(entity, `"pageid":1`, `"pageid":1e400`, 1)),
		"Q8":  js(strings.Replace(entity, `"value":"Metropolis"}`, `"value":"`+upstreamCanary+"\x00\"}", 1)),
		"Q9":  js(`{"entities":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}`),
		"Q10": func(w http.ResponseWriter, _ *http.Request) { http.Error(w, upstreamCanary, 500) },
		"Q11": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "7")
			http.Error(w, upstreamCanary, 429)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/wiki/Special:EntityData/"), ".json")
		if h, ok := hostile[id]; ok {
			h(w, r)
			return
		}
		good.ServeHTTP(w, r)
	})
}

// countingListener is an internal address: it counts connections and answers none.
func countingListener(tb testing.TB) (string, *atomic.Int32) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var n atomic.Int32
	go func() {
		for i := 0; i < 100; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	tb.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), &n
}

// importFlags point the server at a local catalogue (plain HTTP to loopback: the test flag).
func importFlags(catalogueURL string, extra ...string) []string {
	return append([]string{"-wikidata-url", catalogueURL, "-upstream-test-loopback-http", "-upstream-timeout", "1s",
		"-import-rate-subject", "0.001", "-import-burst-subject", "50"}, extra...)
}

// TestImport imports a movie from a local catalogue through the real server and a real
// OPA: 201, then 200 with the same movie, also after a restart (the dedupe is journaled).
func TestImport(t *testing.T) {
	cat := httptest.NewServer(upstreamtest.Wikidata(metropolis))
	defer cat.Close()
	flags := importFlags(cat.URL)
	id, opa, m := startStack(t, flags...)
	editor, editor2 := id.token(t, "editor", "editor"), id.token(t, "editor2", "editor")
	body := `{"source":"wikidata","id":"Q151599"}`
	r := do(t, "POST", m.url+"/v1/movies/import", editor, body)
	var mv struct {
		movie
		Year     int      `json:"year"`
		Genres   []string `json:"genres"`
		Director string   `json:"director"`
		Source   string   `json:"source"`
		SourceID string   `json:"source_id"`
	}
	r.json(t, &mv)
	if r.status != 201 || mv.Title != "Metropolis" || mv.Year != 1927 || mv.Director != "Fritz Lang" || len(mv.Genres) != 2 ||
		mv.Source != "wikidata" || mv.SourceID != "Q151599" || mv.CreatedBy != "editor" || r.header.Get("Location") != "/v1/movies/"+mv.ID {
		t.Fatalf("import: %s", r)
	}
	if r := do(t, "POST", m.url+"/v1/movies/import", editor2, body); r.status != 200 || !strings.Contains(string(r.body), mv.ID) {
		t.Fatalf("import again: %s, want 200 with %s", r, mv.ID)
	}
	if r := do(t, "POST", m.url+"/v1/movies/import", id.token(t, "viewer", "viewer"), body); r.status != 403 {
		t.Fatalf("C-AUTHZ-RBAC viewer imports: %s", r)
	}
	if r := do(t, "POST", m.url+"/v1/movies/import", editor, `{"source":"wikidata","id":"Q404"}`); r.status != 422 {
		t.Fatalf("unknown item: %s", r)
	}
	if err := m.stop(t, 10*time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	m = startMovies(t, id, moviesOpts{opaURL: opa.url, opaTokenFile: filepath.Join(opa.dir, "opa-token"), dataDir: m.dataDir, extra: flags})
	if r := do(t, "POST", m.url+"/v1/movies/import", editor, body); r.status != 200 || !strings.Contains(string(r.body), mv.ID) {
		t.Fatalf("import after a restart: %s, want 200 with %s", r, mv.ID)
	}
	if n := listCount(t, m, editor); n != 1 {
		t.Fatalf("%d movies stored, want 1", n)
	}
}

// TestImportFromHostileUpstream is evidence for C-EGRESS-SSRF, C-EGRESS-BOUNDED and
// C-UPSTREAM-UNTRUSTED over the real binary: a catalogue that redirects to 127.0.0.1,
// sends 10 MB, a gzip bomb, a trickle, hostile JSON, 500 or 429 gets the generic problem of
// its status, stores nothing, never reaches the internal address, and leaves no trace of
// its text in the response or the log.
func TestImportFromHostileUpstream(t *testing.T) {
	internal, reached := countingListener(t)
	cat := httptest.NewServer(hostileCatalogue(internal))
	defer cat.Close()
	id, _, m := startStack(t, importFlags(cat.URL)...)
	editor := id.token(t, "editor", "editor")
	for _, tc := range []struct {
		name, id string
		status   int
	}{
		{"C-EGRESS-SSRF redirect to 127.0.0.1", "Q2", 502},
		{"C-EGRESS-BOUNDED 10 MB body", "Q3", 502},
		{"C-EGRESS-BOUNDED gzip bomb", "Q4", 502},
		{"C-EGRESS-BOUNDED trickling body", "Q5", 504},
		{"C-UPSTREAM-UNTRUSTED duplicate keys", "Q6", 502},
		{"C-UPSTREAM-UNTRUSTED 1e400", "Q7", 502},
		{"C-UPSTREAM-UNTRUSTED control characters", "Q8", 502},
		{"C-UPSTREAM-UNTRUSTED 100k-deep nesting", "Q9", 502},
		{"C-UPSTREAM-UNTRUSTED 500", "Q10", 502},
		{"C-UPSTREAM-UNTRUSTED 429", "Q11", 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := do(t, "POST", m.url+"/v1/movies/import", editor, `{"source":"wikidata","id":"`+tc.id+`"}`)
			if r.status != tc.status || r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("got %s, want the %d problem", r, tc.status)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Fatalf("the import took %v", d)
			}
			if tc.status == 503 && r.header.Get("Retry-After") != "7" {
				t.Fatalf("Retry-After %q, want the upstream's 7", r.header.Get("Retry-After"))
			}
			for _, leak := range []string{"upstream-canary", "\x1b", "127.0.0.1", "1e400", "Metropolis"} {
				if strings.Contains(string(r.body), leak) {
					t.Fatalf("C-ERRORS the response carries %q: %s", leak, r.body)
				}
			}
		})
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("C-EGRESS-SSRF the internal address got %d connections", n)
	}
	if n := listCount(t, m, editor); n != 0 {
		t.Errorf("%d movies stored from hostile answers", n)
	}
	// Log lines are batched (at most 5ms): wait for the access line of the list above, the last request.
	waitFor(t, 5*time.Second, "the list's access line", func() bool { return strings.Contains(m.out.String(), `"route":"GET /v1/movies"`) })
	if logs := m.out.String(); strings.Contains(logs, "upstream-canary") || strings.Contains(logs, "\x1b") {
		t.Errorf("C-UPSTREAM-UNTRUSTED the upstream's text reached the log unescaped:\n%s", logs)
	}
}

// TestImportLimits: a subject past its import burst gets 429 with Retry-After.
func TestImportLimits(t *testing.T) {
	films := []upstreamtest.Film{metropolis, {ID: "Q2", Title: "Nosferatu", Year: 1922}}
	cat := httptest.NewServer(upstreamtest.Wikidata(films...))
	defer cat.Close()
	id, _, m := startStack(t, importFlags(cat.URL, "-import-burst-subject", "1")...)
	editor := id.token(t, "editor", "editor")
	if r := do(t, "POST", m.url+"/v1/movies/import", editor, `{"source":"wikidata","id":"Q151599"}`); r.status != 201 {
		t.Fatalf("first import: %s", r)
	}
	r := do(t, "POST", m.url+"/v1/movies/import", editor, `{"source":"wikidata","id":"Q2"}`)
	if r.status != 429 || r.header.Get("Retry-After") == "" || !strings.HasPrefix(r.header.Get("RateLimit"), `"import";r=0;`) {
		t.Fatalf("C-EGRESS-BOUNDED past the import burst: %s %v", r, r.header)
	}
}
