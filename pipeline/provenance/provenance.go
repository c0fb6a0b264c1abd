// Package provenance writes SLSA v1 provenance for an image built by pipeline/build: the
// builder, the source repository and revision, the exact build command and pinned
// environment, and the resolved dependencies (the Go toolchain, the modules linked into the
// binary from its build information, and every module the main module's go.sum records).
package provenance

import (
	"sort"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/pipeline/build"
	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// DefaultBuilderID names a local run of this pipeline.
const DefaultBuilderID = "https://github.com/secure-movie-service/sms/pipeline@local"

// Run describes one invocation of the builder.
type Run struct {
	BuilderID    string
	InvocationID string
	Started      time.Time
	Finished     time.Time
}

// obtained says how the build got its binary: compiled now, or taken from the build cache
// (which pipeline release never does).
func obtained(res *build.Result) string {
	if res.Cached {
		return "build cache"
	}
	return "go build"
}

// For returns the provenance predicate of a build.
func For(res *build.Result, run Run) predicate.Provenance {
	if run.BuilderID == "" {
		run.BuilderID = DefaultBuilderID
	}
	deps := []predicate.ResourceDescriptor{{
		URI:    "git+" + strings.TrimSuffix(res.SourceRepo, ".git") + "@" + res.Revision,
		Digest: map[string]string{"gitCommit": res.Revision},
	}, {
		URI:  "pkg:golang/stdlib@" + strings.TrimPrefix(res.GoVersion, "go"),
		Name: "go toolchain " + res.GoVersion,
	}}
	seen := map[string]bool{}
	add := func(d build.Dependency) {
		key := d.Path + "@" + d.Version
		if seen[key] {
			return
		}
		seen[key] = true
		rd := predicate.ResourceDescriptor{URI: "pkg:golang/" + key}
		if d.Sum != "" {
			// Go's module hash (h1: base64 SHA-256 of the dirhash), in-toto's "dirHash".
			rd.Digest = map[string]string{"dirHash": d.Sum}
		}
		deps = append(deps, rd)
	}
	mods := append(append([]build.Dependency{}, res.Deps...), res.GoSum...)
	sort.SliceStable(mods, func(i, j int) bool { return mods[i].Path+"@"+mods[i].Version < mods[j].Path+"@"+mods[j].Version })
	for _, d := range mods {
		add(d)
	}
	if res.Base != "" {
		deps = append(deps, predicate.ResourceDescriptor{URI: "oci://" + res.Base})
	}
	var md *predicate.BuildMetadata
	if run.InvocationID != "" || !run.Started.IsZero() {
		md = &predicate.BuildMetadata{InvocationID: run.InvocationID}
		if !run.Started.IsZero() {
			s, f := run.Started.UTC(), run.Finished.UTC()
			md.StartedOn, md.FinishedOn = &s, &f
		}
	}
	env := map[string]any{}
	for _, kv := range res.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return predicate.Provenance{
		BuildDefinition: predicate.BuildDefinition{
			BuildType: predicate.BuildType,
			ExternalParameters: predicate.ExternalParameters{
				Source:   predicate.Source{Repository: res.SourceRepo, Revision: res.Revision, Dirty: res.Dirty},
				Package:  res.Package,
				Command:  res.Command,
				Platform: res.Platform,
				Base:     res.Base,
			},
			InternalParameters: map[string]any{
				"env":               env,
				"go_version":        res.GoVersion,
				"source_date_epoch": res.Epoch,
				"binary_sha256":     res.BinarySHA256,
				"binary_obtained":   obtained(res),
			},
			ResolvedDependencies: deps,
		},
		RunDetails: predicate.RunDetails{
			Builder:  predicate.Builder{ID: run.BuilderID, Version: map[string]string{"go": res.GoVersion}},
			Metadata: md,
		},
	}
}
