package authz

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var editorPut = Input{
	Method: "PUT", Route: "/v1/movies/{id}", Path: []string{"v1", "movies", "m1"},
	Subject:  &Subject{Sub: "editor", Roles: []string{"editor"}},
	Resource: &Resource{Type: "movie", ID: "m1", Owner: "editor"},
}

// fakeOPA answers every decision with status and body, counting calls.
func fakeOPA(t *testing.T, status int, body string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != decisionPath || r.Method != http.MethodPost {
			http.Error(w, "wrong endpoint", http.StatusNotFound)
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func mustClient(tb testing.TB, cfg Config) *Client {
	tb.Helper()
	c, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestDecideFailsClosed(t *testing.T) {
	big := `{"result":{"allow":true,"reasons":["` + strings.Repeat("x", 70<<10) + `"]}}`
	cases := []struct {
		name      string
		status    int
		body      string
		allow     bool
		unavailab bool
	}{
		{"allow true allows", 200, `{"decision_id":"d1","result":{"allow":true,"reasons":["ALLOW_OWNER"]}}`, true, false},
		{"C-AUTHZ-FAILCLOSED allow false denies", 200, `{"result":{"allow":false}}`, false, false},
		{"C-AUTHZ-FAILCLOSED empty object is undefined: unavailable", 200, `{}`, false, true},
		{"C-AUTHZ-FAILCLOSED null result is undefined: unavailable", 200, `{"result":null}`, false, true},
		{"C-AUTHZ-FAILCLOSED string result denies", 200, `{"result":"true"}`, false, false},
		{"C-AUTHZ-FAILCLOSED boolean result denies", 200, `{"result":true}`, false, false},
		{"C-AUTHZ-FAILCLOSED allow as string denies", 200, `{"result":{"allow":"true"}}`, false, false},
		{"C-AUTHZ-FAILCLOSED allow as number denies", 200, `{"result":{"allow":1}}`, false, false},
		{"C-AUTHZ-FAILCLOSED allow missing denies", 200, `{"result":{"reasons":[]}}`, false, false},
		{"C-AUTHZ-FAILCLOSED array result denies", 200, `{"result":[{"allow":true}]}`, false, false},
		{"C-AUTHZ-FAILCLOSED non-200 is unavailable", 500, `{"result":{"allow":true}}`, false, true},
		{"C-AUTHZ-FAILCLOSED 401 is unavailable", 401, `{"result":{"allow":true}}`, false, true},
		{"C-AUTHZ-FAILCLOSED malformed JSON is unavailable", 200, `{"result":{"allow":tru`, false, true},
		{"C-AUTHZ-FAILCLOSED oversized body is unavailable", 200, big, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := fakeOPA(t, tc.status, tc.body)
			c := mustClient(t, Config{URL: srv.URL})
			d, err := c.Decide(context.Background(), editorPut)
			if got := errors.Is(err, ErrUnavailable); got != tc.unavailab {
				t.Fatalf("unavailable = %v (err %v), want %v", got, err, tc.unavailab)
			}
			if d.Allow != tc.allow {
				t.Fatalf("allow = %v, want %v", d.Allow, tc.allow)
			}
		})
	}
}

func TestDecideUnreachableAndSlow(t *testing.T) {
	t.Run("C-AUTHZ-FAILCLOSED connection refused is unavailable", func(t *testing.T) {
		srv, _ := fakeOPA(t, 200, `{"result":{"allow":true}}`)
		url := srv.URL
		srv.Close()
		_, err := mustClient(t, Config{URL: url}).Decide(context.Background(), editorPut)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
	t.Run("C-AUTHZ-FAILCLOSED timeout is unavailable", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		start := time.Now()
		_, err := mustClient(t, Config{URL: srv.URL, Timeout: 50 * time.Millisecond}).Decide(context.Background(), editorPut)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("timeout not enforced: took %v", time.Since(start))
		}
	})
	t.Run("C-AUTHZ-FAILCLOSED redirect is not followed", func(t *testing.T) {
		target, calls := fakeOPA(t, 200, `{"result":{"allow":true}}`)
		srv := httptest.NewServer(http.RedirectHandler(target.URL+decisionPath, http.StatusTemporaryRedirect))
		defer srv.Close()
		_, err := mustClient(t, Config{URL: srv.URL}).Decide(context.Background(), editorPut)
		if !errors.Is(err, ErrUnavailable) || calls.Load() != 0 {
			t.Fatalf("err = %v, calls to target = %d; want ErrUnavailable and 0", err, calls.Load())
		}
	})
}

func TestDecideSendsInputAndToken(t *testing.T) {
	var gotAuth string
	var got struct{ Input Input }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		json.NewDecoder(r.Body).Decode(&got)
		io.WriteString(w, `{"result":{"allow":true}}`)
	}))
	defer srv.Close()
	c := mustClient(t, Config{URL: srv.URL + "/", Token: "opa-secret"})
	if _, err := c.Decide(context.Background(), editorPut); err != nil {
		t.Fatal(err)
	}
	if gotAuth != "Bearer opa-secret" {
		t.Errorf("Authorization = %q", gotAuth)
	}
	if got.Input.Resource == nil || got.Input.Resource.Owner != "editor" || got.Input.Subject.Sub != "editor" || got.Input.Route != "/v1/movies/{id}" {
		t.Errorf("input = %+v", got.Input)
	}
}

