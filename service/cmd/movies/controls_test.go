package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
