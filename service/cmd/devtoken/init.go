package main

import (
	"crypto"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/secure-movie-service/sms/service/auth"
)

// devUsers are the development identities init mints tokens for. editor and
// editor2 share a role but are different subjects, so ownership checks can
// be exercised.
var devUsers = []struct {
	name  string
	roles []string
}{
	{"viewer", []string{"viewer"}},
	{"editor", []string{"editor"}},
	{"editor2", []string{"editor"}},
	{"admin", []string{"admin"}},
}

// runInit creates the development key if missing, writes its JWKS and mints
// a token per development user.
func runInit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".dev", "directory for keys/, jwks.json and tokens/")
	issuer := fs.String("issuer", defaultIssuer, `"iss" of the minted tokens`)
	audience := fs.String("audience", defaultAudience, `"aud" of the minted tokens`)
	ttl := fs.Duration("ttl", 12*time.Hour, "lifetime of the minted tokens")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *ttl <= 0 {
		return fmt.Errorf("%w: init: -dir must be set and -ttl positive", errUsage)
	}
	keyDir, tokenDir := filepath.Join(*dir, "keys"), filepath.Join(*dir, "tokens")
	for _, d := range []string{*dir, keyDir, tokenDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
	// The key and token directories hold secrets: owner only, whatever
	// created them.
	for _, d := range []string{keyDir, tokenDir} {
		if err := os.Chmod(d, 0o700); err != nil { // #nosec G302 -- a directory needs x; 0700 is owner-only
			return fmt.Errorf("init: %w", err)
		}
	}

	keyPath := filepath.Join(keyDir, "dev-ed25519.pem")
	key, created, err := ensureKey(keyPath)
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if created {
		fmt.Fprintf(stdout, "created key  %s\n", keyPath)
	} else {
		fmt.Fprintf(stdout, "kept key     %s\n", keyPath)
	}
	kid, err := auth.Thumbprint(key.Public())
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	jwks, err := auth.MarshalJWKS(map[string]crypto.PublicKey{kid: key.Public()})
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	jwksPath := filepath.Join(*dir, "jwks.json")
	if err := writeFileAtomic(jwksPath, append(jwks, '\n'), 0o644); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	fmt.Fprintf(stdout, "wrote JWKS   %s\n", jwksPath)

	now := time.Now()
	for _, u := range devUsers {
		tok, err := mint(key, tokenClaims{issuer: *issuer, audience: *audience, subject: u.name, roles: u.roles, ttl: *ttl}, now)
		if err != nil {
			return fmt.Errorf("init: %s: %w", u.name, err)
		}
		path := filepath.Join(tokenDir, u.name+".jwt")
		if err := writeFileAtomic(path, []byte(tok+"\n"), 0o600); err != nil {
			return fmt.Errorf("init: %w", err)
		}
		fmt.Fprintf(stdout, "wrote token  %s (sub %s, roles %v, expires %s)\n", path, u.name, u.roles, now.Add(*ttl).UTC().Format(time.RFC3339))
	}
	return nil
}
