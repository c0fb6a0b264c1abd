package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/auth"
	"github.com/secure-movie-service/sms/service/authz"
	"github.com/secure-movie-service/sms/service/store"
)

func TestPublicRoutes(t *testing.T) {
	hs := newHarness(t)
	for _, tc := range []struct {
		name, method, path string
		status             int
		allow, ctype       string
	}{
		{"healthz", "GET", "/healthz", 200, "", "application/json; charset=utf-8"},
		{"readyz", "GET", "/readyz", 200, "", "application/json; charset=utf-8"},
		{"openapi", "GET", "/openapi.yaml", 200, "", "application/yaml"},
		{"head healthz", "HEAD", "/healthz", 200, "", "application/json; charset=utf-8"},
		{"unknown route 404", "GET", "/v2/movies", 404, "", "application/problem+json"},
		{"trailing slash 404", "GET", "/v1/movies/", 404, "", "application/problem+json"},
		{"collection PATCH 405", "PATCH", "/v1/movies", 405, "GET, HEAD, POST", "application/problem+json"},
		{"item POST 405", "POST", "/v1/movies/0123456789abcdef0123456789abcdef", 405, "GET, HEAD, PUT, DELETE", "application/problem+json"},
		{"healthz DELETE 405", "DELETE", "/healthz", 405, "GET, HEAD", "application/problem+json"},
		{"import GET 405", "GET", "/v1/movies/import", 405, "POST", "application/problem+json"},
		{"import PATCH 405", "PATCH", "/v1/movies/import", 405, "POST", "application/problem+json"},
		{"import DELETE 405", "DELETE", "/v1/movies/import", 405, "POST", "application/problem+json"},
		{"OPTIONS 405", "OPTIONS", "/v1/movies", 405, "GET, HEAD, POST", "application/problem+json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := hs.do(t, req{method: tc.method, path: tc.path})
			if w.Code != tc.status || w.Header().Get("Allow") != tc.allow || w.Header().Get("Content-Type") != tc.ctype {
				t.Fatalf("got %d Allow=%q Content-Type=%q, want %d %q %q", w.Code, w.Header().Get("Allow"), w.Header().Get("Content-Type"), tc.status, tc.allow, tc.ctype)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	hs := newHarness(t)
	for _, tc := range []struct {
		name   string
		header map[string]string
		path   string
		param  string
	}{
		{"C-AUTHN no token", nil, "/v1/movies", ""},
		{"C-AUTHN unknown token", map[string]string{"Authorization": "Bearer nope"}, "/v1/movies", `error="invalid_token"`},
		{"C-AUTHN basic scheme", map[string]string{"Authorization": "Basic dmlld2VyOnB3"}, "/v1/movies", ""},
		{"C-AUTHN bearer without token", map[string]string{"Authorization": "Bearer "}, "/v1/movies", ""},
		{"C-AUTHN token with spaces", map[string]string{"Authorization": "Bearer tok-viewer extra"}, "/v1/movies", ""},
		{"C-AUTHN token in query string never accepted", nil, "/v1/movies?access_token=tok-viewer", `error="invalid_request"`},
		{"C-AUTHN token in query string with header still refused", map[string]string{"Authorization": "Bearer tok-viewer"}, "/v1/movies?access_token=tok-viewer", `error="invalid_request"`},
		{"C-AUTHN item route needs token", nil, "/v1/movies/0123456789abcdef0123456789abcdef", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := hs.do(t, req{method: "GET", path: tc.path, header: tc.header})
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", w.Code)
			}
			ch := w.Header().Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, "Bearer") || !strings.Contains(ch, tc.param) {
				t.Fatalf("WWW-Authenticate = %q, want Bearer with %q", ch, tc.param)
			}
			if strings.Contains(w.Body.String(), "bad token") {
				t.Fatal("401 body reveals why the token failed")
			}
		})
	}
	if n := len(hs.authz.inputs); n != 0 {
		t.Fatalf("OPA was asked %d times for unauthenticated requests", n)
	}
}

