package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/secure-movie-service/sms/service/metrics"
	"github.com/secure-movie-service/sms/service/upstream"
)

// latencyBuckets are upper bounds in seconds for OPA and fsync latency.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// serviceMetrics are the families outside the HTTP layer: OPA and the journal.
type serviceMetrics struct {
	opaErrors   *metrics.CounterVec
	opaLatency  *metrics.Histogram
	syncErrors  *metrics.CounterVec
	syncLatency *metrics.Histogram
	upstreams   *metrics.CounterVec
	upLatency   *metrics.Histogram
}

func newServiceMetrics(reg *metrics.Registry) *serviceMetrics {
	return &serviceMetrics{
		opaErrors:   reg.Counter("movies_opa_errors_total", "Questions OPA could not answer (down, slow, non-200, malformed, no policy)."),
		opaLatency:  reg.Histogram("movies_opa_request_duration_seconds", "Time to get an answer (or an error) from OPA.", latencyBuckets),
		syncErrors:  reg.Counter("movies_journal_fsync_errors_total", "Journal fsyncs that failed."),
		syncLatency: reg.Histogram("movies_journal_fsync_duration_seconds", "Time of each journal fsync of a write batch.", latencyBuckets),
		upstreams: reg.Counter("movies_upstream_fetches_total",
			"Imports' fetches from upstream catalogues, by source and outcome (ok, not_found, not_a_movie, busy, timeout, refused, too_large, failed).",
			"source", "outcome"),
		upLatency: reg.Histogram("movies_upstream_fetch_duration_seconds", "Time of each import's fetch from its catalogue.", upstreamBuckets),
	}
}

// upstreamBuckets are upper bounds in seconds for upstream fetches.
var upstreamBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func (m *serviceMetrics) observeUpstream(source string, d time.Duration, err error) {
	m.upLatency.Observe(d.Seconds())
	m.upstreams.Inc(source, upstream.Outcome(err))
}

func (m *serviceMetrics) observeOPA(d time.Duration, err error) {
	m.opaLatency.Observe(d.Seconds())
	if err != nil {
		m.opaErrors.Inc()
	}
}

func (m *serviceMetrics) observeSync(d time.Duration, err error) {
	m.syncLatency.Observe(d.Seconds())
	if err != nil {
		m.syncErrors.Inc()
	}
}

// serveMetrics serves reg at /metrics on -metrics-addr, a listener of its
// own (loopback by default), never the API's.
func serveMetrics(c config, reg *metrics.Registry, log *slog.Logger) (*http.Server, error) {
	if _, port, _ := net.SplitHostPort(c.addr); c.metricsAddr == c.addr && port != "0" {
		return nil, fmt.Errorf("%w: -metrics-addr must not be the API address %s", errUsage, c.addr)
	}
	ln, err := net.Listen("tcp", c.metricsAddr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second,
		WriteTimeout: 10 * time.Second, MaxHeaderBytes: 8 << 10}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String()+"/metrics")
	return srv, nil
}
