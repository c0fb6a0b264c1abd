package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/secure-movie-service/sms/pipeline/controls"
	"github.com/secure-movie-service/sms/pipeline/signoff"
)

// runControlsAttest is `pipeline controls attest`: a reviewer signs that a manual control holds.
func runControlsAttest(a *app, args []string) error {
	fs := a.flags("controls attest", "--control ID --evidence FILE|URL --expires YYYY-MM-DD --key cosign.key")
	var o controls.AttestOptions
	fs.StringVar(&o.Root, "root", ".", "repository root")
	fs.StringVar(&o.Model, "model", "threatmodel/threatmodel.yaml", "threat model `FILE`, relative to -root")
	fs.StringVar(&o.Dir, "dir", "threatmodel/attestations", "attestation `DIR`, relative to -root (the file goes to DIR/<control>/)")
	fs.StringVar(&o.Control, "control", "", "the manual control's `ID`, e.g. C-PENTEST")
	fs.StringVar(&o.Evidence, "evidence", "", "what was reviewed: a `FILE` (its SHA-256 is signed) or an https URL")
	fs.StringVar(&o.Expires, "expires", "", "last `DATE` (YYYY-MM-DD, UTC) the attestation holds; at most a year ahead")
	var key signingKey // the reviewer's: its public key is in policy/data/reviewers.json with the control's role
	key.register(fs)
	var out output
	out.register(fs, "text")
	if err := parse(fs, args, 0, &out, &key); err != nil {
		return err
	}
	if o.Control == "" || o.Evidence == "" || o.Expires == "" {
		fs.Usage()
		return fmt.Errorf("%w: --control, --evidence and --expires are required", errUsage)
	}
	s, err := key.load(a)
	if err != nil {
		return err
	}
	o.Signer = s
	path, p, err := controls.Attest(o)
	if errors.Is(err, signoff.ErrRejected) {
		return fmt.Errorf("%w: %v", errDeny, err) // the key, role, control or dates do not allow it
	}
	if err != nil {
		return err
	}
	res := map[string]any{"file": path, "key_id": s.ID, "predicate": p}
	return out.emit(a, res, func(w io.Writer) {
		fmt.Fprintf(w, "%s attested by %s (%s) until %s: %s\nwrote %s (commit it)\n", p.Control, p.Attester, p.Role, p.Expires, p.Evidence, path)
	})
}
