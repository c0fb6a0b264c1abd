package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/verify"
)

func loadKeys(paths []string) ([]*keys.Verifier, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: --key is required", errUsage)
	}
	var ks []*keys.Verifier
	for _, p := range paths {
		k, err := keys.LoadVerifier(p)
		if err != nil {
			return nil, err
		}
		ks = append(ks, k)
	}
	return ks, nil
}

func runVerify(ctx context.Context, a *app, args []string) error {
	fs := a.flags("verify", "--key cosign.pub [--key …] IMAGE@DIGEST")
	var keyPaths list
	fs.Var(&keyPaths, "key", "public key `FILE` to verify with (repeatable)")
	skip := fs.Bool("skip-content", false, "do not download the layers to check them against their digests")
	var o output
	o.register(fs, "json")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	ks, err := loadKeys(keyPaths)
	if err != nil {
		return err
	}
	if _, err := ociutil.ParseDigest(fs.Arg(0)); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	facts, verr := verify.Check(ctx, fs.Arg(0), verify.Options{Keys: ks, SkipContent: *skip})
	if facts == nil {
		return verr
	}
	if err := o.emit(a, facts, func(w io.Writer) {
		fmt.Fprintf(w, "%s\n  user %q, content verified %v\n  signers %s\n  predicates %s\n",
			facts.Image, facts.Config.User, facts.ContentVerified, strings.Join(facts.Signers, ", "), strings.Join(facts.PredicateTypes, ", "))
		for _, p := range facts.Problems {
			fmt.Fprintf(w, "  problem: %s\n", p)
		}
	}); err != nil {
		return err
	}
	if errors.Is(verr, verify.ErrFailed) {
		return verr
	}
	return verr
}
