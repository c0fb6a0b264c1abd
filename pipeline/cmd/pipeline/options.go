package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/secure-movie-service/sms/pipeline/keyless"
	"github.com/secure-movie-service/sms/pipeline/keys"
)

// Option groups, as cosign's cmd/cosign/cli/options: each flag is declared once, with one
// default and one validation, and a command file only registers the groups it takes.

// signingKey is --key for the commands that sign: a cosign private key, decrypted with
// COSIGN_PASSWORD. It is required.
type signingKey struct{ path string }

func (k *signingKey) register(fs *flag.FlagSet) {
	fs.StringVar(&k.path, "key", "", "cosign private key `FILE` (password in COSIGN_PASSWORD)")
}

func (k *signingKey) check() error {
	if k.path == "" {
		return fmt.Errorf("%w: --key is required", errUsage)
	}
	return nil
}

func (k *signingKey) load(a *app) (*keys.Signer, error) { return keys.LoadSigner(k.path, a.password()) }

// verifyingKeys is --key for the commands that verify: public keys, repeatable, at least one.
// Which of them admission trusts is policy data's decision, never the command line's.
type verifyingKeys struct{ paths list }

func (k *verifyingKeys) register(fs *flag.FlagSet) {
	fs.Var(&k.paths, "key", "public key `FILE` to verify with (repeatable); trust comes from policy data")
}

// load loads the keys; none is a usage error unless a trusted root verifies keyless material.
func (k *verifyingKeys) load(root *keyless.Verifier) ([]*keys.Verifier, error) {
	switch {
	case len(k.paths) > 0:
		return keys.LoadVerifiers(k.paths)
	case root == nil:
		return nil, fmt.Errorf("%w: give --key or --trusted-root", errUsage)
	}
	return nil, nil
}

// trustedRoot is --trusted-root, sigstore's TrustedRoot JSON (trusted_root.json: Fulcio CAs,
// Rekor and CT log keys, timestamp authorities) that keyless material is verified against, and
// the development-only --insecure-ignore-tlog. Which identities are trusted is policy data's
// decision, never the command line's.
type trustedRoot struct {
	path       string
	ignoreTlog bool
}

func (r *trustedRoot) register(fs *flag.FlagSet) {
	fs.StringVar(&r.path, "trusted-root", "", "trusted root `FILE` (sigstore trusted_root.json) to verify keyless signatures with; identities come from policy data")
	fs.BoolVar(&r.ignoreTlog, "insecure-ignore-tlog", false, "DEVELOPMENT ONLY: verify keyless material without a Rekor proof (every report says so; production admission denies it)")
}

// load returns the keyless verifier, or nil without --trusted-root.
func (r *trustedRoot) load() (*keyless.Verifier, error) {
	if r.path == "" {
		if r.ignoreTlog {
			return nil, fmt.Errorf("%w: --insecure-ignore-tlog needs --trusted-root", errUsage)
		}
		return nil, nil
	}
	tr, err := keyless.LoadRoot(r.path)
	if err != nil {
		return nil, err
	}
	return keyless.New(tr, r.ignoreTlog), nil
}

// trust is what the verifying commands verify with: --key public keys and a --trusted-root
// for keyless material; at least one of the two.
type trust struct {
	keys verifyingKeys
	root trustedRoot
}

func (t *trust) register(fs *flag.FlagSet) {
	t.keys.register(fs)
	t.root.register(fs)
}

// load returns the keys and the keyless verifier (nil without --trusted-root).
func (t *trust) load() ([]*keys.Verifier, *keyless.Verifier, error) {
	kl, err := t.root.load()
	if err != nil {
		return nil, nil, err
	}
	ks, err := t.keys.load(kl)
	return ks, kl, err
}

// policyData is --data: JSON documents merged over policy/data, repeatable.
type policyData struct{ files list }

func (d *policyData) register(fs *flag.FlagSet) {
	fs.Var(&d.files, "data", "JSON `FILE` merged over policy/data (repeatable)")
}

func (d *policyData) load() ([][]byte, error) {
	var out [][]byte
	for _, p := range d.files {
		b, err := os.ReadFile(p) // #nosec G304 -- a data file the operator names on the command line
		if err != nil {
			return nil, fmt.Errorf("policy data: %w", err)
		}
		out = append(out, b)
	}
	return out, nil
}

// registryCap is --max-registry-bytes: what one verification may read from registries.
type registryCap struct{ bytes int64 }

func (r *registryCap) register(fs *flag.FlagSet) {
	fs.Int64Var(&r.bytes, "max-registry-bytes", 1<<30, "`BYTES` one verification may read from registries")
}

func (r *registryCap) check() error {
	if r.bytes <= 0 {
		return fmt.Errorf("%w: --max-registry-bytes must be positive", errUsage)
	}
	return nil
}
