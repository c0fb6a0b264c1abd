//go:build smsbench

package tests

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/store"
)

// BenchmarkCreateDurable measures durable POST /v1/movies at 64 concurrent
// clients against the same code with fsync disabled and with one fsync per
// write (group commit off), interleaved in one run, and reports the
// ratios. The two baselines exist only under the smsbench build tag, which
// `make bench` sets and no production build does.
func BenchmarkCreateDurable(b *testing.B) {
	id := newIdentityProvider(b)
	opa := startOPA(b)
	token := id.token(b, "editor", "editor")
	variants := []struct {
		name string
		opt  func(*store.Options)
	}{
		{"durable", func(*store.Options) {}},
		{"fsync-off", store.DisableFsyncForBenchmark},
		{"fsync-each", store.DisableGroupCommitForBenchmark},
	}
	urls := make([]string, len(variants))
	for i, v := range variants {
		opts := store.Options{}
		v.opt(&opts)
		st, err := store.Open(filepath.Join(b.TempDir(), v.name), opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		srv := httptest.NewServer(benchHandler(b, id, opa, st))
		b.Cleanup(srv.Close)
		urls[i] = srv.URL + "/v1/movies"
		drive(b, 64, 128, 201, post(urls[i], token)) // warm up
	}
	b.ResetTimer()
	elapsed := make([]time.Duration, len(variants))
	for round := range 3 {
		n := b.N / 3
		if round == 2 {
			n = b.N - 2*(b.N/3)
		}
		for i := range variants {
			el, _ := drive(b, 64, n, 201, post(urls[i], token))
			elapsed[i] += el
		}
	}
	b.StopTimer()
	rate := func(i int) float64 { return float64(b.N) / elapsed[i].Seconds() }
	b.ReportMetric(rate(0), "durable-req/s")
	b.ReportMetric(rate(1), "fsyncoff-req/s")
	b.ReportMetric(rate(2), "fsynceach-req/s")
	b.ReportMetric(rate(0)/rate(1), "durable/fsyncoff")
	b.ReportMetric(rate(0)/rate(2), "durable/fsynceach")
	b.ReportMetric(0, "ns/op")
}

// post makes every request a POST of movieBody to url with token.
func post(url, token string) func(int) (*http.Request, error) {
	return func(int) (*http.Request, error) { return newRequest("POST", url, token, movieBody) }
}
