package main

import (
	"context"
	"fmt"
	"io"

	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/sign"
)

func runAttest(ctx context.Context, a *app, args []string) error {
	fs := a.flags("attest", "--key cosign.key --type sbom|provenance|controls --predicate FILE IMAGE@DIGEST")
	var key signingKey
	key.register(fs)
	kind := fs.String("type", "", "sbom (SPDX or CycloneDX JSON), provenance (SLSA v1) or controls")
	pred := fs.String("predicate", "", "predicate JSON `FILE`")
	var o output
	o.register(fs, "text")
	if err := parse(fs, args, 1, &o, &key); err != nil {
		return err
	}
	if *kind == "" || *pred == "" {
		fs.Usage()
		return fmt.Errorf("%w: --type and --predicate are required", errUsage)
	}
	ref, err := ociutil.ParseDigest(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	body, err := predicate.ReadFile(*pred)
	if err != nil {
		return err
	}
	typ, err := predicate.TypeFor(*kind, body)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	// Refuse to sign what verification would reject.
	if _, err := predicate.Summarize(typ, body); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	s, err := key.load(a)
	if err != nil {
		return err
	}
	if err := sign.Attest(ctx, ref, s, typ, body); err != nil {
		return err
	}
	res := map[string]string{"image": ref.String(), "key_id": s.ID, "predicate_type": typ}
	return o.emit(a, res, func(w io.Writer) { fmt.Fprintf(w, "attested %s about %s with %s\n", typ, ref, s.ID) })
}
