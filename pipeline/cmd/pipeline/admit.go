package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/secure-movie-service/sms/pipeline/admit"
)

func runAdmit(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 && args[0] == "serve" {
		return runAdmitServe(ctx, a, args[1:])
	}
	fs := a.flags("admit", "--key cosign.pub (--image REF … | --manifest FILE) [--data FILE …]  |  admit serve -h")
	var (
		key    verifyingKeys
		data   policyData
		images list
	)
	key.register(fs)
	fs.Var(&images, "image", "image `REF` to admit (repeatable): image rules only")
	manifest := fs.String("manifest", "", "Pod, Deployment, … or AdmissionReview `FILE` (YAML or JSON): image and workload rules")
	data.register(fs)
	skip := fs.Bool("skip-content", false, "do not download the layers to check them against their digests")
	var o output
	o.register(fs, "text")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if (len(images) > 0) == (*manifest != "") {
		fs.Usage()
		return fmt.Errorf("%w: give --image or --manifest", errUsage)
	}
	ks, err := key.load()
	if err != nil {
		return err
	}
	opts := admit.Options{Keys: ks, Images: images, SkipContent: *skip, Progress: a.stderr}
	if *manifest != "" {
		if opts.Manifest, err = os.ReadFile(*manifest); err != nil {
			return err
		}
	}
	if opts.Data, err = data.load(); err != nil {
		return err
	}
	v, aerr := admit.Run(ctx, opts)
	if v == nil {
		return aerr
	}
	if err := o.emit(a, v, func(w io.Writer) { printVerdict(w, v) }); err != nil {
		return err
	}
	if errors.Is(aerr, admit.ErrDenied) {
		return fmt.Errorf("%w: %d reason(s)", errDeny, len(v.Deny))
	}
	return aerr
}

func printVerdict(w io.Writer, v *admit.Verdict) {
	if v.Allow {
		fmt.Fprintln(w, "ALLOW")
	} else {
		fmt.Fprintln(w, "DENY")
	}
	for _, d := range v.Deny {
		where := d.Image
		if d.Container != "" {
			where = "container " + d.Container
		}
		if d.Object != "" {
			where = d.Object + " " + where
		}
		fmt.Fprintf(w, "  %-24s %s  (%s)\n", d.Code, d.Message, where)
	}
	for _, group := range []struct {
		label string
		rs    []admit.Reason
	}{{"WARN", v.Warn}, {"DRY-RUN", v.DryRun}} {
		for _, d := range group.rs {
			fmt.Fprintf(w, "%-8s %-26s %s\n", group.label, d.Code, d.Message)
		}
	}
}
