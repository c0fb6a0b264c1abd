package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/auth"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// baseArgs returns the flags every server needs, with a JWKS written to dir.
func baseArgs(tb testing.TB, dir string) []string {
	tb.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	jwks, err := auth.MarshalJWKS(map[string]crypto.PublicKey{"k1": pub})
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(path, jwks, 0o600); err != nil {
		tb.Fatal(err)
	}
	return []string{"-addr", "127.0.0.1:0", "-data-dir", filepath.Join(dir, "data"), "-jwks", path,
		"-issuer", "https://idp.test", "-audience", "movies-api", "-opa-url", "http://127.0.0.1:1"}
}

// server is run() in-process, as main would start it.
type server struct {
	addr   string
	logs   *syncBuf
	cancel context.CancelFunc
	done   chan error
}

func startServer(tb testing.TB, args []string, env map[string]string) *server {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{logs: &syncBuf{}, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, args, func(k string) string { return env[k] }, &syncBuf{}, s.logs) }()
	tb.Cleanup(func() { cancel(); <-s.done })
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 200 && time.Now().Before(deadline); i++ {
		sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
		for sc.Scan() {
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
				s.addr = l.Addr
				return s
			}
		}
		select {
		case err := <-s.done:
			tb.Fatalf("run returned: %v\n%s", err, s.logs)
		case <-time.After(25 * time.Millisecond):
		}
	}
	tb.Fatalf("server did not listen:\n%s", s.logs)
	return nil
}

func TestRunServesAndStopsGracefully(t *testing.T) {
	s := startServer(t, baseArgs(t, t.TempDir()), nil)
	resp, err := http.Get("http://" + s.addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	var out syncBuf
	if err := run(context.Background(), []string{"healthcheck", "-addr", s.addr}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatalf("healthcheck: %v", err)
	}
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("graceful stop returned %v", err)
		}
		s.done <- nil
	case <-time.After(15 * time.Second):
		t.Fatal("no graceful stop")
	}
	if err := run(context.Background(), []string{"healthcheck", "-addr", s.addr, "-timeout", "1s"}, func(string) string { return "" }, &out, &out); err == nil {
		t.Fatal("healthcheck passed with the server stopped")
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	args := baseArgs(t, dir)
	env := map[string]string{}
	// Move every flag but -addr into the environment.
	for i := 2; i < len(args); i += 2 {
		env[envName(strings.TrimPrefix(args[i], "-"))] = args[i+1]
	}
	s := startServer(t, []string{"-addr", "127.0.0.1:0"}, env)
	if s.addr == "" {
		t.Fatal("no address")
	}
	// A flag given on the command line wins over the environment.
	c, err := parseConfig([]string{"-issuer", "https://flag"}, func(k string) string { return env[k] }, &syncBuf{})
	if err != nil || c.issuer != "https://flag" || c.audience != "movies-api" {
		t.Fatalf("config %+v, err %v", c, err)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	args := baseArgs(t, dir)
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
	}{
		{"missing jwks", without(args, "-jwks"), true},
		{"missing issuer", without(args, "-issuer"), true},
		{"missing opa url", without(args, "-opa-url"), true},
		{"missing data dir", without(args, "-data-dir"), true},
		{"cert without key", append(args, "-tls-cert", "x.pem"), true},
		{"unknown flag", append(args, "-bogus"), true},
		{"stray argument", append(args, "extra"), true},
		{"bad duration", append(args, "-read-timeout", "soon"), true},
		{"jwks not a file", append(args, "-jwks", filepath.Join(dir, "none.json")), false},
		{"opa url not http", append(args, "-opa-url", "file:///etc/passwd"), false},
		{"bad proxy list", append(args, "-trusted-proxies", "10.0.0.0/99"), true},
		{"C-EGRESS-SSRF plain http upstream", append(args, "-wikidata-url", "http://www.wikidata.org"), true},
		{"C-EGRESS-SSRF plain http to loopback without the test flag", append(args, "-wikidata-url", "http://127.0.0.1:9"), true},
		{"C-EGRESS-SSRF the test flag admits loopback only", append(args, "-upstream-test-loopback-http", "-wikidata-url", "http://10.0.0.1:80"), true},
		{"upstream URL with a query", append(args, "-wikidata-url", "https://www.wikidata.org/?a=b"), true},
		{"upstream timeout past the write timeout", append(args, "-upstream-timeout", "30s"), true},
		{"OMDb key file missing", append(args, "-omdb-key-file", filepath.Join(dir, "none")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, func(string) string { return "" }, &syncBuf{}, &syncBuf{})
			if err == nil || errors.Is(err, errUsage) != tc.usage {
				t.Fatalf("err = %v, usage = %v; want usage %v", err, errors.Is(err, errUsage), tc.usage)
			}
		})
	}
}

func without(args []string, flag string) []string {
	var out []string
	for i := 0; i < len(args); i += 2 {
		if args[i] != flag {
			out = append(out, args[i], args[i+1])
		}
	}
	return out
}

