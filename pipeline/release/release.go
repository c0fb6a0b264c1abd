// Package release runs the whole release: build → push → SBOM → vulnerability scan → sign →
// attest (provenance, control results, SBOMs, vulnerabilities) → verify → admit, with one
// progress line per step and a summary at the end. Sidecar images (the API's OPA) are released
// with the service's, from the same commit, through the same steps, and admitted with it.
// Without a registry it runs go-containerregistry's registry in-process on loopback, so a
// release needs nothing outside this machine.
//
// Each step is a method of releaser (steps.go) or, for one image, of artifact (artifact.go);
// Run shows their order. Steps that do not depend on each other run at the same time in
// errgroups, so the first error cancels the rest and Run returns only once all of them stopped:
// the SBOM scanner is prepared and the key decrypted while the image builds; the SBOM and the
// vulnerability scan are made from the image in memory while it is pushed, signed and its
// provenance attested; admission uses the facts the verify step established. The outputs do not
// depend on that timing: the image, its signature and its attestations (written in a fixed
// order) are those of a sequential release.
package release

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/secure-movie-service/sms/pipeline/admit"
	"github.com/secure-movie-service/sms/pipeline/build"
	"github.com/secure-movie-service/sms/pipeline/vuln"
)

// Options configure a release.
type Options struct {
	Build       build.Options // what to build; Push and OCILayout are set by Run
	Repository  string        // HOST[:PORT]/PATH to push to; empty: an in-process registry
	Name        string        // repository path in the in-process registry; default "movies"
	Tag         string        // tag pushed alongside the digest; default "latest"
	KeyPath     string        // cosign private key
	CreateKey   bool          // create KeyPath (and its .pub) when it does not exist
	Password    []byte        // COSIGN_PASSWORD
	OutDir      string        // where SBOMs, provenance, facts and the verdict are written
	Controls    string        // control-results predicate to attest (make verify-controls)
	Manifest    string        // a deployment manifest to admit; ${IMAGE} and each sidecar's placeholder are replaced
	Sidecars    []Sidecar     // images released with the service's (OPA)
	Data        [][]byte      // JSON overlays over policy/data for the admission step
	NoSelfTrust bool          // admit with policy/data alone, not trusting this release's key and registry
	// RequireAttestations denies on a missing reviewer attestation whatever the data's
	// enforcement level for it (the strict release).
	RequireAttestations bool
	// VulnDB is the vulnerability database the image's binary is scanned against; nil: the
	// snapshot pinned in go.mod, prepared in vuln.DefaultCacheDir.
	VulnDB *vuln.DB
	// VEX is the directory of OpenVEX exceptions; default vex/ under Build.SourceDir.
	VEX        string
	BuilderID  string
	Invocation string
	Progress   io.Writer
}

// Step is one timed step. Steps may overlap: Start is when the step began, Seconds how long
// it took, both from the start of the release.
type Step struct {
	Name    string  `json:"name"`
	Image   string  `json:"image,omitempty"` // the sidecar's name; empty for the service's image and the release's own steps
	Start   float64 `json:"start"`
	Seconds float64 `json:"seconds"`
	Detail  string  `json:"detail"`
}

// stepOrder is the order of Summary.Steps, whatever order the steps finished in.
var stepOrder = []string{"registry", "key", "build+push", "sbom", "vuln", "sign", "attest", "verify", "admit"}

// Summary is the outcome of a release.
type Summary struct {
	Image     string         `json:"image"`
	Digest    string         `json:"digest"`
	Revision  string         `json:"revision"`
	Sidecars  []SidecarImage `json:"sidecars,omitempty"`
	InProcess bool           `json:"in_process_registry"`
	KeyID     string         `json:"key_id"`
	Steps     []Step         `json:"steps"`
	Files     []string       `json:"files"`
	Allowed   bool           `json:"allowed"`
	Verdict   *admit.Verdict `json:"verdict"`
	Seconds   float64        `json:"seconds"`

	mu sync.Mutex
}

// SidecarImage is a released sidecar image.
type SidecarImage struct {
	Name   string `json:"name"`
	Image  string `json:"image"`
	Digest string `json:"digest"`
}

// Run performs the release. It returns the summary and an error wrapping admit.ErrDenied or
// verify.ErrFailed when the image is not deployable.
func Run(ctx context.Context, o Options) (*Summary, error) {
	r, err := newReleaser(o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	closeRegistry, err := r.registry()
	if err != nil {
		return nil, err
	}
	defer closeRegistry()
	defer r.stopContent(cancel) // before the registry closes

	// The key, the scanners and the builds at once; a wrong key stops the builds.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.loadKey() })
	g.Go(func() error { return r.prepareScanners(ctx) }) // the scanner outlives this group
	g.Go(func() error { return r.each(gctx, (*artifact).build) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Push, sign and attest provenance and controls, while the SBOMs, the scans and the
	// policy are made; then the SBOMs and the scans are attested after the first attestations.
	g, gctx = errgroup.WithContext(ctx)
	g.Go(func() error { return r.compilePolicy() })
	for _, a := range r.arts {
		g.Go(func() error { return a.sbom(gctx) })
		g.Go(func() error { return a.scan(gctx) })
		g.Go(func() error { return a.publish(ctx, gctx) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := r.each(ctx, (*artifact).attestRest); err != nil {
		return nil, err
	}
	if err := r.each(ctx, (*artifact).verify); err != nil {
		return nil, err
	}
	if err := r.admit(ctx); err != nil {
		return nil, err
	}
	return r.finish()
}

func (s *Summary) write(dir, name string, b []byte) error {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return fmt.Errorf("release: write %s: %w", p, err)
	}
	s.mu.Lock()
	s.Files = append(s.Files, p)
	s.mu.Unlock()
	return nil
}

// sortSteps orders the steps by image (the service's and the release's own first) and then
// as stepOrder, whatever order they finished in.
func (s *Summary) sortSteps() {
	slices.SortStableFunc(s.Steps, func(a, b Step) int {
		return cmp.Or(cmp.Compare(a.Image, b.Image), slices.Index(stepOrder, a.Name)-slices.Index(stepOrder, b.Name))
	})
	slices.Sort(s.Files)
}
