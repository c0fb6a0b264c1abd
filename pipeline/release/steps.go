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
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sync/errgroup"

	"github.com/secure-movie-service/sms/pipeline/admit"
	"github.com/secure-movie-service/sms/pipeline/build"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/provenance"
	"github.com/secure-movie-service/sms/pipeline/sbom"
	"github.com/secure-movie-service/sms/pipeline/sign"
	"github.com/secure-movie-service/sms/pipeline/verify"
	"github.com/secure-movie-service/sms/pipeline/vuln"
)

// releaser is one release: its inputs, and what each step hands to the next. A step writes
// only its own fields; Run's errgroups order the steps that read them.
type releaser struct {
	o     Options
	s     *Summary
	start time.Time

	controls, manifest []byte // read before anything is built
	repo               name.Repository
	signer             *keys.Signer
	pub                *keys.Verifier
	scanner            context.Context // carries syft's license scanner
	res                *build.Result
	buildStart         time.Time
	built              time.Time
	ref                name.Digest
	prov               []byte
	docs               *sbom.Documents
	vulns              []byte
	policy             *admit.Evaluator
	content            *verify.ContentCheck
	contentMu          sync.Mutex
	facts              *verify.Facts
	verr               error
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

// step records a finished step and prints its progress line.
func (r *releaser) step(n string, began time.Time, format string, args ...any) {
	st := Step{Name: n, Start: began.Sub(r.start).Seconds(), Seconds: time.Since(began).Seconds(), Detail: fmt.Sprintf(format, args...)}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.s.Steps = append(r.s.Steps, st)
	fmt.Fprintf(r.o.Progress, "release: %-18s %6.2fs  %5.2fs→%5.2fs  %s\n", n, st.Seconds, st.Start, st.Start+st.Seconds, st.Detail)
}

// registry starts the in-process registry unless a repository was given; the returned
// function closes it.
func (r *releaser) registry() (func(), error) {
	t, repo, closeIt := time.Now(), r.o.Repository, func() {}
	if repo == "" {
		reg, err := ociutil.StartRegistry()
		if err != nil {
			return nil, err
		}
		closeIt = func() { _ = reg.Close() }
		repo, r.s.InProcess = reg.Host+"/"+r.o.Name, true
		r.step("registry", t, "in-process registry at %s", reg.Host)
	} else {
		r.step("registry", t, "%s", repo)
	}
	var err error
	if r.repo, err = name.NewRepository(repo); err != nil {
		closeIt()
		return nil, fmt.Errorf("release: repository %q: %w", repo, err)
	}
	return closeIt, nil
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
	r.step("key", t, "%s", k.ID)
	return nil
}

func (r *releaser) prepareSBOM(ctx context.Context) (err error) {
	r.scanner, err = sbom.Prepare(ctx)
	return err
}

// build assembles the image in memory from a fresh go build. A release that signs never
// takes its binary from a cache: anything that ran earlier as this user could have planted
// one there; the provenance says how the binary was obtained.
func (r *releaser) build(ctx context.Context) error {
	r.buildStart = time.Now()
	bo := r.o.Build
	bo.Push, bo.OCILayout, bo.CacheDir = r.repo.Tag(r.o.Tag).String(), "", ""
	bo.Progress = io.Discard
	res, err := build.Assemble(ctx, bo)
	if err != nil {
		return err
	}
	r.built = time.Now()
	if r.ref, err = ociutil.ParseDigest(r.repo.Name() + "@" + res.Digest); err != nil {
		return err
	}
	r.res = res
	r.s.Image, r.s.Digest, r.s.Revision = r.ref.String(), res.Digest, res.Revision
	r.prov, err = json.MarshalIndent(provenance.For(res, provenance.Run{
		BuilderID: r.o.BuilderID, InvocationID: r.o.Invocation, Started: r.buildStart, Finished: r.built,
	}), "", "  ")
	return err
}

// sbom catalogues the image in memory and writes both documents.
func (r *releaser) sbom(ctx context.Context) error {
	t := time.Now()
	docs, err := sbom.Generate(r.scanner, r.res.Image, r.ref.String())
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // the release failed meanwhile: write nothing
	}
	if err := r.s.write(r.o.OutDir, "sbom.spdx.json", docs.SPDX); err != nil {
		return err
	}
	if err := r.s.write(r.o.OutDir, "sbom.cyclonedx.json", docs.CycloneDX); err != nil {
		return err
	}
	r.docs = docs
	r.step("sbom", t, "%d packages → SPDX %s, CycloneDX %s", docs.Packages, sbom.SPDXVersion, sbom.CycloneDXVersion)
	return nil
}

