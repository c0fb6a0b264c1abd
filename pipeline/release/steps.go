package release

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sync/errgroup"

	"github.com/secure-movie-service/sms/pipeline/admit"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/provenance"
	"github.com/secure-movie-service/sms/pipeline/sbom"
	"github.com/secure-movie-service/sms/pipeline/vuln"
)

// releaser is one release: its inputs, what its shared steps prepare, and its images (the
// service's first, then the sidecars'). A step writes only its own fields; Run's errgroups
// order the steps that read them.
type releaser struct {
	o     Options
	s     *Summary
	start time.Time

	controls, manifest []byte // read before anything is built
	arts               []*artifact
	signer             *keys.Signer
	pub                *keys.Verifier
	scanner            context.Context // carries syft's license scanner
	vulnDB             *vuln.DB
	policy             *admit.Evaluator
}

// newReleaser applies the defaults and reads the inputs, so that a bad one fails before
// anything is built.
func newReleaser(o Options) (*releaser, error) {
	o.Progress = cmp.Or[io.Writer](o.Progress, io.Discard)
	o.Name, o.Tag = cmp.Or(o.Name, "movies"), cmp.Or(o.Tag, "latest")
	o.OutDir = cmp.Or(o.OutDir, filepath.Join("out", "release"))
	r := &releaser{o: o, s: &Summary{}, start: time.Now()}
	if err := os.MkdirAll(o.OutDir, 0o750); err != nil {
		return nil, err
	}
	if o.Controls != "" {
		b, err := predicate.ReadFile(o.Controls)
		if err != nil {
			return nil, err
		}
		r.controls = b
	}
	if o.Manifest != "" {
		b, err := os.ReadFile(o.Manifest)
		if err != nil {
			return nil, fmt.Errorf("release: manifest: %w", err)
		}
		r.manifest = b
	}
	return r, nil
}

// step records a finished step of the artifact a (nil: a step of the whole release) and
// prints its progress line.
func (r *releaser) step(a *artifact, n string, began time.Time, format string, args ...any) {
	st := Step{Name: n, Start: began.Sub(r.start).Seconds(), Seconds: time.Since(began).Seconds(), Detail: fmt.Sprintf(format, args...)}
	label := n
	if a != nil && a.name != "" {
		st.Image, label = a.name, n+" ("+a.name+")"
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.s.Steps = append(r.s.Steps, st)
	fmt.Fprintf(r.o.Progress, "release: %-18s %6.2fs  %5.2fs→%5.2fs  %s\n", label, st.Seconds, st.Start, st.Start+st.Seconds, st.Detail)
}

// registry starts the in-process registry unless a repository was given, and names the
// repository of every image; the returned function closes the registry.
func (r *releaser) registry() (func(), error) {
	t, repo, closeIt := time.Now(), r.o.Repository, func() {}
	if repo == "" {
		reg, err := ociutil.StartRegistry()
		if err != nil {
			return nil, err
		}
		closeIt = func() { _ = reg.Close() }
		repo, r.s.InProcess = reg.Host+"/"+r.o.Name, true
		r.step(nil, "registry", t, "in-process registry at %s", reg.Host)
	} else {
		r.step(nil, "registry", t, "%s", repo)
	}
	if err := r.artifacts(repo); err != nil {
		closeIt()
		return nil, err
	}
	return closeIt, nil
}

// artifacts names the service's image repo and each sidecar's repo-NAME, and the build of each.
func (r *releaser) artifacts(repo string) error {
	main := r.o.Build
	main.Push, main.OCILayout, main.CacheDir, main.Progress = "", "", "", io.Discard
	r.arts = []*artifact{{r: r, bo: main}}
	for _, sc := range r.o.Sidecars {
		bo := main
		bo.ModuleDir, bo.Package, bo.BinaryPath, bo.Base = sc.ModuleDir, sc.Package, sc.BinaryPath, ""
		r.arts = append(r.arts, &artifact{r: r, name: sc.Name, bo: bo})
	}
	for _, a := range r.arts {
		n := repo
		if a.name != "" {
			n += "-" + a.name
		}
		var err error
		if a.repo, err = name.NewRepository(n); err != nil {
			return fmt.Errorf("release: repository %q: %w", n, err)
		}
	}
	return nil
}

// loadKey decrypts the signing key (creating it first when asked to).
func (r *releaser) loadKey() error {
	t := time.Now()
	if r.o.KeyPath == "" {
		return errors.New("release: no signing key (--key)")
	}
	if _, err := os.Stat(r.o.KeyPath); errors.Is(err, os.ErrNotExist) && r.o.CreateKey {
		if filepath.Base(r.o.KeyPath) != keys.PrivateKeyFile {
			return fmt.Errorf("release: --create-key needs a path ending in %s", keys.PrivateKeyFile)
		}
		if _, err := keys.Generate(filepath.Dir(r.o.KeyPath), r.o.Password); err != nil {
			return err
		}
	}
	k, err := keys.LoadSigner(r.o.KeyPath, r.o.Password)
	if err != nil {
		return err
	}
	if r.pub, err = k.Verifier(); err != nil {
		return err
	}
	r.signer, r.s.KeyID = k, k.ID
	r.step(nil, "key", t, "%s", k.ID)
	return nil
}

// prepareScanners readies syft's license scanner and the vulnerability database (the snapshot
// pinned in go.mod unless Options.VulnDB names one).
func (r *releaser) prepareScanners(ctx context.Context) error {
	var err error
	if r.scanner, err = sbom.Prepare(ctx); err != nil {
		return err
	}
	if r.vulnDB = r.o.VulnDB; r.vulnDB != nil {
		return nil
	}
	dir, err := vuln.DefaultCacheDir()
	if err != nil {
		return err
	}
	r.vulnDB, err = vuln.PrepareDB(ctx, dir)
	return err
}

// compilePolicy prepares policy/admission over policy/data, the given overlays and, unless
// told not to, this release's own key, builder and source (its git remote) for this
// release's own repositories.
func (r *releaser) compilePolicy() error {
	data := r.o.Data
	if !r.o.NoSelfTrust {
		repos := make([]string, len(r.arts))
		for i, a := range r.arts {
			repos[i] = a.repo.Name()
		}
		overlay, err := json.MarshalIndent(map[string]any{"supply_chain": map[string]any{
			"trusted_keys":      map[string]any{r.signer.ID: map[string]string{"name": "this release's signing key"}},
			"repositories":      repos,
			"builder_ids":       []string{cmp.Or(r.o.BuilderID, provenance.DefaultBuilderID)},
			"source_repository": r.arts[0].res.SourceRepo,
		}}, "", "  ")
		if err != nil {
			return err
		}
		if err := r.s.write(r.o.OutDir, "trust-overlay.json", overlay); err != nil {
			return err
		}
		data = append([][]byte{overlay}, data...)
	}
	if r.o.RequireAttestations {
		data = append(data, admit.RequireAttestations)
	}
	var err error
	r.policy, err = admit.NewEvaluator(data...)
	return err
}

// each runs step for every image at once.
func (r *releaser) each(ctx context.Context, step func(*artifact, context.Context) error) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, a := range r.arts {
		g.Go(func() error { return step(a, gctx) })
	}
	return g.Wait()
}

