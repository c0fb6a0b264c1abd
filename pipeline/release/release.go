// Package release runs the whole release: build → push → SBOM → sign → attest (SBOM,
// provenance, control results) → verify → admit, with one progress line per step and a
// summary at the end. Without a registry it runs go-containerregistry's registry in-process
// on loopback, so a release needs nothing outside this machine.
package release

import (
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

	"github.com/secure-movie-service/sms/pipeline/admit"
	"github.com/secure-movie-service/sms/pipeline/build"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/provenance"
	"github.com/secure-movie-service/sms/pipeline/sbom"
	"github.com/secure-movie-service/sms/pipeline/sign"
	"github.com/secure-movie-service/sms/pipeline/verify"
	policydata "github.com/secure-movie-service/sms/policy/data"
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
	BuilderID   string
	Invocation  string
	Progress    io.Writer
}

// Step is one timed step.
type Step struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Detail  string  `json:"detail"`
}

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
}

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
	step := func(n, format string, args ...any) {
		d := fmt.Sprintf(format, args...)
		st := Step{Name: n, Seconds: time.Since(start).Seconds() - total(s.Steps), Detail: d}
		s.Steps = append(s.Steps, st)
		fmt.Fprintf(o.Progress, "release: %-18s %6.2fs  %s\n", n, st.Seconds, d)
	}
	if err := os.MkdirAll(o.OutDir, 0o750); err != nil {
		return nil, err
	}
	// Inputs are read before anything is built, so that a bad one fails fast.
	var controls, manifest []byte
	if o.Controls != "" {
		b, err := ReadPredicate(o.Controls)
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

	// Registry.
	repo := o.Repository
	if repo == "" {
		reg, err := ociutil.StartRegistry()
		if err != nil {
			return nil, err
		}
		defer func() { _ = reg.Close() }()
		repo = reg.Host + "/" + o.Name
		s.InProcess = true
		step("registry", "in-process registry at %s", reg.Host)
	} else {
		step("registry", "%s", repo)
	}
	r, err := name.NewRepository(repo)
	if err != nil {
		return nil, fmt.Errorf("release: repository %q: %w", repo, err)
	}

	// Key.
	signer, err := loadKey(o)
	if err != nil {
		return nil, err
	}
	s.KeyID = signer.ID
	pub, err := signer.Verifier()
	if err != nil {
		return nil, err
	}
	step("key", "%s", signer.ID)

	// Build and push.
	bo := o.Build
	bo.Push, bo.OCILayout = r.Tag(o.Tag).String(), ""
	bo.Progress = io.Discard
	started := time.Now()
	res, err := build.Run(ctx, bo)
	if err != nil {
		return nil, err
	}
	finished := time.Now()
	s.Image, s.Digest, s.Revision = res.Ref, res.Digest, res.Revision
	ref, err := ociutil.ParseDigest(res.Ref)
	if err != nil {
		return nil, err
	}
	step("build+push", "%s (revision %.12s, SOURCE_DATE_EPOCH %d)", res.Ref, res.Revision, res.Epoch)

	// SBOM.
	img, _, err := sbom.Image(ctx, res.Ref)
	if err != nil {
		return nil, err
	}
	docs, err := sbom.Generate(ctx, img, res.Ref)
	if err != nil {
		return nil, err
	}
	if err := s.write(o.OutDir, "sbom.spdx.json", docs.SPDX); err != nil {
		return nil, err
	}
	if err := s.write(o.OutDir, "sbom.cyclonedx.json", docs.CycloneDX); err != nil {
		return nil, err
	}
	step("sbom", "%d packages → SPDX %s, CycloneDX %s", docs.Packages, sbom.SPDXVersion, sbom.CycloneDXVersion)

	// Sign.
	if err := sign.Sign(ctx, ref, signer); err != nil {
		return nil, err
	}
	step("sign", "signature by %s", signer.ID)

	// Attest.
	prov, err := json.MarshalIndent(provenance.For(res, provenance.Run{
		BuilderID: o.BuilderID, InvocationID: o.Invocation, Started: started, Finished: finished,
	}), "", "  ")
	if err != nil {
		return nil, err
	}
	if err := s.write(o.OutDir, "provenance.json", prov); err != nil {
		return nil, err
	}
	type att struct {
		name, typ string
		body      []byte
	}
	atts := []att{{"sbom (SPDX)", predicate.TypeSPDX, docs.SPDX}, {"sbom (CycloneDX)", predicate.TypeCycloneDX, docs.CycloneDX}, {"provenance (SLSA v1)", predicate.TypeProvenance, prov}}
	if controls != nil {
		atts = append(atts, att{"controls", predicate.TypeControls, controls})
	}
	var names []string
	for _, a := range atts {
		if err := sign.Attest(ctx, ref, signer, a.typ, a.body); err != nil {
			return nil, err
		}
		names = append(names, a.name)
	}
	step("attest", "%s", strings.Join(names, ", "))

	// Verify.
	facts, verr := verify.Check(ctx, res.Ref, verify.Options{Keys: []*keys.Verifier{pub}})
	if facts != nil {
		b, _ := json.MarshalIndent(facts, "", "  ")
		if err := s.write(o.OutDir, "facts.json", b); err != nil {
			return nil, err
		}
	}
	if verr != nil && !errors.Is(verr, verify.ErrFailed) {
		return nil, verr
	}
	step("verify", "%d signature(s), %d attestation(s) verified", len(facts.Signatures), len(facts.Attestations))

	// Admit.
	data := o.Data
	if !o.NoSelfTrust {
		overlay, err := selfTrust(signer.ID, r.RegistryStr()+"/")
		if err != nil {
			return nil, err
		}
		if err := s.write(o.OutDir, "trust-overlay.json", overlay); err != nil {
			return nil, err
		}
		data = append([][]byte{overlay}, data...)
	}
	ao := admit.Options{Keys: []*keys.Verifier{pub}, Images: []string{res.Ref}, Data: data}
	if manifest != nil {
		ao.Images, ao.Manifest = nil, []byte(strings.ReplaceAll(string(manifest), "${IMAGE}", res.Ref))
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
		step("admit", "allow")
	} else {
		step("admit", "deny: %s", strings.Join(codes, ", "))
	}
	s.Seconds = time.Since(start).Seconds()
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

func total(steps []Step) float64 {
	var t float64
	for _, s := range steps {
		t += s.Seconds
	}
	return t
}

func (s *Summary) write(dir, name string, b []byte) error {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return fmt.Errorf("release: write %s: %w", p, err)
	}
	s.Files = append(s.Files, p)
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

// selfTrust is the data overlay that trusts this release's key and registry, on top of
// policy/data.
func selfTrust(keyID, registryPrefix string) ([]byte, error) {
	var base struct {
		SupplyChain struct {
			Registries []string `json:"registries"`
		} `json:"supply_chain"`
	}
	if err := json.Unmarshal(policydata.SupplyChain, &base); err != nil {
		return nil, err
	}
	regs := append(base.SupplyChain.Registries, registryPrefix)
	return json.MarshalIndent(map[string]any{"supply_chain": map[string]any{
		"trusted_keys": map[string]any{keyID: map[string]string{"name": "this release's signing key"}},
		"registries":   regs,
	}}, "", "  ")
}

// ReadPredicate reads a predicate file, bounded by predicate.MaxSize.
func ReadPredicate(p string) ([]byte, error) {
	f, err := os.Open(p) // #nosec G304 -- a predicate file the operator names
	if err != nil {
		return nil, fmt.Errorf("predicate: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, predicate.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("predicate %s: %w", p, err)
	}
	if len(b) > predicate.MaxSize {
		return nil, fmt.Errorf("predicate %s: larger than %d bytes", p, predicate.MaxSize)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("predicate %s: not JSON", p)
	}
	return b, nil
}