// mustCert writes a self-signed P-256 certificate for 127.0.0.1.
func mustCert(tb testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	tb.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "movies test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := mustCert(t, dir)
	s := startServer(t, append(baseArgs(t, dir), "-tls-cert", certFile, "-tls-key", keyFile), nil)
	get := func(cfg *tls.Config, scheme string) (*http.Response, error) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := c.Get(scheme + "://" + s.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	t.Run("C-TLS HTTPS works and sends HSTS", func(t *testing.T) {
		resp, err := get(&tls.Config{RootCAs: pool}, "https")
		if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
			t.Fatalf("%v %v", resp, err)
		}
	})
	t.Run("C-TLS plaintext HTTP is not served", func(t *testing.T) {
		if resp, err := get(nil, "http"); err == nil && resp.StatusCode == 200 {
			t.Fatal("plaintext request served")
		}
	})
	t.Run("C-TLS TLS 1.1 refused", func(t *testing.T) {
		if _, err := get(&tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}, "https"); err == nil {
			t.Fatal("TLS 1.1 handshake succeeded")
		}
	})
	t.Run("C-TLS CBC suite refused", func(t *testing.T) {
		if _, err := get(&tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, "https"); err == nil {
			t.Fatal("CBC suite negotiated")
		}
	})
	t.Run("C-TLS the post-quantum hybrid key exchange is kept", func(t *testing.T) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.addr, &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := c.ConnectionState().CurveID; got != tls.X25519MLKEM768 {
			t.Fatalf("key exchange %v, want X25519MLKEM768 (Go's default)", got)
		}
	})
	t.Run("C-TLS failed handshakes cost a bounded number of log lines", func(t *testing.T) {
		for range 100 {
			c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte("GET / HTTP/1.1\r\n\r\n")) // not a TLS ClientHello
			c.Read(make([]byte, 512))
			c.Close()
		}
		// The log is written in batches (logbuf): wait, bounded, for the lines to arrive.
		count := func() int { return strings.Count(s.logs.String(), "TLS handshake error") }
		for deadline := time.Now().Add(2 * time.Second); count() == 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // ten flush intervals: the rest of the lines, if any
		if n := count(); n == 0 || n > 20 {
			t.Fatalf("%d handshake-error lines for 100 failed handshakes, want 1 to 20", n)
		}
	})
	t.Run("healthcheck over TLS", func(t *testing.T) {
		var out syncBuf
		if err := run(context.Background(), []string{"healthcheck", "-addr", s.addr, "-tls-cert", certFile}, func(string) string { return "" }, &out, &out); err != nil {
			t.Fatalf("%v %s", err, out.String())
		}
	})
}

func TestConnectionCap(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, append(baseArgs(t, dir), "-max-conns", "2"), nil)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 2 { // two open keep-alive connections, each with a request answered
		c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	c := &http.Client{Timeout: 5 * time.Second}
	if resp, err := c.Get("http://" + s.addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("C-DOS-INFLIGHT a third connection was served past -max-conns 2")
	}
	held[0].Close()
	held = held[1:]
	var err error
	for range 20 { // the server notices the close when it next reads
		var resp *http.Response
		if resp, err = c.Get("http://" + s.addr + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no connection served after one closed: %v", err)
	}
}

func TestBadTLSRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := mustCert(t, dir)
	_, otherKey, _ := mustCert(t, t.TempDir())
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate"), 0o600)
	for name, pair := range map[string][2]string{
		"garbage certificate": {garbage, keyFile},
		"garbage key":         {certFile, garbage},
		"mismatched key":      {certFile, otherKey},
		"missing files":       {filepath.Join(dir, "no.pem"), filepath.Join(dir, "no.key")},
	} {
		t.Run("C-TLS "+name, func(t *testing.T) {
			logs := &syncBuf{}
			err := run(context.Background(), append(baseArgs(t, dir), "-tls-cert", pair[0], "-tls-key", pair[1]), func(string) string { return "" }, logs, logs)
			if err == nil || strings.Contains(logs.String(), `"listening"`) {
				t.Fatalf("started with a bad pair: err=%v logs=%s", err, logs)
			}
		})
	}
}

// TestRefusesLooseFileModes: the server refuses to start on a JWKS, OPA
// token or TLS key that others may change, or a TLS key others may read.
func TestRefusesLooseFileModes(t *testing.T) {
	for _, tc := range []struct {
		name, flag string
		mode       os.FileMode
		want       string
	}{
		{"C-SECRETS world-writable JWKS", "-jwks", 0o666, "writable by group or others"},
		{"C-SECRETS group-writable OPA token file", "-opa-token-file", 0o620, "writable by group or others"},
		{"C-SECRETS group-readable TLS key", "-tls-key", 0o640, "readable by group or others"},
		{"C-SECRETS world-writable TLS key", "-tls-key", 0o602, "writable by group or others"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := baseArgs(t, dir)
			certFile, keyFile, _ := mustCert(t, dir)
			token := filepath.Join(dir, "opa-token")
			os.WriteFile(token, []byte("secret\n"), 0o600)
			args = append(args, "-tls-cert", certFile, "-tls-key", keyFile, "-opa-token-file", token)
			path := map[string]string{"-jwks": filepath.Join(dir, "jwks.json"), "-opa-token-file": token, "-tls-key": keyFile}[tc.flag]
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			var logs syncBuf
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a server that starts stops here
			defer cancel()
			err := run(ctx, args, func(string) string { return "" }, &logs, &logs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("started or failed otherwise with %s at %04o: %v", tc.flag, tc.mode, err)
			}
		})
	}
}
