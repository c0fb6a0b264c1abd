package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/secure-movie-service/sms/pipeline/admit"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/verify"
)

// verifyReport is what verify prints: the facts, who of them the trust policy trusts, and
// what weakened the verification.
type verifyReport struct {
	*verify.Facts
	AdmittedBy []map[string]any `json:"admitted_by"`
	Notes      []string         `json:"notes,omitempty"`
}

// runVerify verifies one digest. It exits 0 when what the trust policy requires verified: a
// signature over the digest by a --key key or by a key or identity policy data trusts for the
// repository, and no problem in the facts. Material nobody trusted verifies is listed as
// information; it exits 1 when what is required is missing.
func runVerify(ctx context.Context, a *app, args []string) error {
	fs := a.flags("verify", "(--key cosign.pub [--key …] | --trusted-root FILE) [--data FILE …] IMAGE@DIGEST")
	var (
		tr   trust
		data policyData
	)
	tr.register(fs)
	data.register(fs)
	skip := fs.Bool("skip-content", false, "do not download the layers to check them against their digests")
	var o output
	o.register(fs, "json")
	if err := parse(fs, args, 1, &o); err != nil {
		return err
	}
	ks, kl, err := tr.load()
	if err != nil {
		return err
	}
	overlays, err := data.load()
	if err != nil {
		return err
	}
	ref := fs.Arg(0)
	if _, err := ociutil.ParseDigest(ref); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	facts, verr := verify.Check(ctx, ref, verify.Options{Keys: ks, Keyless: kl, SkipContent: *skip})
	if facts == nil {
		return verr
	}
	r := &verifyReport{Facts: facts, AdmittedBy: []map[string]any{}}
	if r.AdmittedBy, err = trustedSigners(ctx, ref, facts, ks, overlays); err != nil {
		return err
	}
	if facts.TlogIgnored {
		r.Notes = append(r.Notes, admit.InsecureTlogNote)
	}
	if err := o.emit(a, r, func(w io.Writer) { printFacts(w, r) }); err != nil {
		return err
	}
	switch {
	case len(r.AdmittedBy) == 0:
		return fmt.Errorf("%w: no signature over %s by a trusted key or identity", verify.ErrFailed, facts.Digest)
	case len(facts.Problems) > 0:
		return fmt.Errorf("%w: %s", verify.ErrFailed, strings.Join(facts.Problems, "; "))
	}
	return nil
}

// trustedSigners asks policy/admission which signatures over the digest are by a trusted key
// or identity: policy data (with --data), plus the --key keys, which the command line trusts
// for this verification.
func trustedSigners(ctx context.Context, ref string, f *verify.Facts, ks []*keys.Verifier, overlays [][]byte) ([]map[string]any, error) {
	tk := map[string]any{}
	for _, k := range ks {
		tk[k.ID] = map[string]string{"name": "--key"}
	}
	keyOverlay, err := json.Marshal(map[string]any{"supply_chain": map[string]any{"trusted_keys": tk}})
	if err != nil {
		return nil, err
	}
	ev, err := admit.NewEvaluator(append(overlays, keyOverlay)...)
	if err != nil {
		return nil, err
	}
	d, err := ev.Eval(ctx, map[string]any{"images": []any{ref}, "facts": map[string]any{ref: f}})
	if err != nil {
		return nil, err
	}
	if by := d.AdmittedBy[ref]; by != nil {
		return by, nil
	}
	return []map[string]any{}, nil
}

func printFacts(w io.Writer, r *verifyReport) {
	f := r.Facts
	fmt.Fprintf(w, "%s\n  user %q, content verified %v\n  signers %s\n  predicates %s\n",
		f.Image, f.Config.User, f.ContentVerified, strings.Join(f.Signers, ", "), strings.Join(f.PredicateTypes, ", "))
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	printAdmittedBy(w, map[string][]map[string]any{f.Image: r.AdmittedBy})
	for _, u := range f.Unverified {
		fmt.Fprintf(w, "  info: not verified: %s\n", u)
	}
	for _, p := range f.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
}
