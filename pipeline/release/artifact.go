package release

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sync/errgroup"

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

// Sidecar is an image released with the service's, from the same commit and in the same
// way: built fresh, pushed, catalogued, scanned, signed, attested, verified, and admitted
// with it.
type Sidecar struct {
	Name       string // its repository is the service's with "-Name" appended; its files in OutDir start with "Name-"
	ModuleDir  string // module of the main package, relative to the work tree root
	Package    string // main package (relative to ModuleDir, or an import path the module requires)
	BinaryPath string // path of the binary in the image
}

// OPA is the API's OPA sidecar, built from the version opa/go.mod pins.
var OPA = Sidecar{Name: "opa", ModuleDir: "opa", Package: "github.com/open-policy-agent/opa", BinaryPath: "/opa"}

// Placeholder is what a manifest writes for the sidecar's reference: ${OPA_IMAGE} for "opa".
func (s Sidecar) Placeholder() string { return "${" + strings.ToUpper(s.Name) + "_IMAGE}" }

// artifact is one image of the release and what each of its steps hands to the next. A step
// writes only its own fields; Run's errgroups order the steps that read them.
type artifact struct {
	r    *releaser
	name string // "" for the service's image, else the sidecar's name
	bo   build.Options
	repo name.Repository

	res        *build.Result
	buildStart time.Time
	built      time.Time
	ref        name.Digest
	prov       []byte
	docs       *sbom.Documents
	vulns      []byte
	content    *verify.ContentCheck
	contentMu  sync.Mutex
	facts      *verify.Facts
	verr       error
}

// file is the name of one of the artifact's files in OutDir.
func (a *artifact) file(n string) string {
	if a.name == "" {
		return n
	}
	return a.name + "-" + n
}

// build assembles the image in memory from a fresh go build. A release that signs never
// takes its binary from a cache: anything that ran earlier as this user could have planted
// one there; the provenance says how the binary was obtained.
func (a *artifact) build(ctx context.Context) error {
	r := a.r
	a.buildStart = time.Now()
	res, err := build.Assemble(ctx, a.bo)
	if err != nil {
		return err
	}
	a.built = time.Now()
	if a.ref, err = ociutil.ParseDigest(a.repo.Name() + "@" + res.Digest); err != nil {
		return err
	}
	a.res = res
	a.prov, err = json.MarshalIndent(provenance.For(res, provenance.Run{
		BuilderID: r.o.BuilderID, InvocationID: r.o.Invocation, Started: a.buildStart, Finished: a.built,
	}), "", "  ")
	return err
}

// sbom catalogues the image in memory and writes both documents.
func (a *artifact) sbom(ctx context.Context) error {
	r := a.r
	t := time.Now()
	docs, err := sbom.Generate(r.scanner, a.res.Image, a.ref.String())
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // the release failed meanwhile: write nothing
	}
	if err := r.s.write(r.o.OutDir, a.file("sbom.spdx.json"), docs.SPDX); err != nil {
		return err
	}
	if err := r.s.write(r.o.OutDir, a.file("sbom.cyclonedx.json"), docs.CycloneDX); err != nil {
		return err
	}
	a.docs = docs
	r.step(a, "sbom", t, "%d packages → SPDX %s, CycloneDX %s", docs.Packages, sbom.SPDXVersion, sbom.CycloneDXVersion)
	return nil
}

