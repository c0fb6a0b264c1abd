package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/internal/egress"
	"github.com/secure-movie-service/sms/service/upstream/upstreamtest"
)

var metropolis = upstreamtest.Film{ID: "Q151599", Title: "Metropolis", Year: 1927,
	Genres: []string{"science fiction film", "drama film"}, Directors: []string{"Fritz Lang"}}

// serve starts h on loopback and returns its base URL and a guard that lets the test reach it.
func serve(tb testing.TB, h http.Handler, cfg egress.Config) (string, *egress.Client) {
	tb.Helper()
	s := httptest.NewServer(h)
	tb.Cleanup(s.Close)
	cfg.TestLoopbackHTTP = []netip.AddrPort{netip.MustParseAddrPort(s.Listener.Addr().String())}
	return s.URL, egress.New(cfg)
}

func TestWikidataFetch(t *testing.T) {
	base, guard := serve(t, upstreamtest.Wikidata(metropolis), egress.Config{})
	var outcomes []string
	c := New(guard, func(source string, _ time.Duration, err error) { outcomes = append(outcomes, source+" "+Outcome(err)) }, Wikidata{Base: base})
	r, err := c.Fetch(context.Background(), "wikidata", "Q151599")
	if err != nil {
		t.Fatal(err)
	}
	want := Record{Title: "Metropolis", Year: 1927, Genres: []string{"science fiction film", "drama film"}, Director: "Fritz Lang"}
	if r.Title != want.Title || r.Year != want.Year || !slices.Equal(r.Genres, want.Genres) || r.Director != want.Director {
		t.Fatalf("got %+v, want %+v", r, want)
	}
	if _, err := c.Fetch(context.Background(), "wikidata", "Q2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown item: %v", err)
	}
	if !slices.Equal(outcomes, []string{"wikidata ok", "wikidata not_found"}) {
		t.Fatalf("observed %v", outcomes)
	}
	if c.ValidID("wikidata", "Q0") || c.ValidID("wikidata", "Q1/../x") || c.ValidID("omdb", "tt0017136") || !c.ValidID("wikidata", "Q42") {
		t.Fatal("ValidID")
	}
}

func TestOMDbFetch(t *testing.T) {
	const key = "omdb-key-canary-77"
	film := upstreamtest.Film{ID: "tt0017136", Title: "Metropolis", Year: 1927, Genres: []string{"Drama", "Sci-Fi"}, Directors: []string{"Fritz Lang"}}
	base, guard := serve(t, upstreamtest.OMDb(key, film), egress.Config{})
	c := New(guard, nil, OMDb{Base: base, Key: key})
	r, err := c.Fetch(context.Background(), "omdb", "tt0017136")
	if err != nil || r.Title != "Metropolis" || r.Year != 1927 || !slices.Equal(r.Genres, []string{"Drama", "Sci-Fi"}) || r.Director != "Fritz Lang" {
		t.Fatalf("got %+v, %v", r, err)
	}
	if _, err := c.Fetch(context.Background(), "omdb", "tt9999999"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown title: %v", err)
	}
	wrong := New(guard, nil, OMDb{Base: base, Key: "wrong-key-canary-88"})
	_, err = wrong.Fetch(context.Background(), "omdb", "tt0017136")
	if !errors.Is(err, ErrBadGateway) || strings.Contains(err.Error(), "canary") || strings.Contains(err.Error(), "Invalid API key") {
		t.Fatalf("C-SECRETS wrong key: %v (must be a bad gateway naming neither the key nor the upstream's text)", err)
	}
	if s := fmt.Sprintf("%v %s %#v", Key(key), Key(key), Key(key)); strings.Contains(s, "canary") {
		t.Fatalf("C-SECRETS the key prints: %s", s)
	}
}

