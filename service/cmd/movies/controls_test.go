package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/auth"
)

// stringFlags returns every flag of the movies command that takes a string, read from its
// usage text ("  -name string").
func stringFlags(t *testing.T) []string {
	t.Helper()
	var usage syncBuf
	parseConfig([]string{"-h"}, func(string) string { return "" }, &usage)
	all := regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)(?:\s+(\S+))?$`).FindAllStringSubmatch(usage.String(), -1)
	if len(all) < 10 {
		t.Fatalf("read only %d flags from the usage:\n%s", len(all), usage.String())
	}
	var names []string
	for _, m := range all {
		if m[2] == "string" || m[2] == "value" {
			names = append(names, m[1])
		}
	}
	return names
}

// TestControlsNoFlagCarriesASecret is evidence for C-SECRETS: no flag (and so no MOVIES_*
// environment variable, which mirror the flags) takes a secret value; secrets are named by
// files. A new string flag must be classified here. The OPA token read from its file reaches
// OPA and never the log.
func TestControlsNoFlagCarriesASecret(t *testing.T) {
	notSecret := map[string]string{
		"addr": "listen address", "data-dir": "directory", "jwks": "path to public keys",
		"issuer": "URL", "audience": "name", "opa-url": "URL", "opa-token-file": "path to the secret",
		"tls-cert": "path", "tls-key": "path to the secret", "trusted-proxies": "addresses", "metrics-addr": "listen address",
		"wikidata-url": "URL", "omdb-url": "URL", "omdb-key-file": "path to the secret",
	}
	for _, name := range stringFlags(t) {
		if _, ok := notSecret[name]; !ok {
			t.Errorf("C-SECRETS string flag -%s (env %s) is not known to carry no secret: take secrets from a file, then list it here", name, envName(name))
		}
	}

	t.Run("C-SECRETS the OPA token comes from its file and stays out of the log", func(t *testing.T) {
		const canary = "opa-token-canary-5b1e"
		var got atomic.Value
		got.Store("")
		opa := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got.Store(r.Header.Get("Authorization"))
			w.Write([]byte(`{"result":{"allow":true}}`))
		})}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go opa.Serve(ln)
		defer opa.Close()
		dir := t.TempDir()
		tokenFile := filepath.Join(dir, "opa-token")
		if err := os.WriteFile(tokenFile, []byte(canary+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args := append(baseArgs(t, dir), "-opa-url", "http://"+ln.Addr().String(), "-opa-token-file", tokenFile)
		s := startServer(t, args, map[string]string{"MOVIES_OPA_TOKEN": "env-" + canary})
		for i := 0; i < 100 && got.Load() == ""; i++ {
			if resp, err := http.Get("http://" + s.addr + "/readyz"); err == nil {
				resp.Body.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
		if a := got.Load(); a != "Bearer "+canary {
			t.Fatalf("OPA got Authorization %q, want the token from the file", a)
		}
		s.cancel()
		<-s.done
		s.done <- nil
		if strings.Contains(s.logs.String(), canary) {
			t.Fatalf("the OPA token reached the log:\n%s", s.logs)
		}
	})
}

// TestControlsListenDefaultsToLoopback is evidence for C-NET-RESTRICT: without -addr the
// API listens on loopback only; exposing it is an explicit choice.
func TestControlsListenDefaultsToLoopback(t *testing.T) {
	dir := t.TempDir()
	var args []string
	base := baseArgs(t, dir)
	for i := 0; i < len(base); i += 2 {
		if base[i] != "-addr" {
			args = append(args, base[i], base[i+1])
		}
	}
	c, err := parseConfig(args, func(string) string { return "" }, &syncBuf{})
	if err != nil {
		t.Fatal(err)
	}
	host, _, err := net.SplitHostPort(c.addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		t.Fatalf("C-NET-RESTRICT default address %q is not loopback", c.addr)
	}
}

// TestControlsOMDbKeyFromFileOnly is evidence for C-SECRETS: the OMDb key is read from the
// file -omdb-key-file names, reaches the catalogue, and appears in no log line, also when
// the catalogue refuses it.
func TestControlsOMDbKeyFromFileOnly(t *testing.T) {
	const canary = "omdb-key-canary-3c9d"
	var got atomic.Value
	got.Store("")
	omdb := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.URL.Query().Get("apikey"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"Response":"False","Error":"Invalid API key!"}`))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go omdb.Serve(ln)
	defer omdb.Close()
	opa := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"result":{"allow":true}}`))
	})}
	oln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go opa.Serve(oln)
	defer opa.Close()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "omdb-key")
	if err := os.WriteFile(keyFile, []byte(canary+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	priv, args := signingArgs(t, dir)
	args = append(args, "-opa-url", "http://"+oln.Addr().String(), "-omdb-key-file", keyFile,
		"-omdb-url", "http://"+ln.Addr().String(), "-upstream-test-loopback-http")
	s := startServer(t, args, map[string]string{"MOVIES_OMDB_KEY": "env-" + canary})
	req, _ := http.NewRequest("POST", "http://"+s.addr+"/v1/movies/import", strings.NewReader(`{"source":"omdb","id":"tt0017136"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+mintToken(t, priv, "editor", "editor"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || got.Load() != canary {
		t.Fatalf("C-SECRETS import answered %d; the catalogue got key %q, want the file's", resp.StatusCode, got.Load())
	}
	s.cancel()
	<-s.done
	s.done <- nil
	if strings.Contains(s.logs.String(), canary) {
		t.Fatalf("C-SECRETS the OMDb key reached the log:\n%s", s.logs)
	}
}

// signingArgs is baseArgs with a JWKS whose private key the test keeps, to mint tokens.
func signingArgs(tb testing.TB, dir string) (ed25519.PrivateKey, []string) {
	tb.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	jwks, err := auth.MarshalJWKS(map[string]crypto.PublicKey{"k1": pub})
	if err != nil {
		tb.Fatal(err)
	}
	args := baseArgs(tb, dir)
	path := filepath.Join(dir, "signing-jwks.json")
	if err := os.WriteFile(path, jwks, 0o600); err != nil {
		tb.Fatal(err)
	}
	return priv, append(args, "-jwks", path)
}

func mintToken(tb testing.TB, priv ed25519.PrivateKey, sub string, roles ...string) string {
	tb.Helper()
	now := time.Now()
	tok, err := auth.Sign(priv, "k1", map[string]any{"iss": "https://idp.test", "aud": "movies-api", "sub": sub,
		"roles": roles, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}
