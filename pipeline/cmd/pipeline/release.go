package main

import (
	"context"
	"fmt"
	"io"

	"github.com/secure-movie-service/sms/pipeline/env"
	"github.com/secure-movie-service/sms/pipeline/release"
)

func runRelease(ctx context.Context, a *app, args []string) error {
	fs := a.flags("release", "--key cosign.key [--registry HOST/REPO] [--controls FILE] [flags]")
	var o release.Options
	buildFlags(fs, &o.Build)
	var (
		key  signingKey
		data policyData
	)
	fs.StringVar(&o.Repository, "registry", "", "push to `HOST[:PORT]/REPO`, and the OPA sidecar to REPO-opa (default: an in-process registry on loopback)")
	fs.StringVar(&o.Tag, "tag", "latest", "tag pushed with the image")
	key.register(fs)
	fs.BoolVar(&o.CreateKey, "create-key", false, "create the key pair at --key when it does not exist")
	fs.StringVar(&o.OutDir, "out", "out/release", "directory for SBOMs, provenance, facts, verdict and summary")
	fs.StringVar(&o.Controls, "controls", "", "control-results predicate `FILE` to attest (from make verify-controls)")
	fs.StringVar(&o.Manifest, "manifest", "", "deployment manifest `FILE` to admit; ${IMAGE} is replaced by the image, ${OPA_IMAGE} by the OPA sidecar's")
	withOPA := fs.Bool("opa", true, "also release the OPA sidecar image, built from opa/go.mod, to REPO-opa")
	data.register(fs)
	fs.BoolVar(&o.RequireAttestations, "require-attestations", false, "deny when a manual control lacks a valid reviewer attestation, whatever the data's level")
	fs.BoolVar(&o.NoSelfTrust, "no-self-trust", false, "admit with policy/data alone (do not trust this release's key and registry)")
	var out output
	out.register(fs, "text")
	if err := parse(fs, args, 0, &out, &key); err != nil {
		return err
	}
	var err error
	if o.Data, err = data.load(); err != nil {
		return err
	}
	if *withOPA {
		o.Sidecars = []release.Sidecar{release.OPA}
	}
	o.KeyPath = key.path
	o.Password = a.password()
	o.Build.Getenv = a.getenv
	o.BuilderID, o.Invocation = env.BuilderID.Get(a.getenv), env.InvocationID.Get(a.getenv)
	o.Progress = a.stderr
	s, err := release.Run(ctx, o)
	if s == nil {
		return err
	}
	if eerr := out.emit(a, s, func(w io.Writer) {
		fmt.Fprintf(w, "image     %s\n", s.Image)
		for _, sc := range s.Sidecars {
			fmt.Fprintf(w, "%-9s %s\n", sc.Name, sc.Image)
		}
		fmt.Fprintf(w, "revision  %s\nkey       %s\nfiles     %d in %s\ntime      %.2fs\n", s.Revision, s.KeyID, len(s.Files), o.OutDir, s.Seconds)
		printVerdict(w, s.Verdict)
	}); eerr != nil {
		return eerr
	}
	return err
}
