package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/secure-movie-service/sms/pipeline/keys"
)

func runKeygen(_ context.Context, a *app, args []string) error {
	fs := a.flags("keygen", "--out DIR")
	out := fs.String("out", "", "directory for cosign.key and cosign.pub (required)")
	var o output
	o.register(fs, "text")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: --out is required", errUsage)
	}
	if err := o.check(); err != nil {
		return err
	}
	id, err := keys.Generate(*out, a.password())
	if err != nil {
		return err
	}
	res := map[string]string{
		"private_key": filepath.Join(*out, keys.PrivateKeyFile),
		"public_key":  filepath.Join(*out, keys.PublicKeyFile),
		"key_id":      id,
	}
	return o.emit(a, res, func(w io.Writer) {
		fmt.Fprintf(w, "%s\n%s\nkey id %s\n", res["private_key"], res["public_key"], id)
	})
}
