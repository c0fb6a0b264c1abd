package main

import (
	"context"
	"fmt"
	"io"

	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/sign"
)

func runSign(ctx context.Context, a *app, args []string) error {
	fs := a.flags("sign", "--key cosign.key IMAGE@DIGEST")
	var key signingKey
	key.register(fs)
	var o output
	o.register(fs, "text")
	if err := parse(fs, args, 1, &o, &key); err != nil {
		return err
	}
	ref, err := ociutil.ParseDigest(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	s, err := key.load(a)
	if err != nil {
		return err
	}
	if err := sign.Sign(ctx, ref, s); err != nil {
		return err
	}
	res := map[string]string{"image": ref.String(), "key_id": s.ID}
	return o.emit(a, res, func(w io.Writer) { fmt.Fprintf(w, "signed %s with %s\n", ref, s.ID) })
}