func TestMovieLifecycle(t *testing.T) {
	hs := newHarness(t)
	m, tag := hs.mustCreate(t, "tok-editor", goodMovie)
	if m.CreatedBy != "editor" || !validID(m.ID) || !m.CreatedAt.Equal(fixedNow) || tag != `"1"` {
		t.Fatalf("created %+v etag %s", m, tag)
	}
	item := "/v1/movies/" + m.ID

	w := hs.do(t, req{method: "GET", path: item, token: "tok-viewer"})
	if w.Code != 200 || w.Header().Get("ETag") != tag || decodeBody[store.Movie](t, w).Title != "Metropolis" {
		t.Fatalf("get: %d %s", w.Code, w.Body)
	}
	updated := `{"title":"Metropolis (restored)","year":1927}`
	steps := []struct {
		name   string
		r      req
		status int
	}{
		{"PUT without If-Match is 428", req{method: "PUT", path: item, token: "tok-editor", body: updated}, 428},
		{"PUT with stale If-Match is 412", req{method: "PUT", path: item, token: "tok-editor", body: updated, header: map[string]string{"If-Match": `"7"`}}, 412},
		{"PUT with If-Match * is 428", req{method: "PUT", path: item, token: "tok-editor", body: updated, header: map[string]string{"If-Match": "*"}}, 428},
		{"PUT with weak tag is 412", req{method: "PUT", path: item, token: "tok-editor", body: updated, header: map[string]string{"If-Match": `W/"1"`}}, 412},
		{"C-AUTHZ-OWNER editor2 cannot PUT editor's movie", req{method: "PUT", path: item, token: "tok-editor2", body: updated, header: map[string]string{"If-Match": tag}}, 403},
		{"C-AUTHZ-RBAC viewer cannot PUT", req{method: "PUT", path: item, token: "tok-viewer", body: updated, header: map[string]string{"If-Match": tag}}, 403},
		{"PUT with current ETag is 200", req{method: "PUT", path: item, token: "tok-editor", body: updated, header: map[string]string{"If-Match": tag}}, 200},
		{"PUT with the old ETag again is 412", req{method: "PUT", path: item, token: "tok-editor", body: updated, header: map[string]string{"If-Match": tag}}, 412},
		{"C-AUTHZ-OWNER editor2 cannot DELETE editor's movie", req{method: "DELETE", path: item, token: "tok-editor2"}, 403},
		{"DELETE with stale If-Match is 412", req{method: "DELETE", path: item, token: "tok-editor", header: map[string]string{"If-Match": `"1"`}}, 412},
		{"DELETE by owner is 204", req{method: "DELETE", path: item, token: "tok-editor", header: map[string]string{"If-Match": "*"}}, 204},
		{"GET after DELETE is 404", req{method: "GET", path: item, token: "tok-viewer"}, 404},
		{"PUT after DELETE is 404", req{method: "PUT", path: item, token: "tok-editor", body: updated, header: map[string]string{"If-Match": "*"}}, 404},
		{"DELETE after DELETE is 404", req{method: "DELETE", path: item, token: "tok-admin"}, 404},
		{"malformed id is 404", req{method: "GET", path: "/v1/movies/..%2f..%2fetc", token: "tok-viewer"}, 404},
		{"C-AUTHZ-RBAC viewer cannot POST", req{method: "POST", path: "/v1/movies", token: "tok-viewer", body: goodMovie}, 403},
	}
	for _, s := range steps {
		w := hs.do(t, s.r)
		if w.Code != s.status {
			t.Fatalf("%s: got %d %s", s.name, w.Code, w.Body)
		}
	}
	// The update kept the owner and creation time and bumped the version.
	m2, tag2 := hs.mustCreate(t, "tok-editor", goodMovie)
	w = hs.do(t, req{method: "PUT", path: "/v1/movies/" + m2.ID, token: "tok-admin", body: updated, header: map[string]string{"If-Match": tag2}})
	got := decodeBody[store.Movie](t, w)
	if w.Code != 200 || got.CreatedBy != "editor" || got.Title != "Metropolis (restored)" || w.Header().Get("ETag") != `"2"` || len(got.Genres) != 0 || got.Genres == nil {
		t.Fatalf("admin update: %d %+v %s", w.Code, got, w.Header().Get("ETag"))
	}
}

func TestOwnerDecidedOnStoredResource(t *testing.T) {
	hs := newHarness(t)
	m, tag := hs.mustCreate(t, "tok-editor", goodMovie)
	hs.authz.inputs = nil
	hs.do(t, req{method: "DELETE", path: "/v1/movies/" + m.ID, token: "tok-editor2", header: map[string]string{"If-Match": tag}})
	in := hs.authz.inputs[0]
	if in.Resource == nil || in.Resource.Owner != "editor" || in.Resource.ID != m.ID || in.Subject.Sub != "editor2" ||
		in.Route != itemRoute || in.Method != "DELETE" || strings.Join(in.Path, "/") != "v1/movies/"+m.ID {
		t.Fatalf("decision input %+v (resource %+v)", in, in.Resource)
	}
}

