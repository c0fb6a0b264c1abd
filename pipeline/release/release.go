// Package release runs the whole release: build → push → SBOM → sign → attest (SBOM,
// provenance, control results) → verify → admit, with one progress line per step and a
// summary at the end. Without a registry it runs go-containerregistry's registry in-process
// on loopback, so a release needs nothing outside this machine.
//
// Steps that do not depend on each other run at the same time: the SBOM scanner is prepared
// and the key decrypted while the image builds; the SBOM is made from the image in memory
// while it is pushed, signed and its provenance attested; admission uses the facts the verify
// step established. The outputs do not depend on that timing: the image, its signature and
// its attestations (written in a fixed order) are those of a sequential release.
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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

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
	Manifest    string        // a deployment manifest to admit; ${IMAGE} is replaced by the image
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
	InProcess bool           `json:"in_process_registry"`
	KeyID     string         `json:"key_id"`
	Steps     []Step         `json:"steps"`
	Files     []string       `json:"files"`
	Allowed   bool           `json:"allowed"`
	Verdict   *admit.Verdict `json:"verdict"`
	Seconds   float64        `json:"seconds"`

	mu sync.Mutex
}

// task is work running beside the release's main line.
type task[T any] struct {
	done chan struct{}
	v    T
	err  error
}

func goTask[T any](f func() (T, error)) *task[T] {
	t := &task[T]{done: make(chan struct{})}
	go func() {
		defer close(t.done)
		t.v, t.err = f()
	}()
	return t
}

func (t *task[T]) wait() (T, error) {
	<-t.done
	return t.v, t.err
}

func (t *task[T]) finished() { <-t.done }