// admit runs admission with the facts just verified (the same key, the content checked):
// the manifest with every image's placeholder replaced, or else the images alone.
func (r *releaser) admit(ctx context.Context) error {
	t := time.Now()
	ao := admit.Options{Keys: []*keys.Verifier{r.pub}, Evaluator: r.policy, Verified: map[string]admit.Verification{}}
	var subst []string
	for i, a := range r.arts {
		image := a.ref.String()
		ao.Images = append(ao.Images, image)
		ao.Verified[image] = admit.Verification{Facts: a.facts, Err: a.verr}
		ph := "${IMAGE}"
		if i > 0 {
			ph = r.o.Sidecars[i-1].Placeholder()
		}
		subst = append(subst, ph, image)
	}
	if r.manifest != nil {
		ao.Images, ao.Manifest = nil, []byte(strings.NewReplacer(subst...).Replace(string(r.manifest)))
	}
	v, aerr := admit.Run(ctx, ao)
	if aerr != nil && !errors.Is(aerr, admit.ErrDenied) {
		return aerr
	}
	r.s.Verdict, r.s.Allowed = v, aerr == nil && r.verifyErr() == nil
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := r.s.write(r.o.OutDir, "verdict.json", b); err != nil {
		return err
	}
	codes := make([]string, 0, len(v.Deny))
	for _, d := range v.Deny {
		codes = append(codes, d.Code)
	}
	if v.Allow {
		r.step(nil, "admit", t, "allow")
	} else {
		r.step(nil, "admit", t, "deny: %s", strings.Join(codes, ", "))
	}
	return nil
}

// verifyErr is the first image's failed verification (wrapping verify.ErrFailed), or nil.
func (r *releaser) verifyErr() error {
	for _, a := range r.arts {
		if a.verr != nil {
			return a.verr
		}
	}
	return nil
}

// finish writes summary.json and returns the summary with the verdict's error.
func (r *releaser) finish() (*Summary, error) {
	main := r.arts[0]
	r.s.Image, r.s.Digest, r.s.Revision = main.ref.String(), main.res.Digest, main.res.Revision
	for _, a := range r.arts[1:] {
		r.s.Sidecars = append(r.s.Sidecars, SidecarImage{Name: a.name, Image: a.ref.String(), Digest: a.res.Digest})
	}
	r.s.Seconds = time.Since(r.start).Seconds()
	r.s.sortSteps()
	sum, _ := json.MarshalIndent(r.s, "", "  ")
	if err := os.WriteFile(filepath.Join(r.o.OutDir, "summary.json"), sum, 0o600); err != nil {
		return nil, err
	}
	if err := r.verifyErr(); err != nil {
		return r.s, err
	}
	if !r.s.Verdict.Allow {
		return r.s, admit.ErrDenied
	}
	return r.s, nil
}

// stopContent cancels the release's context and waits for the layer downloads, so that
// nothing runs after Run returned.
func (r *releaser) stopContent(cancel context.CancelFunc) {
	cancel()
	for _, a := range r.arts {
		a.stopContent()
	}
}
