package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/auth"
	"github.com/secure-movie-service/sms/service/authz"
	"github.com/secure-movie-service/sms/service/limit"
	"github.com/secure-movie-service/sms/service/store"
)

// fakeAuthz stands in for OPA in this package's tests with the same rules
// as policy/api (which is tested against a real OPA under tests/). It
// records every input it was asked about.
type fakeAuthz struct {
	mu     sync.Mutex
	inputs []authz.Input
	err    error
}

func (f *fakeAuthz) Decide(_ context.Context, in authz.Input) (authz.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	if f.err != nil {
		return authz.Decision{}, f.err
	}
	has := func(role string) bool { return in.Subject != nil && slices.Contains(in.Subject.Roles, role) }
	read := in.Method == "GET"
	owner := in.Resource != nil && in.Subject != nil && in.Resource.Owner == in.Subject.Sub
	allow := has("admin") ||
		(read && (has("viewer") || has("editor"))) ||
		(has("editor") && in.Method == "POST" && in.Route == collectionRoute) ||
		(has("editor") && in.Method == "POST" && in.Route == importRoute && in.Source != "") ||
		(has("editor") && (in.Method == "PUT" || in.Method == "DELETE") && owner)
	return authz.Decision{Allow: allow, ID: "decision-1", Reasons: []string{"FAKE"}}, nil
}

func (f *fakeAuthz) Ping(context.Context) error { return f.err }

func (f *fakeAuthz) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// tokens maps test bearer tokens to identities; real JWT verification is
// the auth package's, and is exercised end to end under tests/.
var tokens = map[string]Identity{
	"tok-viewer":  {Sub: "viewer", Roles: []string{"viewer"}},
	"tok-editor":  {Sub: "editor", Roles: []string{"editor"}},
	"tok-editor2": {Sub: "editor2", Roles: []string{"editor"}},
	"tok-admin":   {Sub: "admin", Roles: []string{"admin"}},
}

var errBadToken = errors.New("bad token")

type harness struct {
	h     http.Handler
	store store.Store
	authz *fakeAuthz
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var fixedNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func newHarness(tb testing.TB, mod ...func(*Config)) *harness {
	tb.Helper()
	hs := &harness{store: store.NewMemory(), authz: &fakeAuthz{}, logs: &syncBuffer{}}
	cfg := Config{
		Store: hs.store,
		Authenticate: func(tok auth.Token) (Identity, error) {
			if id, ok := tokens[string(tok)]; ok {
				return id, nil
			}
			return Identity{}, errBadToken
		},
		Authorizer: hs.authz,
		Logger:     slog.New(slog.NewJSONHandler(hs.logs, nil)),
		Now:        func() time.Time { return fixedNow },
		OpenAPI:    []byte("openapi: 3.1.0\n"),
	}
	for _, m := range mod {
		m(&cfg)
	}
	hs.store = cfg.Store
	hs.h = New(cfg)
	return hs
}

type req struct {
	method, path, token, body string
	header                    map[string]string
}

func (hs *harness) do(tb testing.TB, r req) *httptest.ResponseRecorder {
	tb.Helper()
	hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	hr.RemoteAddr = "192.0.2.1:1234"
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, hr)
	checkCommon(tb, w)
	return w
}

// checkCommon asserts what every response must carry.
func checkCommon(tb testing.TB, w *httptest.ResponseRecorder) {
	tb.Helper()
	h := w.Result().Header
	for k, v := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	} {
		if got := h.Get(k); got != v {
			tb.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if w.Code >= 400 {
		if ct := h.Get("Content-Type"); ct != "application/problem+json" {
			tb.Errorf("error %d with Content-Type %q", w.Code, ct)
		}
		var p problem
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			tb.Fatalf("error body is not a problem: %v: %s", err, w.Body)
		}
		if p.Status != w.Code || p.Instance != "urn:request:"+h.Get("X-Request-Id") || p.Title == "" {
			tb.Errorf("problem %+v does not match status %d and request id %s", p, w.Code, h.Get("X-Request-Id"))
		}
	}
	if w.Code == 500 {
		tb.Errorf("500: %s", w.Body)
	}
}

func decodeBody[T any](tb testing.TB, w *httptest.ResponseRecorder) T {
	tb.Helper()
	var v T
	if err := json.NewDecoder(io.Reader(w.Body)).Decode(&v); err != nil {
		tb.Fatalf("decode %s: %v", w.Body, err)
	}
	return v
}

const goodMovie = `{"title":"Metropolis","year":1927,"genres":["Sci-Fi","Drama"],"director":"Fritz Lang"}`

// mustCreate creates a movie as the subject of token and returns it and its ETag.
func (hs *harness) mustCreate(tb testing.TB, token, body string) (store.Movie, string) {
	tb.Helper()
	w := hs.do(tb, req{method: "POST", path: "/v1/movies", token: token, body: body})
	if w.Code != http.StatusCreated {
		tb.Fatalf("create: %d %s", w.Code, w.Body)
	}
	return decodeBody[store.Movie](tb, w), w.Header().Get("ETag")
}

func newLimiter(rate float64, burst int) *limit.Limiter { return limit.New(rate, burst, 100, nil) }

type responseRecorder = httptest.ResponseRecorder

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func newRequest(r req) *http.Request {
	hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	hr.RemoteAddr = "192.0.2.1:1234"
	hr.Header.Set("Content-Type", "application/json")
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	return hr
}