// scan scans the binary of the built image with govulncheck (binary mode) into cosign's
// vulnerability predicate. Findings do not stop the release: they are attested, and
// admission denies the image for them (VULN_FOUND).
func (a *artifact) scan(ctx context.Context) error {
	r := a.r
	t := time.Now()
	tmp, err := os.MkdirTemp("", "release-vuln-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "binary")
	if err := vuln.ExtractFile(a.res.Image, cmp.Or(a.bo.BinaryPath, build.DefaultBinaryPath), bin); err != nil {
		return fmt.Errorf("release: vulnerability scan: %w", err)
	}
	vex := cmp.Or(r.o.VEX, filepath.Join(cmp.Or(r.o.Build.SourceDir, "."), vuln.VEXDir))
	rep, err := vuln.Scan(ctx, vuln.Options{DB: r.vulnDB, Mode: vuln.ModeBinary, Binary: bin, VEX: vex})
	if err != nil {
		return fmt.Errorf("release: vulnerability scan: %w", err)
	}
	if a.vulns, err = rep.Predicate(); err != nil {
		return err
	}
	if err := r.s.write(r.o.OutDir, a.file("vuln.json"), a.vulns); err != nil {
		return err
	}
	r.step(a, "vuln", t, "%s", rep.Summary())
	return nil
}

// publish pushes the image, starts downloading its layers for the verify step, and signs it
// while its provenance and control results are attested (signatures and attestations live
// under different tags).
func (a *artifact) publish(releaseCtx, ctx context.Context) error {
	r := a.r
	if err := r.s.write(r.o.OutDir, a.file("provenance.json"), a.prov); err != nil {
		return err
	}
	if err := build.Push(ctx, a.res, a.repo.Tag(r.o.Tag).String()); err != nil {
		return err
	}
	r.step(a, "build+push", a.buildStart, "%s (revision %.12s, SOURCE_DATE_EPOCH %d, fresh go build)", a.res.Ref, a.res.Revision, a.res.Epoch)
	a.contentMu.Lock()
	a.content = verify.StartContent(releaseCtx, a.ref.String())
	a.contentMu.Unlock()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		t := time.Now()
		if err := sign.Sign(gctx, a.ref, r.signer); err != nil {
			return err
		}
		r.step(a, "sign", t, "signature by %s", r.signer.ID)
		return nil
	})
	g.Go(func() error {
		preds := []sign.Predicate{{Type: predicate.TypeProvenance, Body: a.prov}}
		if r.controls != nil {
			preds = append(preds, sign.Predicate{Type: predicate.TypeControls, Body: r.controls})
		}
		return sign.AttestAll(gctx, a.ref, r.signer, preds)
	})
	return g.Wait()
}

// attestRest attests the SBOMs and the vulnerability scan, after provenance and controls, so
// that the attestations are always written in one order.
func (a *artifact) attestRest(ctx context.Context) error {
	r := a.r
	t := time.Now()
	if err := sign.AttestAll(ctx, a.ref, r.signer, []sign.Predicate{
		{Type: predicate.TypeSPDX, Body: a.docs.SPDX}, {Type: predicate.TypeCycloneDX, Body: a.docs.CycloneDX},
		{Type: predicate.TypeVuln, Body: a.vulns},
	}); err != nil {
		return err
	}
	names := []string{"provenance (SLSA v1)"}
	if r.controls != nil {
		names = append(names, "controls")
	}
	names = append(names, "sbom (SPDX)", "sbom (CycloneDX)", "vulnerabilities (cosign vuln v1)")
	r.step(a, "attest", t, "%s", strings.Join(names, ", "))
	return nil
}

// verify reads everything back from the registry and checks it with the release's key.
func (a *artifact) verify(ctx context.Context) error {
	r := a.r
	t := time.Now()
	facts, verr := verify.Check(ctx, a.ref.String(), verify.Options{Keys: []*keys.Verifier{r.pub}, Content: a.content})
	if facts != nil {
		b, _ := json.MarshalIndent(facts, "", "  ")
		if err := r.s.write(r.o.OutDir, a.file("facts.json"), b); err != nil {
			return err
		}
	}
	if verr != nil && !errors.Is(verr, verify.ErrFailed) {
		return verr
	}
	a.facts, a.verr = facts, verr
	r.step(a, "verify", t, "%d signature(s), %d attestation(s) verified", len(facts.Signatures), len(facts.Attestations))
	return nil
}

// stopContent waits for the layer download started by publish.
func (a *artifact) stopContent() {
	a.contentMu.Lock()
	c := a.content
	a.contentMu.Unlock()
	if c != nil {
		_ = c.Wait()
	}
}