// scan scans the binary of the built image with govulncheck (binary mode) into cosign's
// vulnerability predicate. Findings do not stop the release: they are attested, and
// admission denies the image for them (VULN_FOUND).
func (r *releaser) scan(ctx context.Context) error {
	t := time.Now()
	db := r.o.VulnDB
	if db == nil {
		dir, err := vuln.DefaultCacheDir()
		if err != nil {
			return err
		}
		if db, err = vuln.PrepareDB(ctx, dir); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "release-vuln-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "binary")
	if err := vuln.ExtractFile(r.res.Image, cmp.Or(r.o.Build.BinaryPath, build.DefaultBinaryPath), bin); err != nil {
		return fmt.Errorf("release: vulnerability scan: %w", err)
	}
	vex := cmp.Or(r.o.VEX, filepath.Join(cmp.Or(r.o.Build.SourceDir, "."), vuln.VEXDir))
	rep, err := vuln.Scan(ctx, vuln.Options{DB: db, Mode: vuln.ModeBinary, Binary: bin, VEX: vex})
	if err != nil {
		return fmt.Errorf("release: vulnerability scan: %w", err)
	}
	if r.vulns, err = rep.Predicate(); err != nil {
		return err
	}
	if err := r.s.write(r.o.OutDir, "vuln.json", r.vulns); err != nil {
		return err
	}
	r.step("vuln", t, "govulncheck %s, database of %s: %d called, %d waived, %d informational",
		rep.Scanner.Version, db.Modified.Format(time.DateOnly), len(rep.Findings), len(rep.Waived), len(rep.Informational))
	return nil
}

// compilePolicy prepares policy/admission over policy/data, the given overlays and, unless
// told not to, this release's own key and builder for this release's own repository.
func (r *releaser) compilePolicy() error {
	data := r.o.Data
	if !r.o.NoSelfTrust {
		overlay, err := json.MarshalIndent(map[string]any{"supply_chain": map[string]any{
			"trusted_keys": map[string]any{r.signer.ID: map[string]string{"name": "this release's signing key"}},
			"repositories": []string{r.repo.Name()},
			"builder_ids":  []string{cmp.Or(r.o.BuilderID, provenance.DefaultBuilderID)},
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

// publish pushes the image, starts downloading its layers for the verify step, and signs it
// while its provenance and control results are attested (signatures and attestations live
// under different tags).
func (r *releaser) publish(releaseCtx, ctx context.Context) error {
	if err := r.s.write(r.o.OutDir, "provenance.json", r.prov); err != nil {
		return err
	}
	if err := build.Push(ctx, r.res, r.repo.Tag(r.o.Tag).String()); err != nil {
		return err
	}
	r.step("build+push", r.buildStart, "%s (revision %.12s, SOURCE_DATE_EPOCH %d, fresh go build)", r.res.Ref, r.res.Revision, r.res.Epoch)
	r.contentMu.Lock()
	r.content = verify.StartContent(releaseCtx, r.ref.String())
	r.contentMu.Unlock()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		t := time.Now()
		if err := sign.Sign(gctx, r.ref, r.signer); err != nil {
			return err
		}
		r.step("sign", t, "signature by %s", r.signer.ID)
		return nil
	})
	g.Go(func() error {
		preds := []sign.Predicate{{Type: predicate.TypeProvenance, Body: r.prov}}
		if r.controls != nil {
			preds = append(preds, sign.Predicate{Type: predicate.TypeControls, Body: r.controls})
		}
		return sign.AttestAll(gctx, r.ref, r.signer, preds)
	})
	return g.Wait()
}

// attestRest attests the SBOMs and the vulnerability scan, after provenance and controls, so
// that the attestations are always written in one order.
func (r *releaser) attestRest(ctx context.Context) error {
	t := time.Now()
	if err := sign.AttestAll(ctx, r.ref, r.signer, []sign.Predicate{
		{Type: predicate.TypeSPDX, Body: r.docs.SPDX}, {Type: predicate.TypeCycloneDX, Body: r.docs.CycloneDX},
		{Type: predicate.TypeVuln, Body: r.vulns},
	}); err != nil {
		return err
	}
	names := []string{"provenance (SLSA v1)"}
	if r.controls != nil {
		names = append(names, "controls")
	}
	names = append(names, "sbom (SPDX)", "sbom (CycloneDX)", "vulnerabilities (cosign vuln v1)")
	r.step("attest", t, "%s", strings.Join(names, ", "))
	return nil
}

// verify reads everything back from the registry and checks it with the release's key.
func (r *releaser) verify(ctx context.Context) error {
	t := time.Now()
	facts, verr := verify.Check(ctx, r.ref.String(), verify.Options{Keys: []*keys.Verifier{r.pub}, Content: r.content})
	if facts != nil {
		b, _ := json.MarshalIndent(facts, "", "  ")
		if err := r.s.write(r.o.OutDir, "facts.json", b); err != nil {
			return err
		}
	}
	if verr != nil && !errors.Is(verr, verify.ErrFailed) {
		return verr
	}
	r.facts, r.verr = facts, verr
	r.step("verify", t, "%d signature(s), %d attestation(s) verified", len(facts.Signatures), len(facts.Attestations))
	return nil
}

// admit runs admission with the facts just verified (the same key, the content checked).
func (r *releaser) admit(ctx context.Context) error {
	t, image := time.Now(), r.ref.String()
	ao := admit.Options{
		Keys: []*keys.Verifier{r.pub}, Images: []string{image}, Evaluator: r.policy,
		Verified: map[string]admit.Verification{image: {Facts: r.facts, Err: r.verr}},
	}
	if r.manifest != nil {
		ao.Images, ao.Manifest = nil, []byte(strings.ReplaceAll(string(r.manifest), "${IMAGE}", image))
	}
	v, aerr := admit.Run(ctx, ao)
	if aerr != nil && !errors.Is(aerr, admit.ErrDenied) {
		return aerr
	}
	r.s.Verdict, r.s.Allowed = v, aerr == nil && r.verr == nil
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := r.s.write(r.o.OutDir, "verdict.json", b); err != nil {
		return err
	}
	codes := make([]string, 0, len(v.Deny))
	for _, d := range v.Deny {
		codes = append(codes, d.Code)
	}
	if v.Allow {
		r.step("admit", t, "allow")
	} else {
		r.step("admit", t, "deny: %s", strings.Join(codes, ", "))
	}
	return nil
}

// finish writes summary.json and returns the summary with the verdict's error.
func (r *releaser) finish() (*Summary, error) {
	r.s.Seconds = time.Since(r.start).Seconds()
	r.s.sortSteps()
	sum, _ := json.MarshalIndent(r.s, "", "  ")
	if err := os.WriteFile(filepath.Join(r.o.OutDir, "summary.json"), sum, 0o600); err != nil {
		return nil, err
	}
	if r.verr != nil {
		return r.s, r.verr
	}
	if !r.s.Verdict.Allow {
		return r.s, admit.ErrDenied
	}
	return r.s, nil
}

// stopContent cancels the release's context and waits for the layer download, so that
// nothing runs after Run returned.
func (r *releaser) stopContent(cancel context.CancelFunc) {
	cancel()
	r.contentMu.Lock()
	c := r.content
	r.contentMu.Unlock()
	if c != nil {
		_ = c.Wait()
	}
}