func TestDecisionCache(t *testing.T) {
	srv, calls := fakeOPA(t, 200, `{"result":{"allow":true}}`)
	c := mustClient(t, Config{URL: srv.URL, CacheTTL: time.Second})
	now := time.Unix(1000, 0)
	c.cache.now = func() time.Time { return now }
	ctx := context.Background()

	mustDecide := func(in Input) Decision {
		t.Helper()
		d, err := c.Decide(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := mustDecide(editorPut); d.Cached || calls.Load() != 1 {
		t.Fatalf("first decision cached=%v calls=%d", d.Cached, calls.Load())
	}
	if d := mustDecide(editorPut); !d.Cached || calls.Load() != 1 {
		t.Fatalf("second decision cached=%v calls=%d", d.Cached, calls.Load())
	}
	// Any difference in the input is a different question.
	other := editorPut
	other.Resource = &Resource{Type: "movie", ID: "m1", Owner: "editor2"}
	if d := mustDecide(other); d.Cached {
		t.Fatal("decision for another owner came from the cache")
	}
	// Staleness is bounded by the TTL.
	now = now.Add(time.Second)
	if d := mustDecide(editorPut); d.Cached {
		t.Fatal("decision served from cache at its TTL")
	}
}

func TestDecisionCacheNeverKeepsUnavailable(t *testing.T) {
	var status atomic.Int64
	status.Store(500)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		io.WriteString(w, `{"result":{"allow":true}}`)
	}))
	defer srv.Close()
	c := mustClient(t, Config{URL: srv.URL, CacheTTL: time.Second})
	if _, err := c.Decide(context.Background(), editorPut); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	status.Store(200) // OPA is back: the next call must reach it
	d, err := c.Decide(context.Background(), editorPut)
	if err != nil || !d.Allow || d.Cached {
		t.Fatalf("after recovery: %+v, %v", d, err)
	}
}

func TestDecisionCacheBounded(t *testing.T) {
	c := newCache[string, Decision](8, time.Minute, time.Now)
	for i := range 100 {
		c.put(strings.Repeat("k", i+1), Decision{Allow: true})
		if len(c.m) > 8 {
			t.Fatalf("cache holds %d entries, limit 8", len(c.m))
		}
	}
}

// TestUndefinedIsNeverCached: OPA without the policy answers no result;
// every request asks again, so the service recovers the moment the policy
// is loaded.
func TestUndefinedIsNeverCached(t *testing.T) {
	srv, calls := fakeOPA(t, 200, `{}`)
	c := mustClient(t, Config{URL: srv.URL, CacheTTL: 10 * time.Second})
	for i := range 3 {
		if _, err := c.Decide(context.Background(), editorPut); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("C-AUTHZ-FAILCLOSED decision %d with no policy loaded: %v, want ErrUnavailable", i, err)
		}
	}
	if calls.Load() != 3 {
		t.Fatalf("C-AUTHZ-FAILCLOSED OPA asked %d times for 3 decisions: an undefined answer was cached", calls.Load())
	}
}

func TestPing(t *testing.T) {
	srv, _ := fakeOPA(t, 200, `{}`)
	if err := mustClient(t, Config{URL: srv.URL}).Ping(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ping with no policy loaded = %v, want ErrUnavailable", err)
	}
	srv, _ = fakeOPA(t, 200, `{"result":{"allow":false,"reasons":["AUTHZ_NO_SUBJECT: x"]}}`)
	if err := mustClient(t, Config{URL: srv.URL}).Ping(context.Background()); err != nil {
		t.Fatalf("Ping with a loaded policy = %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{URL: "ftp://x"}, {URL: "127.0.0.1:8181"}, {URL: "http://x", CacheTTL: time.Minute}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`{}`, `{"result":{"allow":true}}`, `{"result":"true"}`, `{"result":{"allow":"true"}}`, `{"result":[]}`, `{"result":{"allow":true,"reasons":[1]}}`, `{"result": {}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := parse(raw)
		if err != nil && d.Allow {
			t.Fatal("error with allow")
		}
		if d.Allow && !strings.Contains(string(raw), "true") {
			t.Fatalf("allowed without a true in %q", raw)
		}
	})
}

// TestDecisionKeyDistinguishesInputs: inputs whose JSON differs never share a cache key.
func TestDecisionKeyDistinguishesInputs(t *testing.T) {
	base := editorPut
	variants := []Input{base}
	add := func(f func(in *Input)) {
		in := base
		s, r := *base.Subject, *base.Resource
		in.Subject, in.Resource = &s, &r
		in.Path = append([]string(nil), base.Path...)
		f(&in)
		variants = append(variants, in)
	}
	add(func(in *Input) { in.Resource.Owner = "editor2" })
	add(func(in *Input) { in.Resource = nil })
	add(func(in *Input) { in.Resource = &Resource{} })
	add(func(in *Input) { in.Subject = nil })
	add(func(in *Input) { in.Subject.Roles = nil })
	add(func(in *Input) { in.Subject.Roles = []string{} })
	add(func(in *Input) { in.Subject.Roles = []string{"edi", "tor"} })
	add(func(in *Input) { in.Subject.Roles = []string{"editor", "viewer"} })
	add(func(in *Input) { in.Path = []string{"v1", "movies"} })
	add(func(in *Input) { in.Path = []string{"v1", "moviesm1"} })
	add(func(in *Input) { in.Path = nil })
	add(func(in *Input) { in.Source = "wikidata" })
	add(func(in *Input) { in.Subject.Sub = "editor:" })
	add(func(in *Input) { in.Method = "DELETE" })
	add(func(in *Input) { in.Resource.ID, in.Resource.Owner = "m1e", "ditor" })
	seen := map[string]string{}
	for _, in := range variants {
		body, _ := json.Marshal(in)
		k := decisionKey(in)
		if prev, ok := seen[k]; ok && prev != string(body) {
			t.Fatalf("C-AUTHZ-OWNER %s and %s share the key %q", prev, body, k)
		}
		seen[k] = string(body)
	}
	if len(seen) != len(variants) {
		t.Fatalf("%d keys for %d different inputs", len(seen), len(variants))
	}
}