// TestControlsUpstreamFailuresClassified: a catalogue's 404, 429, 500, slowness and
// refusal map to the sentinels the API answers with; 429's Retry-After is kept.
func TestControlsUpstreamFailuresClassified(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       http.HandlerFunc
		want    error
		outcome string
	}{
		{"404", func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) }, ErrNotFound, "not_found"},
		{"429", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "12")
			w.WriteHeader(429)
		}, ErrBusy, "busy"},
		{"500", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "upstream-secret-text", 500) }, ErrBadGateway, "failed"},
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
		}, ErrTimeout, "timeout"},
		{"redirect to loopback", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://127.0.0.1:1/", http.StatusFound)
		}, ErrBadGateway, "refused"},
	} {
		t.Run("C-UPSTREAM-UNTRUSTED "+tc.name, func(t *testing.T) {
			base, guard := serve(t, tc.h, egress.Config{Timeout: 300 * time.Millisecond})
			_, err := New(guard, nil, Wikidata{Base: base}).Fetch(context.Background(), "wikidata", "Q1")
			if !errors.Is(err, tc.want) || Outcome(err) != tc.outcome {
				t.Fatalf("error %v (outcome %s), want %v (%s)", err, Outcome(err), tc.want, tc.outcome)
			}
			if strings.Contains(err.Error(), "upstream-secret-text") {
				t.Fatalf("the error carries the upstream's text: %v", err)
			}
			if be, ok := errors.AsType[*BusyError](err); tc.want == ErrBusy && (!ok || be.RetryAfter() != 12*time.Second) {
				t.Fatalf("Retry-After lost: %v", err)
			}
		})
	}
}

// fakeFetcher answers from a table and records the URLs asked for.
type fakeFetcher struct {
	answers map[string][]byte // by path
	asked   []string
}

func (f *fakeFetcher) Get(_ context.Context, raw string) ([]byte, error) {
	f.asked = append(f.asked, raw)
	u, _ := url.Parse(raw)
	if b, ok := f.answers[u.Path]; ok {
		return b, nil
	}
	return nil, &egress.StatusError{Code: 404}
}

const entityPath = "/wiki/Special:EntityData/Q151599.json"

func entity(claimsAndLabels string) []byte {
	return []byte(`{"entities":{"Q151599":{"type":"item","id":"Q151599",` + claimsAndLabels + `}}}`)
}

const good = `"labels":{"en":{"value":"Metropolis"}},"claims":{"P577":[{"rank":"normal","mainsnak":{"datavalue":{"value":{"time":"+1927-01-10T00:00:00Z","precision":11}}}}]}`

// TestControlsHostileJSON: the catalogue's document is read as strictly as a client's
// body; anything hostile is a bad gateway and nothing of it is used.
func TestControlsHostileJSON(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_000)
	for _, tc := range []struct{ name, body string }{
		{"duplicate keys", `{"entities":{"Q151599":{"type":"item","id":"Q151599",` + good + `,"labels":{"en":{"value":"Shadow"}}}}}`},
		{"keys that differ only in case", string(entity(good + `,"Labels":{"en":{"value":"Shadow"}}`))},
		{"a number beyond float64", string(entity(good + `,"pageid":1e400`))},
		{"raw control characters", string(entity(`"labels":{"en":{"value":"Metro` + "\x1b[31m\x00" + `polis"}}`))},
		{"100k-deep nesting", string(entity(good + `,"sitelinks":` + deep))},
		{"invalid UTF-8", string(entity(`"labels":{"en":{"value":"Metro` + "\xff" + `"}}`))},
		{"two entities", `{"entities":{"Q1":{"type":"item","id":"Q1"},"Q2":{"type":"item","id":"Q2"}}}`},
		{"a string where a number goes", string(entity(`"claims":{"P577":[{"mainsnak":{"datavalue":{"value":{"precision":"11"}}}}]}`))},
		{"trailing data", string(entity(good)) + `{}`},
		{"not an object", `[1,2,3]`},
	} {
		t.Run("C-UPSTREAM-UNTRUSTED "+tc.name, func(t *testing.T) {
			f := &fakeFetcher{answers: map[string][]byte{entityPath: []byte(tc.body)}}
			r, err := New(f, nil, Wikidata{Base: "https://wikidata.test"}).Fetch(context.Background(), "wikidata", "Q151599")
			if !errors.Is(err, ErrBadGateway) && !errors.Is(err, ErrNotAMovie) {
				t.Fatalf("accepted: %+v, %v", r, err)
			}
			if strings.Contains(err.Error(), "Shadow") || strings.ContainsAny(err.Error(), "\x1b\x00") {
				t.Fatalf("the error carries the upstream's text: %q", err)
			}
		})
	}
}

