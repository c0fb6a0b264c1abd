//go:build smsbench

package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/webhook"
)

// TestWebhookLatency measures admission latency over HTTPS (p50, p99) for a digest already
// verified and for digests not yet verified (each first review pays for the verification
// against the in-process registry). Run: go test -tags smsbench -run Latency -v ./pipeline/webhook
func TestWebhookLatency(t *testing.T) {
	const cachedN, freshN = 400, 40
	w := mustWorld(t)
	refs := make([]string, freshN+1)
	for i := range refs {
		refs[i] = w.good(t).String()
	}
	certFile, keyFile := mustCert(t, t.TempDir(), "latency")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addrc := make(chan string, 1)
	go func() {
		_ = w.webhook(t, nil).Serve(ctx, webhook.ServeOptions{Addr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile,
			ShutdownTimeout: time.Second, Listening: func(a string) { addrc <- a }})
	}()
	addr := <-addrc
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // #nosec G402 -- loopback measurement
	post := func(ref string) time.Duration {
		body := reviewBody(t, request(t, "Deployment", "CREATE", "", wrap("Deployment", podSpec(ref))))
		start := time.Now()
		resp, err := client.Post("https://"+addr+"/validate", "application/json", bytes.NewReader(body))
		testkit.Must(t, err)
		var out webhook.Review
		testkit.Must(t, json.NewDecoder(resp.Body).Decode(&out))
		resp.Body.Close()
		took := time.Since(start)
		if !out.Response.Allowed {
			t.Fatalf("denied: %+v", out.Response.Status)
		}
		return took
	}
	var fresh, cached []time.Duration
	for _, ref := range refs[1:] {
		fresh = append(fresh, post(ref))
	}
	post(refs[0])
	for range cachedN {
		cached = append(cached, post(refs[0]))
	}
	for _, s := range []struct {
		name string
		d    []time.Duration
	}{{"already verified", cached}, {"not yet verified", fresh}} {
		slices.Sort(s.d)
		p50, p99 := s.d[len(s.d)/2], s.d[len(s.d)*99/100]
		t.Logf("%-17s n=%d p50=%v p99=%v", s.name, len(s.d), p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond))
		if p99 > 8*time.Second {
			t.Errorf("%s: p99 %v is over the review deadline", s.name, p99)
		}
	}
}