// Run performs the release. It returns the summary and an error wrapping admit.ErrDenied or
// verify.ErrFailed when the image is not deployable.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Name == "" {
		o.Name = "movies"
	}
	if o.Tag == "" {
		o.Tag = "latest"
	}
	if o.OutDir == "" {
		o.OutDir = filepath.Join("out", "release")
	}
	start := time.Now()
	s := &Summary{}
	step := func(n string, began time.Time, format string, args ...any) {
		st := Step{Name: n, Start: began.Sub(start).Seconds(), Seconds: time.Since(began).Seconds(), Detail: fmt.Sprintf(format, args...)}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.Steps = append(s.Steps, st)
		fmt.Fprintf(o.Progress, "release: %-18s %6.2fs  %5.2fs→%5.2fs  %s\n", n, st.Seconds, st.Start, st.Start+st.Seconds, st.Detail)
	}
	if err := os.MkdirAll(o.OutDir, 0o750); err != nil {
		return nil, err
	}
	// Inputs are read before anything is built, so that a bad one fails fast.
	var controls, manifest []byte
	if o.Controls != "" {
		b, err := predicate.ReadFile(o.Controls)
		if err != nil {
			return nil, err
		}
		controls = b
	}
	if o.Manifest != "" {
		b, err := os.ReadFile(o.Manifest)
		if err != nil {
			return nil, fmt.Errorf("release: manifest: %w", err)
		}
		manifest = b
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// When a step fails, the others are canceled and Run returns once they have stopped, so
	// that nothing is written after it returned.
	var running []func()
	stop := func() {
		cancel()
		for _, wait := range running {
			wait()
		}
	}

	// Beside the build: the SBOM scanner and the key. A wrong key stops the build.
	scanner := goTask(func() (context.Context, error) { return sbom.Prepare(ctx) })
	key := goTask(func() (*keys.Signer, error) {
		t := time.Now()
		k, err := loadKey(o)
		if err != nil {
			cancel()
			return nil, err
		}
		step("key", t, "%s", k.ID)
		return k, nil
	})
	running = append(running, scanner.finished, key.finished)

	// Registry.
	t := time.Now()
	repo := o.Repository
	if repo == "" {
		reg, err := ociutil.StartRegistry()
		if err != nil {
			stop()
			return nil, err
		}
		defer func() { _ = reg.Close() }()
		defer stop() // before the registry closes
		repo = reg.Host + "/" + o.Name
		s.InProcess = true
		step("registry", t, "in-process registry at %s", reg.Host)
	} else {
		defer stop()
		step("registry", t, "%s", repo)
	}
	r, err := name.NewRepository(repo)
	if err != nil {
		return nil, fmt.Errorf("release: repository %q: %w", repo, err)
	}

	// The admission policy, compiled once the key is known.
	policy := goTask(func() (*admit.Evaluator, error) {
		k, err := key.wait()
		if err != nil {
			return nil, err
		}
		data := o.Data
		if !o.NoSelfTrust {
			overlay, err := selfTrust(k.ID, r.Name())
			if err != nil {
				return nil, err
			}
			if err := s.write(o.OutDir, "trust-overlay.json", overlay); err != nil {
				return nil, err
			}
			data = append([][]byte{overlay}, data...)
		}
		if o.RequireAttestations {
			data = append(data, admit.RequireAttestations)
		}
		return admit.NewEvaluator(data...)
	})
	running = append(running, policy.finished)

	// Build, in memory; then push, while the SBOM is made from the same image.
	buildStart := time.Now()
	bo := o.Build
	bo.Push, bo.OCILayout = r.Tag(o.Tag).String(), ""
	// A release that signs never takes its binary from a cache: anything that ran earlier as
	// this user could have planted one there. It builds, and the provenance says so.
	bo.CacheDir = ""
	bo.Progress = io.Discard
	res, err := build.Assemble(ctx, bo)
	if _, kerr := key.wait(); kerr != nil {
		return nil, kerr // the build was stopped for it
	}
	if err != nil {
		return nil, err
	}
	finished := time.Now()
	ref, err := ociutil.ParseDigest(r.Name() + "@" + res.Digest)
	if err != nil {
		return nil, err
	}
	image := ref.String()
	s.Image, s.Digest, s.Revision = image, res.Digest, res.Revision
	pushed := goTask(func() (struct{}, error) {
		if err := build.Push(ctx, res, bo.Push); err != nil {
			return struct{}{}, err
		}
		step("build+push", buildStart, "%s (revision %.12s, SOURCE_DATE_EPOCH %d, fresh go build)", res.Ref, res.Revision, res.Epoch)
		return struct{}{}, nil
	})
	running = append(running, pushed.finished)
	sboms := goTask(func() (*sbom.Documents, error) {
		sctx, err := scanner.wait()
		if err != nil {
			return nil, err
		}
		t := time.Now()
		docs, err := sbom.Generate(sctx, res.Image, image)
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err // the release failed meanwhile: write nothing
		}
		if err := s.write(o.OutDir, "sbom.spdx.json", docs.SPDX); err != nil {
			return nil, err
		}
		if err := s.write(o.OutDir, "sbom.cyclonedx.json", docs.CycloneDX); err != nil {
			return nil, err
		}
		step("sbom", t, "%d packages → SPDX %s, CycloneDX %s", docs.Packages, sbom.SPDXVersion, sbom.CycloneDXVersion)
		return docs, nil
	})
	running = append(running, sboms.finished)
	scanned := goTask(func() ([]byte, error) { return s.scanImage(ctx, o, res, step) })
	running = append(running, scanned.finished)

	signer, err := key.wait()
	if err != nil {
		return nil, err
	}
	prov, err := json.MarshalIndent(provenance.For(res, provenance.Run{
		BuilderID: o.BuilderID, InvocationID: o.Invocation, Started: buildStart, Finished: finished,
	}), "", "  ")
	if err != nil {
		return nil, err
	}
	if err := s.write(o.OutDir, "provenance.json", prov); err != nil {
		return nil, err
	}
	s.KeyID = signer.ID
	pub, err := signer.Verifier()
	if err != nil {
		return nil, err
	}
	if _, err := pushed.wait(); err != nil {
		return nil, err
	}
	// The verify step's download of every layer starts now, beside the rest.
	content := verify.StartContent(ctx, image)
	running = append(running, func() { _ = content.Wait() })

	// Sign, and attest provenance and control results, beside the SBOM; then the SBOMs.
	// Signatures and attestations live under different tags, so they are written at once;
	// attestations are written in one fixed order.
	attestStart := time.Now()
	signed := goTask(func() (struct{}, error) {
		t := time.Now()
		if err := sign.Sign(ctx, ref, signer); err != nil {
			return struct{}{}, err
		}
		step("sign", t, "signature by %s", signer.ID)
		return struct{}{}, nil
	})
	running = append(running, signed.finished)
	first := []sign.Predicate{{Type: predicate.TypeProvenance, Body: prov}}
	names := []string{"provenance (SLSA v1)"}
	if controls != nil {
		first = append(first, sign.Predicate{Type: predicate.TypeControls, Body: controls})
		names = append(names, "controls")
	}
	if err := sign.AttestAll(ctx, ref, signer, first); err != nil {
		return nil, err
	}
	docs, err := sboms.wait()
	if err != nil {
		return nil, err
	}
	vulns, err := scanned.wait()
	if err != nil {
		return nil, err
	}
	if err := sign.AttestAll(ctx, ref, signer, []sign.Predicate{
		{Type: predicate.TypeSPDX, Body: docs.SPDX}, {Type: predicate.TypeCycloneDX, Body: docs.CycloneDX},
		{Type: predicate.TypeVuln, Body: vulns},
	}); err != nil {
		return nil, err
	}
	names = append(names, "sbom (SPDX)", "sbom (CycloneDX)", "vulnerabilities (cosign vuln v1)")
	step("attest", attestStart, "%s", strings.Join(names, ", "))
	if _, err := signed.wait(); err != nil {
		return nil, err
	}

	// Verify: everything is read back from the registry and checked.
	t = time.Now()
	facts, verr := verify.Check(ctx, image, verify.Options{Keys: []*keys.Verifier{pub}, Content: content})
	if facts != nil {
		b, _ := json.MarshalIndent(facts, "", "  ")
		if err := s.write(o.OutDir, "facts.json", b); err != nil {
			return nil, err
		}
	}
	if verr != nil && !errors.Is(verr, verify.ErrFailed) {
		return nil, verr
	}
	step("verify", t, "%d signature(s), %d attestation(s) verified", len(facts.Signatures), len(facts.Attestations))

	// Admit, with the facts just verified (the same keys, the content checked).
	t = time.Now()
	ev, err := policy.wait()
	if err != nil {
		return nil, err
	}
	ao := admit.Options{
		Keys: []*keys.Verifier{pub}, Images: []string{image}, Evaluator: ev,
		Verified: map[string]admit.Verification{image: {Facts: facts, Err: verr}},
	}
	if manifest != nil {
		ao.Images, ao.Manifest = nil, []byte(strings.ReplaceAll(string(manifest), "${IMAGE}", image))
	}
	v, aerr := admit.Run(ctx, ao)
	if aerr != nil && !errors.Is(aerr, admit.ErrDenied) {
		return nil, aerr
	}
	s.Verdict, s.Allowed = v, aerr == nil && verr == nil
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := s.write(o.OutDir, "verdict.json", b); err != nil {
		return nil, err
	}
	codes := make([]string, 0, len(v.Deny))
	for _, d := range v.Deny {
		codes = append(codes, d.Code)
	}
	if v.Allow {
		step("admit", t, "allow")
	} else {
		step("admit", t, "deny: %s", strings.Join(codes, ", "))
	}
	s.Seconds = time.Since(start).Seconds()
	slices.SortStableFunc(s.Steps, func(a, b Step) int { return slices.Index(stepOrder, a.Name) - slices.Index(stepOrder, b.Name) })
	slices.Sort(s.Files)
	sum, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(filepath.Join(o.OutDir, "summary.json"), sum, 0o600); err != nil {
		return nil, err
	}
	switch {
	case verr != nil:
		return s, verr
	case aerr != nil:
		return s, aerr
	}
	return s, nil
}

