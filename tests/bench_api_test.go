//go:build smsbench

package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/store"
)

// BenchmarkAPIvsPlain measures GET /v1/movies/{id} on the movies binary as `make run`
// starts it — a real OPA process with its console decision log, JSON logs on the process's
// stdout (into a file, as `make run > log` or a container runtime keeps them: the service
// pays for its own writes, and the client's process does not collect them), the default 1s
// decision cache — with only the rate and in-flight limits raised by flags, against a plain
// net/http handler serving the same bytes in a process of its own (as the wrk setup
// has it; in the client's process it would share the client's scheduler and skip the
// cross-process wake-ups the service pays), in the same run, with the same client. Two
// workloads:
//
//   - hot: one movie, one token (every cache hits);
//   - mixed: 1000 movies × 200 subjects, a random (seeded) pair per request.
//
// It reports each workload's throughput ratio (service / plain; the median over 7 interleaved
// rounds) and p50/p99 latencies. It runs a fixed number of requests (b.N is ignored: run it
// with -benchtime 1x).
func BenchmarkAPIvsPlain(b *testing.B) {
	const movies, subjects, clients, rounds, perRound = 1000, 200, 16, 7, 10000
	id := newIdentityProvider(b)
	opa := startOPA(b)
	dataDir, ids, owners := benchCatalogue(b, movies, subjects)
	// SMS_BENCH_MOVIES names another movies binary to measure (e.g. one built from an older
	// commit, for a before/after figure in the same conditions).
	svc := startMovies(b, id, moviesOpts{opaURL: opa.url, opaTokenFile: filepath.Join(opa.dir, "opa-token"), dataDir: dataDir,
		bin: os.Getenv("SMS_BENCH_MOVIES"), logPath: filepath.Join(b.TempDir(), "movies.log"),
		extra: []string{"-rate-subject", "1e9", "-burst-subject", "1000000000", "-rate-ip", "1e9", "-burst-ip", "1000000000",
			"-max-inflight", "4096", "-max-inflight-ip", "4096", "-max-inflight-subject", "4096"}})
	tokens := make([]string, subjects)
	for i := range tokens {
		tokens[i] = id.token(b, owners[i], []string{"viewer", "editor", "admin"}[i%3])
	}
	bodies := make(map[string][]byte, movies) // the service's own bytes, served by the plain handler
	for _, mid := range ids {
		r := do(b, "GET", svc.url+"/v1/movies/"+mid, tokens[0], "")
		if r.status != 200 {
			b.Fatalf("GET %s: %s", mid, r)
		}
		bodies["/v1/movies/"+mid] = r.body
	}
	plain := startPlain(b, bodies)

	rng := rand.New(rand.NewPCG(14, 14))
	pairs := make([][2]int, 1<<14)
	for i := range pairs {
		pairs[i] = [2]int{rng.IntN(subjects), rng.IntN(movies)}
	}
	workloads := []struct {
		name string
		next func(i int) (path, token string)
	}{
		{"hot", func(int) (string, string) { return "/v1/movies/" + ids[0], tokens[0] }},
		{"mixed", func(i int) (string, string) {
			p := pairs[i%len(pairs)]
			return "/v1/movies/" + ids[p[1]], tokens[p[0]]
		}},
	}
	b.ResetTimer()
	for _, wl := range workloads {
		var svcLat, plainLat []time.Duration
		var tSvc, tPlain time.Duration
		var ratios []float64
		drive(b, clients, 2000, 200, gets(plain, wl.next)) // warm connections and caches
		drive(b, clients, 2000, 200, gets(svc.url, wl.next))
		for range rounds { // interleaved, so drift on a shared machine hits both
			elPlain, lat := drive(b, clients, perRound, 200, gets(plain, wl.next))
			tPlain, plainLat = tPlain+elPlain, append(plainLat, lat...)
			elSvc, lat := drive(b, clients, perRound, 200, gets(svc.url, wl.next))
			tSvc, svcLat = tSvc+elSvc, append(svcLat, lat...)
			ratios = append(ratios, elPlain.Seconds()/elSvc.Seconds())
		}
		n := float64(rounds * perRound)
		// The median of the rounds' ratios: a burst of load from elsewhere skews one round, not
		// the figure.
		slices.Sort(ratios)
		ratio := ratios[len(ratios)/2]
		b.ReportMetric(ratio, wl.name+"-ratio")
		b.ReportMetric(n/tSvc.Seconds(), wl.name+"-service-req/s")
		b.ReportMetric(n/tPlain.Seconds(), wl.name+"-plain-req/s")
		sp50, sp99 := percentiles(svcLat)
		pp50, pp99 := percentiles(plainLat)
		b.ReportMetric(float64(sp50.Microseconds()), wl.name+"-service-p50-µs")
		b.ReportMetric(float64(sp99.Microseconds()), wl.name+"-service-p99-µs")
		fmt.Printf("%-5s ratio %.2f  service %6.0f req/s p50 %v p99 %v  plain %6.0f req/s p50 %v p99 %v\n",
			wl.name, ratio, n/tSvc.Seconds(), sp50, sp99, n/tPlain.Seconds(), pp50, pp99)
		opa.out.Reset() // the decision log was written; keep memory flat
	}
	b.ReportMetric(0, "ns/op")
}