// TestIDsFromTheCatalogueAreChecked: ids a document names go into the labels URL only
// when they are item ids, so a document cannot add parameters to the next request.
func TestIDsFromTheCatalogueAreChecked(t *testing.T) {
	claims := `"labels":{"en":{"value":"Metropolis"}},"claims":{"P577":[{"mainsnak":{"datavalue":{"value":{"time":"+1927-01-10T00:00:00Z","precision":11}}}}],` +
		`"P136":[{"mainsnak":{"datavalue":{"value":{"id":"Q1|Q2&action=edit"}}}},{"mainsnak":{"datavalue":{"value":{"id":"Q5"}}}},` +
		`{"rank":"deprecated","mainsnak":{"datavalue":{"value":{"id":"Q6"}}}}]}`
	f := &fakeFetcher{answers: map[string][]byte{entityPath: entity(claims),
		"/w/api.php": []byte(`{"entities":{"Q5":{"labels":{"en":{"value":"drama film"}}}}}`)}}
	r, err := New(f, nil, Wikidata{Base: "https://wikidata.test"}).Fetch(context.Background(), "wikidata", "Q151599")
	if err != nil || !slices.Equal(r.Genres, []string{"drama film"}) {
		t.Fatalf("got %+v, %v", r, err)
	}
	u, _ := url.Parse(f.asked[1])
	if q := u.Query(); q.Get("ids") != "Q5" || q.Get("action") != "wbgetentities" || len(q["action"]) != 1 {
		t.Fatalf("C-UPSTREAM-UNTRUSTED labels asked with %s", f.asked[1])
	}
}

func TestNotAMovie(t *testing.T) {
	for name, claims := range map[string]string{
		"no label":          `"claims":{"P577":[{"mainsnak":{"datavalue":{"value":{"time":"+1927-01-10T00:00:00Z","precision":11}}}}]}`,
		"no date":           `"labels":{"en":{"value":"Metropolis"}}`,
		"decade precision":  `"labels":{"en":{"value":"M"}},"claims":{"P577":[{"mainsnak":{"datavalue":{"value":{"time":"+1920-00-00T00:00:00Z","precision":8}}}}]}`,
		"year BCE":          `"labels":{"en":{"value":"M"}},"claims":{"P577":[{"mainsnak":{"datavalue":{"value":{"time":"-1927-01-01T00:00:00Z","precision":11}}}}]}`,
		"deprecated date":   `"labels":{"en":{"value":"M"}},"claims":{"P577":[{"rank":"deprecated","mainsnak":{"datavalue":{"value":{"time":"+1927-01-01T00:00:00Z","precision":11}}}}]}`,
		"year out of range": `"labels":{"en":{"value":"M"}},"claims":{"P577":[{"mainsnak":{"datavalue":{"value":{"time":"+100000-01-01T00:00:00Z","precision":11}}}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeFetcher{answers: map[string][]byte{entityPath: entity(claims)}}
			if _, err := New(f, nil, Wikidata{Base: "https://wikidata.test"}).Fetch(context.Background(), "wikidata", "Q151599"); !errors.Is(err, ErrNotAMovie) {
				t.Fatalf("error %v, want ErrNotAMovie", err)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://www.wikidata.org": true, "https://www.wikidata.org/": true, "http://127.0.0.1:8080": true,
		"https://u:p@www.wikidata.org": false, "https://x.test/?a=1": false, "https://x.test/#f": false,
		"ftp://x.test": false, "www.wikidata.org": false, "": false,
	} {
		if _, err := BaseURL(raw); (err == nil) != ok {
			t.Errorf("BaseURL(%q) = %v", raw, err)
		}
	}
}
