//go:build smsbench

package tests

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/api"
	"github.com/secure-movie-service/sms/service/auth"
	"github.com/secure-movie-service/sms/service/authz"
	"github.com/secure-movie-service/sms/service/limit"
	"github.com/secure-movie-service/sms/service/logbuf"
	"github.com/secure-movie-service/sms/service/logjson"
	"github.com/secure-movie-service/sms/service/store"
)

// BenchmarkInProcess serves the real handler in-process (token verification with its cache,
// the OPA client with its default 1s caches against a real OPA, JSON logs written to a file)
// under the hot and the mixed workload of BenchmarkAPIvsPlain, for profiling the service's
// own path: go test -tags smsbench -run '^$' -bench InProcess -cpuprofile cpu.out ./tests/
func BenchmarkInProcess(b *testing.B) {
	const movies, subjects = 1000, 200
	id := newIdentityProvider(b)
	opa := startOPA(b)
	dataDir, ids, owners := benchCatalogue(b, movies, subjects)
	st, err := store.Open(dataDir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := httptest.NewServer(benchHandler(b, id, opa, st))
	b.Cleanup(svc.Close)
	tokens := make([]string, subjects)
	for i := range tokens {
		tokens[i] = id.token(b, owners[i], []string{"viewer", "editor", "admin"}[i%3])
	}
	rng := rand.New(rand.NewPCG(14, 14))
	pairs := make([][2]int, 1<<14)
	for i := range pairs {
		pairs[i] = [2]int{rng.IntN(subjects), rng.IntN(movies)}
	}
	hot := func(int) (string, string) { return "/v1/movies/" + ids[0], tokens[0] }
	mixed := func(i int) (string, string) {
		p := pairs[i%len(pairs)]
		return "/v1/movies/" + ids[p[1]], tokens[p[0]]
	}
	for _, wl := range []struct {
		name string
		next func(int) (string, string)
	}{{"hot", hot}, {"mixed", mixed}} {
		b.Run(wl.name, func(b *testing.B) {
			drive(b, 16, 500, 200, gets(svc.URL, wl.next))
			b.ResetTimer()
			el, _ := drive(b, 16, b.N, 200, gets(svc.URL, wl.next))
			b.ReportMetric(float64(b.N)/el.Seconds(), "req/s")
		})
		// The handler alone, without a connection: its CPU and allocations per request.
		b.Run(wl.name+"-handler", func(b *testing.B) {
			h := svc.Config.Handler
			reqs := make([]*http.Request, 256)
			for i := range reqs {
				path, token := wl.next(i)
				reqs[i] = httptest.NewRequest("GET", path, nil)
				reqs[i].RemoteAddr = "127.0.0.1:40000"
				reqs[i].Header.Set("Authorization", "Bearer "+token)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				w := &discardWriter{h: make(http.Header, 16)}
				h.ServeHTTP(w, reqs[i%len(reqs)])
				if w.status != 200 {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps the status only.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(200)
	return len(p), nil
}

// benchHandler is the real handler: token verification with its cache, the
// OPA client with its default 1s caches against a real OPA, JSON logs
// written to a file (as a process writes them to stdout), limits set out of
// the way.
func benchHandler(b *testing.B, id *identityProvider, opa *opaServer, st store.Store) http.Handler {
	b.Helper()
	keys, err := auth.LoadJWKS(id.jwksPath)
	if err != nil {
		b.Fatal(err)
	}
	verifier, _ := auth.NewVerifier(auth.Config{Keys: keys, Issuer: id.issuer, Audience: id.audience})
	decider, _ := authz.New(authz.Config{URL: opa.url, Token: auth.Token(opa.token), CacheTTL: time.Second})
	return api.New(api.Config{
		Store: st,
		Authenticate: func(tok auth.Token) (api.Identity, error) {
			c, err := verifier.Verify(tok)
			return api.Identity{Sub: c.Subject, Roles: c.Roles}, err
		},
		Authorizer:   decider,
		Logger:       slog.New(logjson.New(benchLog(b), nil)), // as the movies binary logs
		SubjectLimit: limit.New(1e9, 1e9, 100, nil),
		IPLimit:      limit.New(1e9, 1e9, 100, nil),
		MaxInFlight:  1024,
	})
}

// benchLog is a log file written as the movies binary writes its logs: batched by logbuf.
func benchLog(b *testing.B) io.Writer {
	f, err := os.Create(filepath.Join(b.TempDir(), "movies.log"))
	if err != nil {
		b.Fatal(err)
	}
	w := logbuf.New(f, 5*time.Millisecond, 1<<20)
	b.Cleanup(func() { w.Close(); f.Close() })
	return w
}
