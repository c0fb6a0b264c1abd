package tests

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/api"
	"github.com/secure-movie-service/sms/service/auth"
	"github.com/secure-movie-service/sms/service/authz"
	"github.com/secure-movie-service/sms/service/limit"
	"github.com/secure-movie-service/sms/service/store"
)

// BenchmarkGetMovie measures authenticated, OPA-authorized
// GET /v1/movies/{id} against a plain net/http handler that serves the
// same JSON, both on loopback in the same run, and reports the ratio.
// The service path verifies the token (cached by its hash until exp) and
// asks a real OPA process (decisions cached for the default 1s).
func BenchmarkGetMovie(b *testing.B) {
	id := newIdentityProvider(b)
	opa := startOPA(b)
	st, err := store.Open(filepath.Join(b.TempDir(), "data"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	m, err := st.Create(context.Background(), store.Movie{ID: "0123456789abcdef0123456789abcdef", Title: "Stalker", Year: 1979,
		Genres: []string{"Drama"}, Director: "Andrei Tarkovsky", CreatedBy: "editor", CreatedAt: now, UpdatedAt: now})
	if err != nil {
		b.Fatal(err)
	}
	svc := benchServer(b, id, opa, st)
	body, _ := json.Marshal(m)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(body)
	}))
	defer plain.Close()

	token := id.token(b, "viewer", "viewer")
	load := func(base string, n int) time.Duration {
		return hammer(b, 16, n, "GET", base+"/v1/movies/"+m.ID, token, "", 200)
	}
	load(svc.URL, 200) // warm connections and caches
	load(plain.URL, 200)
	b.ResetTimer()
	var tSvc, tPlain time.Duration
	for round := range 4 { // interleaved, so drift on a shared machine hits both
		n := b.N / 4
		if round == 3 {
			n = b.N - 3*(b.N/4)
		}
		tPlain += load(plain.URL, n)
		tSvc += load(svc.URL, n)
	}
	b.StopTimer()
	svcRate, plainRate := float64(b.N)/tSvc.Seconds(), float64(b.N)/tPlain.Seconds()
	b.ReportMetric(svcRate, "service-req/s")
	b.ReportMetric(plainRate, "plain-req/s")
	b.ReportMetric(svcRate/plainRate, "ratio")
	b.ReportMetric(0, "ns/op")
}

// benchServer serves the real handler in-process: token verification with
// its cache, the OPA client with its default 1s decision cache against a
// real OPA, JSON logs (discarded), limits set out of the way.
func benchServer(b *testing.B, id *identityProvider, opa *opaServer, st store.Store) *httptest.Server {
	b.Helper()
	keys, err := auth.LoadJWKS(id.jwksPath)
	if err != nil {
		b.Fatal(err)
	}
	verifier, _ := auth.NewVerifier(auth.Config{Keys: keys, Issuer: id.issuer, Audience: id.audience})
	decider, _ := authz.New(authz.Config{URL: opa.url, Token: auth.Token(opa.token), CacheTTL: time.Second})
	srv := httptest.NewServer(api.New(api.Config{
		Store: st,
		Authenticate: func(tok auth.Token) (api.Identity, error) {
			c, err := verifier.Verify(tok)
			return api.Identity{Sub: c.Subject, Roles: c.Roles}, err
		},
		Authorizer:   decider,
		Logger:       slog.New(slog.NewJSONHandler(io.Discard, nil)),
		SubjectLimit: limit.New(1e9, 1e9, 100, nil),
		IPLimit:      limit.New(1e9, 1e9, 100, nil),
		MaxInFlight:  1024,
	}))
	b.Cleanup(srv.Close)
	return srv
}

// hammer sends n requests from the given number of concurrent clients over
// keep-alive connections and returns the elapsed time. Every answer must
// have status want.
func hammer(b *testing.B, clients, n int, method, url, token, body string, want int) time.Duration {
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: clients}}
	defer hc.CloseIdleConnections()
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				req, _ := newRequest(method, url, token, body)
				resp, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					b.Errorf("%s %s: status %d", method, url, resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
