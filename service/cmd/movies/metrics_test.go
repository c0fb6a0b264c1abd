package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// metricsAddr reads the metrics listener's address from the server's log.
func (s *server) metricsAddr(tb testing.TB) string {
	tb.Helper()
	sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
	for sc.Scan() {
		var l struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "metrics listening" {
			return l.Addr
		}
	}
	tb.Fatalf("no metrics listener in the log:\n%s", s.logs)
	return ""
}

func get(tb testing.TB, url string) (int, string) {
	tb.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetrics: Prometheus text on a listener of its own (loopback by
// default), never on the API port, with the families the alert rules in
// deploy/ read.
func TestMetrics(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, baseArgs(t, dir), nil)
	maddr := s.metricsAddr(t)
	if !strings.HasPrefix(maddr, "127.0.0.1:") || maddr == s.addr {
		t.Fatalf("C-ALERTING metrics listen on %s (API on %s), want a loopback listener of their own", maddr, s.addr)
	}
	if code, _ := get(t, "http://"+s.addr+"/metrics"); code != http.StatusNotFound {
		t.Fatalf("C-ALERTING the API port serves /metrics: %d", code)
	}
	get(t, "http://"+s.addr+"/v1/movies") // 401: no token
	get(t, "http://"+s.addr+"/readyz")    // 503: OPA is not there
	code, body := get(t, "http://"+maddr+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`movies_http_requests_total{route="GET /v1/movies",status="401"} 1`,
		`movies_authn_failures_total{reason="missing"} 1`,
		`movies_http_requests_total{route="GET /readyz",status="503"} 1`,
		"movies_opa_errors_total 1",
		"movies_opa_request_duration_seconds_count 1",
		"# TYPE movies_authz_denials_total counter",
		"# TYPE movies_rate_limited_total counter",
		"movies_journal_fsync_errors_total 0",
		"# TYPE movies_journal_fsync_duration_seconds histogram",
		"movies_inflight_requests 0",
		"movies_inflight_limit 256",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("C-ALERTING /metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
	if err := parseConfigErr(append(baseArgs(t, dir), "-addr", "127.0.0.1:18080", "-metrics-addr", "127.0.0.1:18080")); err == nil {
		t.Error("C-ALERTING metrics accepted on the API address")
	}
}

// parseConfigErr runs the server with args and returns its error, which a
// refused configuration returns at once.
func parseConfigErr(args []string) error {
	var logs syncBuf
	ctx, cancel := contextWithTimeout(5 * time.Second)
	defer cancel()
	return run(ctx, args, func(string) string { return "" }, &logs, &logs)
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