// benchCatalogue writes movies movies owned by subjects subjects into a fresh data
// directory (fsync off: a fixture, not a measurement) and returns it with the ids and owners.
func benchCatalogue(b *testing.B, movies, subjects int) (string, []string, []string) {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "data")
	opts := store.Options{}
	store.DisableFsyncForBenchmark(&opts)
	st, err := store.Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	owners := make([]string, subjects)
	for i := range owners {
		owners[i] = fmt.Sprintf("subject-%03d", i)
	}
	ids := make([]string, movies)
	now := time.Now().UTC()
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", i+1)
		if _, err := st.Create(context.Background(), store.Movie{ID: ids[i], Title: fmt.Sprintf("Movie %d", i), Year: 1950 + i%70,
			Genres: []string{"Drama"}, Director: "Someone", CreatedBy: owners[i%subjects], CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	return dir, ids, owners
}

// drive sends n requests from clients concurrent keep-alive clients, request i made by
// build(i), and returns the elapsed time and each request's latency. Every answer must have
// status want.
func drive(b *testing.B, clients, n, want int, build func(i int) (*http.Request, error)) (time.Duration, []time.Duration) {
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: clients}}
	defer hc.CloseIdleConnections()
	lat := make([]time.Duration, n)
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for i := left.Add(-1); i >= 0; i = left.Add(-1) {
				req, err := build(int(i))
				if err != nil {
					b.Error(err)
					return
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if resp.StatusCode != want {
					b.Errorf("%s %s: status %d", req.Method, req.URL.Path, resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), lat
}

// gets makes request i a GET of base+path with token, where (path, token) = next(i).
func gets(base string, next func(int) (string, string)) func(int) (*http.Request, error) {
	return func(i int) (*http.Request, error) {
		path, token := next(i)
		return newRequest("GET", base+path, token, "")
	}
}

func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)*99/100]
}

// startPlain starts pipeline/bench/plain serving bodies, in a process of its own, and
// returns its URL.
func startPlain(b *testing.B, bodies map[string][]byte) string {
	raw, _ := json.Marshal(bodies)
	path := filepath.Join(b.TempDir(), "bodies.json")
	writeFile(b, path, raw, 0o600)
	p := startProc(b, b.TempDir(), binary(b, "./pipeline/bench/plain"), "-addr", "127.0.0.1:0", "-bodies", path)
	var url string
	waitFor(b, 20*time.Second, "the plain handler to listen", func() bool {
		line, _, ok := strings.Cut(p.out.String(), "\n")
		url = line
		return ok && strings.HasPrefix(line, "http://")
	})
	return url
}