func TestInputValidation(t *testing.T) {
	hs := newHarness(t)
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name, body, ctype string
		status            int
		field             string
	}{
		{"C-INPUT wrong content type", goodMovie, "text/plain", 415, ""},
		{"C-INPUT missing content type", goodMovie, "-", 415, ""},
		{"C-INPUT JSON with latin1 charset", goodMovie, "application/json; charset=latin1", 415, ""},
		{"C-INPUT body over 64 KiB", `{"title":"` + long(70<<10) + `","year":2000}`, "", 413, ""},
		{"C-INPUT unknown field", `{"title":"x","year":2000,"owner":"admin"}`, "", 400, "owner"},
		{"C-INPUT server-set id refused", `{"id":"0123456789abcdef0123456789abcdef","title":"x","year":2000}`, "", 400, "id"},
		{"C-INPUT duplicate key", `{"title":"x","title":"y","year":2000}`, "", 400, ""},
		{"C-INPUT keys differing only in case", `{"title":"Benign","TITLE":"Shadow","year":1927,"Year":2001}`, "", 400, ""},
		{"C-INPUT field name in another case", `{"TITLE":"Shadow","year":2001}`, "", 400, "TITLE"},
		{"C-INPUT Unicode-folded field name", `{"title":"x","year":2000,"genreſ":["a"]}`, "", 400, "genreſ"},
		{"C-INPUT trailing data", `{"title":"x","year":2000}{"title":"y","year":2000}`, "", 400, ""},
		{"C-INPUT trailing garbage", `{"title":"x","year":2000} xyz`, "", 400, ""},
		{"C-INPUT array body", `[` + goodMovie + `]`, "", 400, ""},
		{"C-INPUT empty body", ``, "application/json", 400, ""},
		{"C-INPUT null body", `null`, "", 400, ""},
		{"C-INPUT truncated", `{"title":"x"`, "", 400, ""},
		{"C-INPUT invalid UTF-8", "{\"title\":\"\xff\xfe\",\"year\":2000}", "", 400, ""},
		{"C-INPUT deep nesting", `{"title":"x","year":2000,"genres":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "", 400, ""},
		{"C-INPUT missing title", `{"year":2000}`, "", 400, "title"},
		{"C-INPUT empty title", `{"title":"","year":2000}`, "", 400, "title"},
		{"C-INPUT title 201 chars", `{"title":"` + long(201) + `","year":2000}`, "", 400, "title"},
		{"C-INPUT title with control char", `{"title":"a\u0000b","year":2000}`, "", 400, "title"},
		{"C-INPUT title with newline", `{"title":"a\nb","year":2000}`, "", 400, "title"},
		{"C-INPUT title as number", `{"title":5,"year":2000}`, "", 400, "title"},
		{"C-INPUT missing year", `{"title":"x"}`, "", 400, "year"},
		{"C-INPUT year 1887", `{"title":"x","year":1887}`, "", 400, "year"},
		{"C-INPUT year too far ahead", `{"title":"x","year":2032}`, "", 400, "year"},
		{"C-INPUT year as string", `{"title":"x","year":"2000"}`, "", 400, "year"},
		{"C-INPUT year fractional", `{"title":"x","year":2000.5}`, "", 400, "year"},
		{"C-INPUT year huge", `{"title":"x","year":1e400}`, "", 400, ""},
		{"C-INPUT 11 genres", `{"title":"x","year":2000,"genres":["a","b","c","d","e","f","g","h","i","j","k"]}`, "", 400, "genres"},
		{"C-INPUT genre 33 chars", `{"title":"x","year":2000,"genres":["` + long(33) + `"]}`, "", 400, "genres[0]"},
		{"C-INPUT empty genre", `{"title":"x","year":2000,"genres":[""]}`, "", 400, "genres[0]"},
		{"C-INPUT repeated genre", `{"title":"x","year":2000,"genres":["Drama","drama"]}`, "", 400, "genres[1]"},
		{"C-INPUT genres not array", `{"title":"x","year":2000,"genres":"Drama"}`, "", 400, "genres"},
		{"C-INPUT director 201 chars", `{"title":"x","year":2000,"director":"` + long(201) + `"}`, "", 400, "director"},
		{"year 1888 accepted", `{"title":"x","year":1888}`, "", 201, ""},
		{"year now+5 accepted", `{"title":"x","year":2031}`, "", 201, ""},
		{"200-char unicode title accepted", `{"title":"` + strings.Repeat("é", 200) + `","year":2000}`, "", 201, ""},
		{"JSON with utf-8 charset accepted", goodMovie, "application/json; charset=UTF-8", 201, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			switch tc.ctype {
			case "-":
				h["Content-Type"] = ""
			case "":
			default:
				h["Content-Type"] = tc.ctype
			}
			w := hs.do(t, req{method: "POST", path: "/v1/movies", token: "tok-editor", body: tc.body, header: h})
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.field != "" {
				p := decodeBody[problem](t, w)
				if len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
					t.Fatalf("errors %+v, want field %q", p.Errors, tc.field)
				}
			}
		})
	}
	t.Run("C-INPUT every bad field reported at once", func(t *testing.T) {
		w := hs.do(t, req{method: "POST", path: "/v1/movies", token: "tok-editor", body: `{"title":"","year":1,"genres":[""],"director":"` + long(300) + `"}`})
		if p := decodeBody[problem](t, w); len(p.Errors) != 4 {
			t.Fatalf("errors %+v, want 4", p.Errors)
		}
	})
	t.Run("C-INPUT rejected writes store nothing", func(t *testing.T) {
		items, _, _ := hs.store.List(context.Background(), store.Query{Limit: 100})
		for _, m := range items {
			if m.Title != "x" && m.Title != strings.Repeat("é", 200) && m.Title != "Metropolis" {
				t.Fatalf("stored %q", m.Title)
			}
		}
	})
}

func TestListPaginationAndFilters(t *testing.T) {
	hs := newHarness(t)
	titles := []string{"Alien", "Aliens", "Blade Runner", "Brazil", "Casablanca", "Dune", "Dune: Part Two"}
	for i, title := range titles {
		year := 1979 + i
		hs.mustCreate(t, "tok-admin", fmt.Sprintf(`{"title":%q,"year":%d,"genres":["G%d","Sci-Fi"]}`, title, year, i%2))
		time.Sleep(0) // ids carry the same millisecond; order still follows the random tail
	}
	var seen []string
	cursor := ""
	for page := 0; page < 10; page++ {
		path := "/v1/movies?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		w := hs.do(t, req{method: "GET", path: path, token: "tok-viewer"})
		l := decodeBody[movieList](t, w)
		if w.Code != 200 || len(l.Items) > 3 {
			t.Fatalf("page %d: %d %d items", page, w.Code, len(l.Items))
		}
		for _, m := range l.Items {
			seen = append(seen, m.Title)
		}
		if l.NextCursor == nil {
			break
		}
		cursor = *l.NextCursor
	}
	if len(seen) != len(titles) {
		t.Fatalf("paged through %d movies, want %d: %v", len(seen), len(titles), seen)
	}
	count := func(query string) int {
		w := hs.do(t, req{method: "GET", path: "/v1/movies?" + query, token: "tok-viewer"})
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", query, w.Code, w.Body)
		}
		return len(decodeBody[movieList](t, w).Items)
	}
	for q, want := range map[string]int{"title=alien": 2, "title=DUNE": 2, "year=1982": 1, "genre=g1": 3, "genre=sci-fi&title=b": 3, "title=zzz": 0, "limit=100": 7} {
		if got := count(q); got != want {
			t.Errorf("%s: %d movies, want %d", q, got, want)
		}
	}
	var many strings.Builder
	for i := range 100 {
		fmt.Fprintf(&many, "p%d=1&", i)
	}
	if w := hs.do(t, req{method: "GET", path: "/v1/movies?" + many.String(), token: "tok-viewer"}); w.Code != 400 || len(decodeBody[problem](t, w).Errors) != maxFieldErrors {
		t.Errorf("100 bad parameters: %d, want 400 listing %d errors", w.Code, maxFieldErrors)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1&limit=2", "cursor=!!", "cursor=YWJj", "year=abc", "year=1500", "genre=", "title=", "sort=title", "access=1"} {
		w := hs.do(t, req{method: "GET", path: "/v1/movies?" + q, token: "tok-viewer"})
		if w.Code != 400 || len(decodeBody[problem](t, w).Errors) == 0 {
			t.Errorf("%s: %d, want 400 with field errors", q, w.Code)
		}
	}
}

func TestAuthorizationUnavailable(t *testing.T) {
	hs := newHarness(t)
	m, tag := hs.mustCreate(t, "tok-editor", goodMovie)
	hs.authz.setErr(fmt.Errorf("%w: connection refused to http://127.0.0.1:8181", authz.ErrUnavailable))
	for _, r := range []req{
		{method: "POST", path: "/v1/movies", token: "tok-admin", body: goodMovie},
		{method: "PUT", path: "/v1/movies/" + m.ID, token: "tok-editor", body: goodMovie, header: map[string]string{"If-Match": tag}},
		{method: "DELETE", path: "/v1/movies/" + m.ID, token: "tok-admin"},
		{method: "GET", path: "/v1/movies", token: "tok-viewer"},
	} {
		w := hs.do(t, r)
		if w.Code != 503 || strings.Contains(w.Body.String(), "8181") {
			t.Fatalf("C-AUTHZ-FAILCLOSED %s %s: %d %s", r.method, r.path, w.Code, w.Body)
		}
	}
	if w := hs.do(t, req{method: "GET", path: "/readyz"}); w.Code != 503 {
		t.Fatalf("readyz with OPA down: %d", w.Code)
	}
	hs.authz.setErr(nil)
	items, _, _ := hs.store.List(context.Background(), store.Query{Limit: 10})
	if len(items) != 1 || items[0].Version != 1 {
		t.Fatalf("a write happened while OPA was down: %+v", items)
	}
	if w := hs.do(t, req{method: "GET", path: "/v1/movies/" + m.ID, token: "tok-viewer"}); w.Code != 200 {
		t.Fatalf("no recovery: %d", w.Code)
	}
}

// failingStore fails every write with err.
type failingStore struct {
	store.Store
	err error
}

func (f failingStore) Create(context.Context, store.Movie) (store.Movie, error) {
	return store.Movie{}, f.err
}
func (f failingStore) Ready(context.Context) error { return f.err }

func TestStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{fmt.Errorf("append /data/journal: %w", store.ErrNoSpace), 507},
		{fmt.Errorf("fsync /data/journal: %w", store.ErrUnavailable), 503},
		{fmt.Errorf("secret internal detail /data/journal"), 500},
	} {
		hs := newHarness(t, func(c *Config) { c.Store = failingStore{store.NewMemory(), tc.err} })
		w := httptestDoNoCheck(hs, req{method: "POST", path: "/v1/movies", token: "tok-editor", body: goodMovie})
		if w.Code != tc.status || strings.Contains(w.Body.String(), "/data") {
			t.Errorf("%v: %d %s", tc.err, w.Code, w.Body)
		}
		if !strings.Contains(hs.logs.String(), "/data/journal") {
			t.Errorf("%v: the error is not in the log", tc.err)
		}
	}
}

func TestRateLimits(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.SubjectLimit = newLimiter(0.001, 3)
		c.IPLimit = newLimiter(0.001, 2)
	})
	for i := range 3 {
		w := hs.do(t, req{method: "GET", path: "/v1/movies", token: "tok-viewer"})
		if w.Code != 200 {
			t.Fatalf("request %d: %d", i, w.Code)
		}
		if p, l := w.Header().Get("RateLimit-Policy"), w.Header().Get("RateLimit"); p != `"subject";q=3;w=3000` || l != fmt.Sprintf(`"subject";r=%d;t=%d`, 2-i, (i+1)*1000) {
			t.Fatalf("C-RATE request %d: RateLimit-Policy %q, RateLimit %q", i, p, l)
		}
	}
	w := hs.do(t, req{method: "GET", path: "/v1/movies", token: "tok-viewer"})
	if w.Code != 429 || w.Header().Get("Retry-After") == "" || w.Header().Get("RateLimit") != `"subject";r=0;t=1000` {
		t.Fatalf("C-RATE past the subject burst: %d Retry-After=%q RateLimit=%q", w.Code, w.Header().Get("Retry-After"), w.Header().Get("RateLimit"))
	}
	if w := hs.do(t, req{method: "GET", path: "/v1/movies", token: "tok-editor"}); w.Code != 200 {
		t.Fatalf("another subject limited: %d", w.Code)
	}
	// Unauthenticated traffic, including failed tokens, is limited per address.
	for i := range 2 {
		if w := hs.do(t, req{method: "GET", path: "/v1/movies", token: "guess"}); w.Code != 401 {
			t.Fatalf("guess %d: %d", i, w.Code)
		}
	}
	if w := hs.do(t, req{method: "GET", path: "/v1/movies", token: "guess"}); w.Code != 429 {
		t.Fatalf("C-RATE token guessing not limited per address: %d", w.Code)
	}
	if w := hs.do(t, req{method: "GET", path: "/openapi.yaml"}); w.Code != 429 {
		t.Fatalf("C-RATE public route not limited per address: %d", w.Code)
	}
}

// TestProbesHaveTheirOwnBudget: a flood that drains an address's bucket
// does not starve the probes from that address, and probes are limited too.
func TestProbesHaveTheirOwnBudget(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.IPLimit = newLimiter(0.001, 5)
		c.ProbeLimit = newLimiter(0.001, 10)
	})
	for range 50 {
		hs.do(t, req{method: "GET", path: "/v1/movies"})
	}
	for i := range 10 {
		path := []string{"/healthz", "/readyz"}[i%2]
		if w := hs.do(t, req{method: "GET", path: path}); w.Code != 200 {
			t.Fatalf("C-RATE probe %d (%s) under a flood from its address: %d", i, path, w.Code)
		}
	}
	if w := hs.do(t, req{method: "GET", path: "/readyz"}); w.Code != 429 {
		t.Fatalf("C-RATE probes past their own budget: %d, want 429", w.Code)
	}
}

// blockingAuthz holds every decision until released.
type blockingAuthz struct {
	fakeAuthz
	entered chan struct{}
	release chan struct{}
}

func (b *blockingAuthz) Decide(ctx context.Context, in authz.Input) (authz.Decision, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.fakeAuthz.Decide(ctx, in)
}

func TestInFlightCap(t *testing.T) {
	ba := &blockingAuthz{entered: make(chan struct{}, 2), release: make(chan struct{})}
	hs := newHarness(t, func(c *Config) {
		c.Authorizer = ba
		c.MaxInFlight, c.MaxInFlightPerIP, c.MaxInFlightPerSubject = 2, 2, 2
	})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { hs.do(t, req{method: "GET", path: "/v1/movies", token: "tok-viewer"}) })
	}
	for range 2 {
		select {
		case <-ba.entered:
		case <-time.After(5 * time.Second):
			t.Fatal("requests did not start")
		}
	}
	w := hs.do(t, req{method: "GET", path: "/healthz"})
	close(ba.release)
	wg.Wait()
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("C-DOS-INFLIGHT request past the cap: %d", w.Code)
	}
}

func TestPanicIsGeneric500(t *testing.T) {
	hs := newHarness(t, func(c *Config) { c.Store = panicStore{store.NewMemory()} })
	w := httptestDoNoCheck(hs, req{method: "GET", path: "/v1/movies", token: "tok-viewer"})
	if w.Code != 500 || strings.Contains(w.Body.String(), "goroutine") || strings.Contains(w.Body.String(), "secret-panic") {
		t.Fatalf("C-ERRORS panic: %d %s", w.Code, w.Body)
	}
	if strings.Contains(hs.logs.String(), "secret-panic") || !strings.Contains(hs.logs.String(), "panic recovered") {
		t.Fatalf("panic log: %s", hs.logs)
	}
}

type panicStore struct{ store.Store }

func (panicStore) List(context.Context, store.Query) ([]store.Movie, string, error) {
	panic("secret-panic value")
}

func TestLogsCarryNoSecrets(t *testing.T) {
	hs := newHarness(t)
	const secret = "canary-7f3a9c"
	tokens["tok-"+secret] = Identity{Sub: "editor", Roles: []string{"editor"}}
	defer delete(tokens, "tok-"+secret)
	hs.do(t, req{method: "POST", path: "/v1/movies?title=" + secret, token: "tok-" + secret, body: `{"title":"` + secret + `","year":2000}`})
	hs.do(t, req{method: "GET", path: "/v1/movies?title=" + secret + "&access_token=" + secret, token: "tok-" + secret})
	hs.do(t, req{method: "POST", path: "/v1/movies", token: "bad-" + secret, body: `{"title":"` + secret})
	logs := hs.logs.String()
	if strings.Contains(logs, secret) {
		t.Fatalf("C-LOG-REDACT a secret reached the log:\n%s", logs)
	}
	for _, want := range []string{`"route":"POST /v1/movies"`, `"subject":"editor"`, `"decision_id":"decision-1"`, `"log":"audit"`, `"client_ip":"192.0.2.1"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

// httptestDoNoCheck serves r without the common checks (for expected 500s).
func httptestDoNoCheck(hs *harness, r req) *responseRecorder {
	w := newRecorder()
	hr := newRequest(r)
	hs.h.ServeHTTP(w, hr)
	return w
}

// TestForgedTokensAreRefusedBeforeVerification: once an address's bucket is
// empty, its tokens are refused without a signature check or a log line.
func TestForgedTokensAreRefusedBeforeVerification(t *testing.T) {
	var verified int
	hs := newHarness(t, func(c *Config) {
		c.IPLimit = newLimiter(0.001, 20)
		authn := c.Authenticate
		c.Authenticate = func(tok auth.Token) (Identity, error) { verified++; return authn(tok) }
	})
	codes := map[int]int{}
	for i := range 200 {
		codes[hs.do(t, req{method: "GET", path: "/v1/movies", token: fmt.Sprintf("forged-%d", i)}).Code]++
	}
	if codes[401] != 20 || codes[429] != 180 {
		t.Fatalf("C-RATE answers %v, want 20×401 and 180×429", codes)
	}
	if verified > 20 {
		t.Errorf("C-RATE %d forged tokens were verified; the address's burst is 20", verified)
	}
	if n := strings.Count(hs.logs.String(), "authentication failed"); n > 20 {
		t.Errorf("C-RATE %d authentication-failure lines for one flood", n)
	}
}

// TestIPv6ClientsLimitedByPrefix: a host that rotates through its /64 still
// draws on one bucket, for /readyz as for everything else.
func TestIPv6ClientsLimitedByPrefix(t *testing.T) {
	hs := newHarness(t, func(c *Config) { c.ProbeLimit = newLimiter(0.001, 5) })
	codes := map[int]int{}
	for i := range 50 {
		r := newRequest(req{method: "GET", path: "/readyz"})
		r.RemoteAddr = fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1)
		w := newRecorder()
		hs.h.ServeHTTP(w, r)
		codes[w.Code]++
	}
	if codes[200] != 5 || codes[429] != 45 {
		t.Fatalf("C-RATE 50 /readyz from one /64: %v, want 5×200 and 45×429", codes)
	}
}

// TestRefusalsAreSummedNotLogged: a flood of rate-limited requests costs the
// log one summary line per interval, with the count per address, instead
// of an access line per refusal.
func TestRefusalsAreSummedNotLogged(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.IPLimit = newLimiter(0.001, 2)
		c.RefusalLogInterval = 50 * time.Millisecond
	})
	for range 300 {
		hs.do(t, req{method: "GET", path: "/v1/movies"})
	}
	var total, lines, perRequest int
	for range 200 {
		total, lines, perRequest = 0, 0, 0
		for l := range strings.Lines(hs.logs.String()) {
			var e struct {
				Msg    string
				Status int
				Total  int
				ByIP   map[string]int `json:"by_client_ip"`
			}
			if json.Unmarshal([]byte(l), &e) != nil || e.Status != 429 {
				continue
			}
			if e.Msg == "requests refused" {
				total += e.ByIP["192.0.2.1"]
				lines++
			} else {
				perRequest++
			}
		}
		if total == 298 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if perRequest != 0 || total != 298 {
		t.Fatalf("C-RATE %d access lines for refusals (want 0); summaries count %d refusals from the address (want 298)", perRequest, total)
	}
	if lines > 10 {
		t.Fatalf("C-RATE %d summary lines for one short flood", lines)
	}
}

// TestBearerAcceptsOnlyToken68: every byte outside RFC 7235's token68 makes
// the credential malformed.
func TestBearerAcceptsOnlyToken68(t *testing.T) {
	for c := range 256 {
		r := httptest.NewRequest("GET", "/v1/movies", nil)
		r.Header.Set("Authorization", "Bearer a"+string([]byte{byte(c)})+"b")
		_, ok := bearer(r)
		want := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~+/=", rune(c))
		if ok != want {
			t.Errorf("byte %#x: accepted %v, want %v", c, ok, want)
		}
	}
}
