package main

import (
	"crypto"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/service/auth"
)

// runMint prints one token signed by the key in -key.
func runMint(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyPath := fs.String("key", "", "PKCS#8 PEM private key (Ed25519 or P-256), mode 0600")
	sub := fs.String("sub", "", `"sub" of the token`)
	roles := fs.String("roles", "", "comma-separated roles")
	issuer := fs.String("issuer", defaultIssuer, `"iss" of the token`)
	audience := fs.String("audience", defaultAudience, `"aud" of the token`)
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token; negative mints an expired token, for tests")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keyPath == "" || *sub == "" || *ttl == 0 {
		return fmt.Errorf("%w: mint: -key and -sub are required and -ttl must not be zero", errUsage)
	}
	key, err := loadKey(*keyPath)
	if err != nil {
		return fmt.Errorf("mint: %w", err)
	}
	tok, err := mint(key, tokenClaims{issuer: *issuer, audience: *audience, subject: *sub, roles: splitRoles(*roles), ttl: *ttl}, time.Now())
	if err != nil {
		return fmt.Errorf("mint: %w", err)
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// tokenClaims are what a development token says.
type tokenClaims struct {
	issuer, audience, subject string
	roles                     []string
	ttl                       time.Duration
}

// mint signs a token valid from now for c.ttl, with the key's RFC 7638
// thumbprint as kid.
func mint(key crypto.Signer, c tokenClaims, now time.Time) (string, error) {
	kid, err := auth.Thumbprint(key.Public())
	if err != nil {
		return "", err
	}
	return auth.Sign(key, kid, map[string]any{
		"iss":   c.issuer,
		"aud":   c.audience,
		"sub":   c.subject,
		"roles": c.roles,
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(c.ttl).Unix(),
	})
}

// splitRoles splits a comma-separated list, dropping blanks; never nil.
func splitRoles(s string) []string {
	roles := []string{}
	for r := range strings.SplitSeq(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			roles = append(roles, r)
		}
	}
	return roles
}
