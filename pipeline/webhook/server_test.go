package webhook_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/webhook"
)

func reviewBody(t *testing.T, req *webhook.Request) []byte {
	t.Helper()
	b, err := json.Marshal(webhook.Review{APIVersion: webhook.APIVersion, Kind: webhook.Kind, Request: req})
	testkit.Must(t, err)
	return b
}

func TestWebhookHTTP(t *testing.T) {
	w := mustWorld(t)
	ref := w.good(t).String()
	var ready atomic.Bool
	ready.Store(true)
	srv := httptest.NewServer(w.webhook(t, nil).Routes(&ready))
	t.Cleanup(srv.Close)
	good := reviewBody(t, request(t, "Pod", "CREATE", "", wrap("Pod", podSpec(ref))))
	cases := []struct {
		name, ctype string
		body        []byte
		status      int
	}{
		{"well-formed review", "application/json", good, 200},
		{"unknown field", "application/json", bytes.Replace(good, []byte(`"uid":`), []byte(`"facts":{},"uid":`), 1), 400},
		{"duplicate key", "application/json", bytes.Replace(good, []byte(`"uid":`), []byte(`"uid":"x","uid":`), 1), 400},
		{"two documents", "application/json", append(append([]byte{}, good...), good...), 400},
		{"wrong content type", "text/plain", good, 415},
		{"oversized", "application/json", append(bytes.Repeat([]byte(" "), webhook.MaxReviewBytes), good...), 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/validate", c.ctype, bytes.NewReader(c.body))
			testkit.Must(t, err)
			defer resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d; want %d", resp.StatusCode, c.status)
			}
			if c.status != 200 {
				return
			}
			var out webhook.Review
			testkit.Must(t, json.NewDecoder(resp.Body).Decode(&out))
			if out.APIVersion != webhook.APIVersion || out.Kind != webhook.Kind || out.Response == nil ||
				!out.Response.Allowed || out.Response.UID != "uid-pod" {
				t.Fatalf("response %+v", out)
			}
		})
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
		resp, err := http.Get(srv.URL + path)
		testkit.Must(t, err)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	ready.Store(false)
	resp, err := http.Get(srv.URL + "/readyz")
	testkit.Must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz while not ready: %d", resp.StatusCode)
	}
}

func TestDecodeReviewStrict(t *testing.T) {
	ok := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},` +
		`"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","userInfo":{"username":"a"},"object":{"kind":"Pod"}}}`
	if _, err := webhook.DecodeReview([]byte(ok)); err != nil {
		t.Fatalf("well-formed review refused: %v", err)
	}
	bad := map[string]string{
		"v1beta1":          strings.Replace(ok, "admission.k8s.io/v1", "admission.k8s.io/v1beta1", 1),
		"no uid":           strings.Replace(ok, `"uid":"u"`, `"uid":""`, 1),
		"unknown op":       strings.Replace(ok, "CREATE", "PATCH", 1),
		"no object":        strings.Replace(ok, `"object":{"kind":"Pod"}`, `"object":null`, 1),
		"a response":       strings.Replace(ok, `"request":`, `"response":{"uid":"u","allowed":true},"request":`, 1),
		"case-folded key":  strings.Replace(ok, `"uid":"u"`, `"uid":"u","UID":"v"`, 1),
		"trailing garbage": ok + "x",
		"not json":         "apiVersion: admission.k8s.io/v1",
	}
	for name, b := range bad {
		if _, err := webhook.DecodeReview([]byte(b)); !errors.Is(err, webhook.ErrMalformed) {
			t.Errorf("%s: err %v; want ErrMalformed", name, err)
		}
	}
}

func FuzzDecodeReview(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","userInfo":{},"object":{"kind":"Pod"}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"DELETE","userInfo":{}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := webhook.DecodeReview(b)
		if err != nil {
			if !errors.Is(err, webhook.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if r.Request == nil || r.Request.UID == "" || r.Response != nil || r.APIVersion != webhook.APIVersion {
			t.Fatalf("accepted %q as %+v", b, r)
		}
	})
}

// mustCert writes a self-signed certificate for 127.0.0.1 with the given common name.
func mustCert(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	testkit.Must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: nil, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	testkit.Must(t, err)
	kb, err := x509.MarshalECPrivateKey(k)
	testkit.Must(t, err)
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	testkit.Must(t, os.WriteFile(certFile+".tmp", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	testkit.Must(t, os.WriteFile(keyFile+".tmp", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	testkit.Must(t, os.Rename(keyFile+".tmp", keyFile))
	testkit.Must(t, os.Rename(certFile+".tmp", certFile))
	return certFile, keyFile
}

// TestWebhookServeTLS: TLS 1.2 or later only, the certificate is read again when its files
// change, and cancelling the context shuts down gracefully.
func TestWebhookServeTLS(t *testing.T) {
	w := mustWorld(t)
	dir := t.TempDir()
	certFile, keyFile := mustCert(t, dir, "first")
	ctx, cancel := context.WithCancel(context.Background())
	addrc, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- w.webhook(t, nil).Serve(ctx, webhook.ServeOptions{Addr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile,
			ShutdownTimeout: 5 * time.Second, Listening: func(a string) { addrc <- a }})
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not listening after 10s")
	}
	peer := func(maxVersion uint16) (string, error) {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: maxVersion}) // #nosec G402 -- reads the served certificate
		if err != nil {
			return "", err
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
	}
	if _, err := peer(tls.VersionTLS11); err == nil {
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
	if cn, err := peer(0); err != nil || cn != "first" {
		t.Fatalf("cn %q err %v", cn, err)
	}
	time.Sleep(20 * time.Millisecond) // a new modification time
	mustCert(t, dir, "second")
	if cn, err := peer(0); err != nil || cn != "second" {
		t.Fatalf("after rotation: cn %q err %v", cn, err)
	}
	cancel()
	select {
	case err := <-done:
		testkit.Must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown after 10s")
	}
}

func TestDockerConfigKeychain(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.json")
	write := func(s string) {
		testkit.Must(t, os.WriteFile(p, []byte(s), 0o600))
		// a new modification time even on coarse clocks
		later := time.Now().Add(time.Duration(len(s)) * time.Second)
		testkit.Must(t, os.Chtimes(p, later, later))
	}
	write(`{"auths":{"https://ghcr.io/v1/":{"auth":"dTpw"},"https://index.docker.io/v1/":{"username":"d","password":"q"}}}`)
	kc, err := webhook.NewDockerConfigKeychain(p)
	testkit.Must(t, err)
	auth := func(ref string) *authn.AuthConfig {
		r, err := name.ParseReference(ref)
		testkit.Must(t, err)
		a, err := kc.Resolve(r.Context())
		testkit.Must(t, err)
		cfg, err := a.Authorization()
		testkit.Must(t, err)
		return cfg
	}
	if a := auth("ghcr.io/acme/movies:1"); a.Auth != "dTpw" {
		t.Fatalf("ghcr.io: %+v", a)
	}
	if a := auth("busybox"); a.Username != "d" {
		t.Fatalf("docker hub: %+v", a)
	}
	if a := auth("quay.io/x/y"); *a != (authn.AuthConfig{}) {
		t.Fatalf("quay.io should be anonymous: %+v", a)
	}
	write(`{"auths":{"quay.io":{"auth":"eDp5"}}}`)
	if a := auth("quay.io/x/y"); a.Auth != "eDp5" {
		t.Fatalf("after the file changed: %+v", a)
	}
	write(`{not json`)
	if _, err := kc.Resolve(name.MustParseReference("quay.io/x/y").Context()); err == nil {
		t.Fatal("a malformed config resolved")
	}
}
