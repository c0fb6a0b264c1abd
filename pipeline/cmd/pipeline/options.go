package main

import (
	"flag"
	"fmt"
	"os"

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

func (k *verifyingKeys) load() ([]*keys.Verifier, error) {
	if len(k.paths) == 0 {
		return nil, fmt.Errorf("%w: --key is required", errUsage)
	}
	return keys.LoadVerifiers(k.paths)
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
