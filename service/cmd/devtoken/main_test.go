package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/auth"
)

// mustRun runs the command in-process and returns its stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("run %q: %v\nstderr: %s", args, err, stderr.String())
	}
	return stdout.String()
}

func mustVerifier(t *testing.T, jwksPath, issuer, audience string) *auth.Verifier {
	t.Helper()
	ks, err := auth.LoadJWKS(jwksPath)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.Config{Keys: ks, Issuer: issuer, Audience: audience, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s has mode %04o, want %04o", path, got, want)
	}
}

func TestInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".dev")
	out := mustRun(t, "init", "-dir", dir)

	keyPath := filepath.Join(dir, "keys", "dev-ed25519.pem")
	jwksPath := filepath.Join(dir, "jwks.json")
	wantMode(t, filepath.Join(dir, "keys"), 0o700)
	wantMode(t, keyPath, 0o600)
	wantMode(t, filepath.Join(dir, "tokens"), 0o700)
	wantMode(t, jwksPath, 0o644)
	if !strings.Contains(out, "created key") || !strings.Contains(out, keyPath) || !strings.Contains(out, jwksPath) {
		t.Errorf("output does not name what was written:\n%s", out)
	}
	if block, _ := pem.Decode([]byte(mustRead(t, keyPath))); block == nil || block.Type != "PRIVATE KEY" {
		t.Fatal("key is not a PKCS#8 PEM block")
	}
	jwks := mustRead(t, jwksPath)
	if strings.Contains(jwks, `"d"`) || !strings.Contains(jwks, `"alg": "EdDSA"`) || !strings.Contains(jwks, `"use": "sig"`) {
		t.Fatalf("jwks.json:\n%s", jwks)
	}

	v := mustVerifier(t, jwksPath, defaultIssuer, defaultAudience)
	wantRoles := map[string][]string{"viewer": {"viewer"}, "editor": {"editor"}, "editor2": {"editor"}, "admin": {"admin"}}
	tokens := map[string]string{}
	for name, roles := range wantRoles {
		path := filepath.Join(dir, "tokens", name+".jwt")
		wantMode(t, path, 0o600)
		tok := strings.TrimSpace(mustRead(t, path))
		tokens[name] = tok
		if strings.Contains(out, tok) || strings.Contains(out, tok[strings.LastIndexByte(tok, '.'):]) {
			t.Errorf("output contains the %s token", name)
		}
		c, err := v.Verify(auth.Token(tok))
		if err != nil {
			t.Fatalf("%s token: %v", name, err)
		}
		if c.Subject != name || !slices.Equal(c.Roles, roles) {
			t.Errorf("%s token: sub %q roles %q, want %q %q", name, c.Subject, c.Roles, name, roles)
		}
		if ttl := c.Expiry.Sub(c.IssuedAt); ttl != 12*time.Hour || !c.NotBefore.Equal(c.IssuedAt) {
			t.Errorf("%s token: iat %v nbf %v exp %v", name, c.IssuedAt, c.NotBefore, c.Expiry)
		}
	}

	// A second init keeps the key (and so the JWKS) and mints fresh tokens
	// that verify, while the earlier tokens keep verifying.
	key := mustRead(t, keyPath)
	out = mustRun(t, "init", "-dir", dir)
	if !strings.Contains(out, "kept key") || mustRead(t, keyPath) != key || mustRead(t, jwksPath) != jwks {
		t.Fatalf("second init replaced the key or JWKS:\n%s", out)
	}
	v = mustVerifier(t, jwksPath, defaultIssuer, defaultAudience)
	for name, old := range tokens {
		for _, tok := range []string{old, strings.TrimSpace(mustRead(t, filepath.Join(dir, "tokens", name+".jwt")))} {
			if _, err := v.Verify(auth.Token(tok)); err != nil {
				t.Errorf("%s token after the second init: %v", name, err)
			}
		}
	}
}

