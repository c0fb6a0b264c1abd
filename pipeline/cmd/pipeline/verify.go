package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/verify"
)

func runVerify(ctx context.Context, a *app, args []string) error {
	fs := a.flags("verify", "--key cosign.pub [--key …] IMAGE@DIGEST")
	var key verifyingKeys
	key.register(fs)
	skip := fs.Bool("skip-content", false, "do not download the layers to check them against their digests")
	var o output
	o.register(fs, "json")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	ks, err := key.load()
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