// scanImage scans the binary of the built image with govulncheck (binary mode) and returns
// the cosign vulnerability predicate. Findings do not stop the release: they are attested,
// and admission denies the image for them (VULN_FOUND).
func (s *Summary) scanImage(ctx context.Context, o Options, res *build.Result, step func(string, time.Time, string, ...any)) ([]byte, error) {
	t := time.Now()
	db := o.VulnDB
	if db == nil {
		dir, err := vuln.DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		if db, err = vuln.PrepareDB(ctx, dir); err != nil {
			return nil, err
		}
	}
	tmp, err := os.MkdirTemp("", "release-vuln-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "binary")
	if err := vuln.ExtractFile(res.Image, cmp.Or(o.Build.BinaryPath, build.DefaultBinaryPath), bin); err != nil {
		return nil, fmt.Errorf("release: vulnerability scan: %w", err)
	}
	vex := cmp.Or(o.VEX, filepath.Join(cmp.Or(o.Build.SourceDir, "."), vuln.VEXDir))
	r, err := vuln.Scan(ctx, vuln.Options{DB: db, Mode: vuln.ModeBinary, Binary: bin, VEX: vex})
	if err != nil {
		return nil, fmt.Errorf("release: vulnerability scan: %w", err)
	}
	body, err := r.Predicate()
	if err != nil {
		return nil, err
	}
	if err := s.write(o.OutDir, "vuln.json", body); err != nil {
		return nil, err
	}
	step("vuln", t, "govulncheck %s, database of %s: %d called, %d waived, %d informational",
		r.Scanner.Version, db.Modified.Format(time.DateOnly), len(r.Findings), len(r.Waived), len(r.Informational))
	return body, nil
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

func loadKey(o Options) (*keys.Signer, error) {
	if o.KeyPath == "" {
		return nil, errors.New("release: no signing key (--key)")
	}
	if _, err := os.Stat(o.KeyPath); errors.Is(err, os.ErrNotExist) && o.CreateKey {
		if filepath.Base(o.KeyPath) != keys.PrivateKeyFile {
			return nil, fmt.Errorf("release: --create-key needs a path ending in %s", keys.PrivateKeyFile)
		}
		if _, err := keys.Generate(filepath.Dir(o.KeyPath), o.Password); err != nil {
			return nil, err
		}
	}
	return keys.LoadSigner(o.KeyPath, o.Password)
}

// selfTrust is the data overlay that trusts this release's key, and images of this release's
// repository exactly (not the rest of its registry), on top of policy/data.
func selfTrust(keyID, repository string) ([]byte, error) {
	return json.MarshalIndent(map[string]any{"supply_chain": map[string]any{
		"trusted_keys": map[string]any{keyID: map[string]string{"name": "this release's signing key"}},
		"repositories": []string{repository},
	}}, "", "  ")
}