func TestInitFlags(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "init", "-dir", dir, "-issuer", "https://idp.test", "-audience", "aud-x", "-ttl", "90m")
	tok := strings.TrimSpace(mustRead(t, filepath.Join(dir, "tokens", "admin.jwt")))
	c, err := mustVerifier(t, filepath.Join(dir, "jwks.json"), "https://idp.test", "aud-x").Verify(auth.Token(tok))
	if err != nil {
		t.Fatal(err)
	}
	if ttl := c.Expiry.Sub(c.IssuedAt); ttl != 90*time.Minute {
		t.Fatalf("token lifetime %v, want 90m", ttl)
	}
	if _, err := mustVerifier(t, filepath.Join(dir, "jwks.json"), defaultIssuer, "aud-x").Verify(auth.Token(tok)); err == nil {
		t.Fatal("token verified with another issuer")
	}
}

func TestInitRefusesAReadableKey(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "init", "-dir", dir)
	keyPath := filepath.Join(dir, "keys", "dev-ed25519.pem")
	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	err := run([]string{"init", "-dir", dir}, new(bytes.Buffer), new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "want 0600") {
		t.Fatalf("err = %v", err)
	}
}

func TestMint(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "init", "-dir", dir)
	keyPath := filepath.Join(dir, "keys", "dev-ed25519.pem")
	v := mustVerifier(t, filepath.Join(dir, "jwks.json"), defaultIssuer, defaultAudience)

	tok := strings.TrimSpace(mustRun(t, "mint", "-key", keyPath, "-sub", "bob", "-roles", "editor, admin"))
	c, err := v.Verify(auth.Token(tok))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "bob" || !slices.Equal(c.Roles, []string{"editor", "admin"}) || c.Expiry.Sub(c.IssuedAt) != time.Hour {
		t.Fatalf("claims %+v", c)
	}

	tok = strings.TrimSpace(mustRun(t, "mint", "-key", keyPath, "-sub", "nobody"))
	if c, err := v.Verify(auth.Token(tok)); err != nil || c.Roles == nil || len(c.Roles) != 0 {
		t.Fatalf("token without roles: %+v, %v", c, err)
	}

	tok = strings.TrimSpace(mustRun(t, "mint", "-key", keyPath, "-sub", "late", "-ttl", "-1h"))
	if _, err := v.Verify(auth.Token(tok)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("negative -ttl: err = %v", err)
	}
}

func TestMintP256(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(t.TempDir(), "p256.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	kid, err := auth.Thumbprint(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := auth.MarshalJWKS(map[string]crypto.PublicKey{kid: &key.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := auth.ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.Config{Keys: ks, Issuer: defaultIssuer, Audience: defaultAudience})
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(mustRun(t, "mint", "-key", keyPath, "-sub", "p"))
	if _, err := v.Verify(auth.Token(tok)); err != nil {
		t.Fatal(err)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "init", "-dir", dir)
	keyPath := filepath.Join(dir, "keys", "dev-ed25519.pem")
	notKey := filepath.Join(dir, "jwks.json")
	if err := os.Chmod(notKey, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no subcommand", nil, true, "missing subcommand"},
		{"unknown subcommand", []string{"sign"}, true, `unknown subcommand "sign"`},
		{"unknown flag", []string{"init", "-bogus"}, true, "flag provided but not defined"},
		{"positional argument", []string{"init", "-dir", dir, "extra"}, true, `unexpected argument "extra"`},
		{"init zero ttl", []string{"init", "-dir", dir, "-ttl", "0s"}, true, "-ttl positive"},
		{"mint without key", []string{"mint", "-sub", "a"}, true, "-key and -sub are required"},
		{"mint without sub", []string{"mint", "-key", keyPath}, true, "-key and -sub are required"},
		{"mint missing key file", []string{"mint", "-key", filepath.Join(dir, "nope.pem"), "-sub", "a"}, false, "no such file"},
		{"mint key file not a key", []string{"mint", "-key", notKey, "-sub", "a"}, false, "no PKCS#8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, errUsage) != tc.usage {
				t.Fatalf("err = %v; want %q (usage error: %v)", err, tc.want, tc.usage)
			}
			if stdout.Len() != 0 {
				t.Fatalf("stdout on error: %q", stdout.String())
			}
		})
	}
	if err := run([]string{"mint", "-h"}, new(bytes.Buffer), new(bytes.Buffer)); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("mint -h: err = %v", err)
	}
}
