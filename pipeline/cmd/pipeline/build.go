package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/secure-movie-service/sms/pipeline/build"
	"github.com/secure-movie-service/sms/pipeline/env"
	"github.com/secure-movie-service/sms/pipeline/provenance"
)

// buildFlags are the flags build and release share.
func buildFlags(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}, o *build.Options) {
	fs.StringVar(&o.SourceDir, "source", ".", "a directory inside the git work tree to build")
	fs.StringVar(&o.Revision, "rev", "HEAD", "commit to build (exported with git archive)")
	fs.BoolVar(&o.Worktree, "worktree", false, "build the work tree as it is instead of a clean export of --rev")
	fs.StringVar(&o.ModuleDir, "module", "service", "module of the main package, relative to the work tree root")
	fs.StringVar(&o.Package, "package", "./cmd/movies", "main package, relative to --module")
	fs.StringVar(&o.BinaryPath, "binary", build.DefaultBinaryPath, "`PATH` of the binary in the image (its entrypoint)")
	fs.StringVar(&o.Base, "base", "", "base image, pinned by digest (default: none, the binary only)")
	fs.StringVar(&o.SourceRepo, "source-repo", "", "source repository URL for annotations and provenance (default: git's remote origin, without credentials; file://ROOT without one)")
}

func runBuild(ctx context.Context, a *app, args []string) error {
	fs := a.flags("build", "(--push REF | --oci-layout DIR) [flags]")
	var bo build.Options
	buildFlags(fs, &bo)
	fs.StringVar(&bo.CacheDir, "cache-dir", build.DefaultCacheDir(), "`DIR` keeping the binary of each clean commit built, so it is not built twice (empty: no cache; pipeline release never uses one)")
	fs.StringVar(&bo.Push, "push", "", "push the image to `REF` (a tag or repository)")
	fs.StringVar(&bo.OCILayout, "oci-layout", "", "write the image into the OCI layout `DIR`")
	fs.StringVar(&bo.LayoutTag, "tag", "latest", "ref name of the image inside the OCI layout")
	provOut := fs.String("provenance", "", "also write the SLSA v1 provenance predicate to `FILE`")
	var o output
	o.register(fs, "text")
	if err := parse(fs, args, 0, &o); err != nil {
		return err
	}
	if (bo.Push == "") == (bo.OCILayout == "") {
		fs.Usage()
		return fmt.Errorf("%w: give exactly one of --push and --oci-layout", errUsage)
	}
	bo.Getenv, bo.Progress = a.getenv, a.stderr
	started := time.Now()
	res, err := build.Run(ctx, bo)
	if err != nil {
		return err
	}
	if *provOut != "" {
		p := provenance.For(res, provenance.Run{
			BuilderID: env.BuilderID.Get(a.getenv), InvocationID: env.InvocationID.Get(a.getenv),
			Started: started, Finished: time.Now(),
		})
		b, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*provOut, b, 0o600); err != nil {
			return err
		}
	}
	return o.emit(a, res, func(w io.Writer) { fmt.Fprintln(w, res.Ref) })
}
