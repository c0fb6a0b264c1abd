package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/secure-movie-service/sms/pipeline/admit"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
)

func runAdmit(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 && args[0] == "serve" {
		return runAdmitServe(ctx, a, args[1:])
	}
	fs := a.flags("admit", "(--key cosign.pub | --trusted-root FILE) (--image REF … | --manifest FILE) [--data FILE …]  |  admit serve -h")
	var (
		tr     trust
		data   policyData
		limit  registryCap
		images list
	)
	tr.register(fs)
	limit.register(fs)
	timeout := fs.Duration("timeout", 5*time.Minute, "deadline for the whole admission, registry requests included")
	fs.Var(&images, "image", "image `REF` to admit (repeatable): image rules only")
	manifest := fs.String("manifest", "", "Pod, Deployment, … or AdmissionReview `FILE` (YAML or JSON): image and workload rules")
	data.register(fs)
	skip := fs.Bool("skip-content", false, "do not download the layers to check them against their digests")
	var o output
	o.register(fs, "text")
	if err := parse(fs, args, 0, &o); err != nil {
		return err
	}
	if (len(images) > 0) == (*manifest != "") {
		fs.Usage()
		return fmt.Errorf("%w: give --image or --manifest", errUsage)
	}
	if err := limit.check(); err != nil {
		return err
	}
	ks, kl, err := tr.load()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	opts := admit.Options{Keys: ks, Keyless: kl, Images: images, SkipContent: *skip, Progress: a.stderr,
		Client: ociutil.Client{Transport: ociutil.CapTransport(nil, limit.bytes)}}
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
	for _, n := range v.Notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	printAdmittedBy(w, v.AdmittedBy)
	for _, d := range v.Deny {
		fmt.Fprintf(w, "  %-24s %s  (%s)\n", d.Code, d.Message, where(d))
	}
	for _, group := range []struct {
		label string
		rs    []admit.Reason
	}{{"WARN", v.Warn}, {"DRY-RUN", v.DryRun}} {
		for _, d := range group.rs {
			fmt.Fprintf(w, "%-8s %-26s %s  (%s)\n", group.label, d.Code, d.Message, where(d))
		}
	}
}

// where names the object, container or image a reason is about.
func where(d admit.Reason) string {
	w := d.Image
	if d.Container != "" {
		w = "container " + d.Container
	}
	if d.Object != "" {
		w = d.Object + " " + w
	}
	return w
}

// printAdmittedBy names, per image, the trusted keys and identities that admitted it.
func printAdmittedBy(w io.Writer, by map[string][]map[string]any) {
	refs := make([]string, 0, len(by))
	for ref := range by {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	for _, ref := range refs {
		for _, s := range by[ref] {
			if id, ok := s["identity"].(map[string]any); ok {
				fmt.Fprintf(w, "  admitted by identity %v (issuer %v): %s\n", id["subject"], id["issuer"], ref)
			} else {
				fmt.Fprintf(w, "  admitted by key %v: %s\n", s["key"], ref)
			}
		}
	}
}
