package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
)

func mustServingCert(t *testing.T) (string, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	testkit.Must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	testkit.Must(t, err)
	kb, err := x509.MarshalECPrivateKey(k)
	testkit.Must(t, err)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	testkit.Must(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	testkit.Must(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return cert, key
}

// TestAdmitServe runs the real command on port 0: it serves /healthz over TLS, logs JSON,
// and returns nil when its context ends (SIGTERM in main).
func TestAdmitServe(t *testing.T) {
	cert, key := mustServingCert(t)
	pub := testkit.MustKey(t).PublicPath()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"admit", "serve", "--addr=127.0.0.1:0", "--tls-cert=" + cert, "--tls-key=" + key, "--key=" + pub},
			func(string) string { return "" }, io.Discard, pw)
		pw.Close()
	}()
	addr := ""
	sc := bufio.NewScanner(pr)
	for i := 0; i < 20 && addr == "" && sc.Scan(); i++ {
		var l struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "serving" {
			addr = l.Addr
		}
	}
	if addr == "" {
		t.Fatal("no serving line in the JSON log")
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // #nosec G402 -- a certificate made by this test
	resp, err := c.Get("https://" + addr + "/healthz")
	testkit.Must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil || exitCode(err) != ExitOK {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no shutdown after 30s")
	}
}

func TestAdmitServeUsage(t *testing.T) {
	pub := testkit.MustKey(t).PublicPath()
	for name, args := range map[string][]string{
		"no certificate": {"admit", "serve", "--key=" + pub},
		"no key":         {"admit", "serve", "--tls-cert=a", "--tls-key=b"},
		"bad ttl":        {"admit", "serve", "--tls-cert=a", "--tls-key=b", "--key=" + pub, "--cache-ttl=0s"},
	} {
		var stderr strings.Builder
		err := run(context.Background(), args, func(string) string { return "" }, io.Discard, &stderr)
		if exitCode(err) != ExitError {
			t.Errorf("%s: exit %d (%v)", name, exitCode(err), err)
		}
	}
}
