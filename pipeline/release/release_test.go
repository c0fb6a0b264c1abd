package release_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"

	"github.com/secure-movie-service/sms/pipeline/admit"
	"github.com/secure-movie-service/sms/pipeline/build"
	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/release"
	"github.com/secure-movie-service/sms/pipeline/sign"
	"github.com/secure-movie-service/sms/pipeline/verify"
	"github.com/secure-movie-service/sms/pipeline/vuln"
	devdata "github.com/secure-movie-service/sms/policy/dev"
)

// fixture is a git repository with the tiny module, its revision and a release key.
type fixture struct {
	repo, rev string
	key       *testkit.Key
	db        *vuln.DB // marks nothing the fixture calls vulnerable
}

func mustFixture(t *testing.T) *fixture {
	t.Helper()
	repo := testkit.MustRepo(t)
	out, err := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output()
	testkit.Must(t, err)
	return &fixture{repo: repo, rev: strings.TrimSpace(string(out)), key: testkit.MustKey(t), db: testkit.MustVulnDB(t, false)}
}

func (f *fixture) options(t *testing.T) release.Options {
	t.Helper()
	return release.Options{
		Build:    testkit.BuildOptions(f.repo),
		KeyPath:  f.key.PrivatePath(),
		Password: []byte(testkit.Password),
		OutDir:   t.TempDir(),
		Controls: mustFile(t, "controls.json", testkit.Controls(f.rev)),
		Data:     [][]byte{testkit.FixtureData()},
		VulnDB:   f.db,
	}
}

func mustFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	testkit.Must(t, os.WriteFile(p, b, 0o600))
	return p
}

func mustFacts(t *testing.T, dir string) *verify.Facts {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "facts.json"))
	testkit.Must(t, err)
	var f verify.Facts
	testkit.Must(t, json.Unmarshal(b, &f))
	return &f
}

// mustProvenanceWithoutRunTimes is provenance.json without the times of the run, which are
// the only part that differs between two releases of one commit.
func mustProvenanceWithoutRunTimes(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "provenance.json"))
	testkit.Must(t, err)
	var p predicate.Provenance
	testkit.Must(t, json.Unmarshal(b, &p))
	p.RunDetails.Metadata = nil
	out, err := json.Marshal(p)
	testkit.Must(t, err)
	return out
}

// mustSBOMSummary is what verification reads from sbom.spdx.json, but the name (the
// registry's address; syft also gives each document a new namespace and creation time).
func mustSBOMSummary(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "sbom.spdx.json"))
	testkit.Must(t, err)
	s, err := predicate.Summarize(predicate.TypeSPDX, b)
	testkit.Must(t, err)
	s.SBOM.Name = ""
	out, err := json.Marshal(s)
	testkit.Must(t, err)
	return out
}

func denyCodes(s *release.Summary) []string {
	var c []string
	for _, d := range s.Verdict.Deny {
		c = append(c, d.Code)
	}
	return c
}

func TestReleaseIsDeployableAndReproducible(t *testing.T) {
	f := mustFixture(t)
	cache := t.TempDir()
	var digests []string
	var facts []*verify.Facts
	var provs, sboms [][]byte
	for i := 0; i < 2; i++ {
		o := f.options(t)
		o.Build.CacheDir = cache // which a release never reads
		s, err := release.Run(context.Background(), o)
		if err != nil {
			t.Fatalf("release %d: %v (deny %v)", i, err, s)
		}
		if !s.Allowed || !s.InProcess || s.Revision != f.rev || s.KeyID != f.key.Signer.ID {
			t.Fatalf("summary %+v", s)
		}
		var steps []string
		for _, st := range s.Steps {
			steps = append(steps, st.Name)
		}
		for _, want := range []string{"registry", "key", "build+push", "sbom", "vuln", "sign", "attest", "verify", "admit"} {
			if !slices.Contains(steps, want) {
				t.Errorf("no %s step in %v", want, steps)
			}
		}
		for _, name := range []string{"sbom.spdx.json", "sbom.cyclonedx.json", "provenance.json", "vuln.json", "facts.json", "verdict.json", "summary.json", "trust-overlay.json"} {
			if _, err := os.Stat(filepath.Join(o.OutDir, name)); err != nil {
				t.Errorf("release wrote no %s", name)
			}
		}
		fa := mustFacts(t, o.OutDir)
		if len(fa.Signatures) != 1 || len(fa.Attestations) != 5 || len(fa.Problems) != 0 || !fa.ContentVerified {
			t.Fatalf("facts %+v", fa)
		}
		want := []string{predicate.TypeControls, predicate.TypeCycloneDX, predicate.TypeSPDX, predicate.TypeProvenance, predicate.TypeVuln}
		slices.Sort(want)
		if !slices.Equal(fa.PredicateTypes, want) {
			t.Fatalf("predicate types %v", fa.PredicateTypes)
		}
		if slices.IndexFunc(s.Steps, func(st release.Step) bool { return strings.Contains(st.Detail, "fresh go build") }) < 0 {
			t.Errorf("release %d: the binary was not built fresh: %+v", i, s.Steps)
		}
		if !slices.IsSortedFunc(s.Files, strings.Compare) {
			t.Errorf("files %v", s.Files)
		}
		digests = append(digests, s.Digest)
		facts = append(facts, fa)
		provs = append(provs, mustProvenanceWithoutRunTimes(t, o.OutDir))
		sboms = append(sboms, mustSBOMSummary(t, o.OutDir))
	}
	if digests[0] != digests[1] {
		t.Fatalf("two releases of one commit have different digests: %v", digests)
	}
	if !bytes.Equal(provs[0], provs[1]) {
		t.Fatalf("two releases of one commit have different provenance:\n%s\n%s", provs[0], provs[1])
	}
	if !bytes.Equal(sboms[0], sboms[1]) {
		t.Fatalf("two releases of one commit have different SBOMs:\n%s\n%s", sboms[0], sboms[1])
	}
	if facts[0].Config.User != "65532:65532" || !slices.Equal(facts[0].Config.Entrypoint, facts[1].Config.Entrypoint) {
		t.Fatalf("configs %+v %+v", facts[0].Config, facts[1].Config)
	}
}

func TestReleaseToARegistry(t *testing.T) {
	f := mustFixture(t)
	reg := testkit.MustRegistry(t)
	o := f.options(t)
	o.Repository = reg.Host + "/acme/movies"
	s, err := release.Run(context.Background(), o)
	testkit.Must(t, err)
	if s.InProcess || !strings.HasPrefix(s.Image, o.Repository+"@sha256:") {
		t.Fatalf("released %s (in process %v), want it in %s", s.Image, s.InProcess, o.Repository)
	}
	// Anyone can now verify it in that registry with the public key.
	fa, err := verify.Check(context.Background(), s.Image, verify.Options{Keys: []*keys.Verifier{f.key.Verifier}})
	testkit.Must(t, err)
	if !slices.Equal(fa.Signers, []string{f.key.Signer.ID}) || len(fa.Attestations) != 5 {
		t.Fatalf("facts %+v", fa)
	}
	// The attestations are written in one order, whichever step finished first.
	d, err := name.NewDigest(s.Image)
	testkit.Must(t, err)
	se, err := ociremote.SignedImage(d)
	testkit.Must(t, err)
	atts, err := se.Attestations()
	testkit.Must(t, err)
	list, err := atts.Get()
	testkit.Must(t, err)
	var order []string
	for _, a := range list {
		ann, err := a.Annotations()
		testkit.Must(t, err)
		order = append(order, ann["predicateType"])
	}
	if want := []string{predicate.TypeProvenance, predicate.TypeControls, predicate.TypeSPDX, predicate.TypeCycloneDX, predicate.TypeVuln}; !slices.Equal(order, want) {
		t.Fatalf("attestations in order %v, want %v", order, want)
	}
}

// TestReleaseRefuses: a release that is not deployable says so — an error before anything is
// built for bad inputs, and a deny verdict (admit.ErrDenied or verify.ErrFailed) otherwise.
func TestReleaseRefuses(t *testing.T) {
	f := mustFixture(t)
	ctx := context.Background()
	inputs := []struct {
		name    string
		change  func(*release.Options)
		wantErr string
	}{
		{"the wrong password", func(o *release.Options) { o.Password = []byte("wrong") }, "load key"},
		{"no key", func(o *release.Options) { o.KeyPath = "" }, "no signing key"},
		{"a missing key", func(o *release.Options) { o.KeyPath = filepath.Join(t.TempDir(), "cosign.key") }, "load key"},
		{"creating a key under another name", func(o *release.Options) {
			o.KeyPath, o.CreateKey = filepath.Join(t.TempDir(), "release.key"), true
		}, "--create-key needs a path ending in cosign.key"},
		{"a controls predicate that is not JSON", func(o *release.Options) { o.Controls = mustFile(t, "c.json", []byte("passed")) }, "not JSON"},
		{"an oversized controls predicate", func(o *release.Options) {
			o.Controls = mustFile(t, "c.json", append(append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), predicate.MaxSize)...), `"}`...))
		}, "larger than"},
		{"a missing manifest", func(o *release.Options) { o.Manifest = filepath.Join(t.TempDir(), "none.yaml") }, "release: manifest"},
	}
	for _, tc := range inputs {
		t.Run(tc.name, func(t *testing.T) {
			o := f.options(t)
			tc.change(&o)
			s, err := release.Run(ctx, o)
			if err == nil || s != nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, %v; want an error containing %q", s, err, tc.wantErr)
			}
			// Refused before anything was built: nothing was written.
			if ents, err := os.ReadDir(o.OutDir); err != nil || len(ents) != 0 {
				t.Fatalf("the release wrote %v (%v)", ents, err)
			}
		})
	}
	denials := []struct {
		name     string
		change   func(*release.Options)
		code     string
		verified bool // verification itself passes; only policy denies
	}{
		{"controls of another revision", func(o *release.Options) {
			o.Controls = mustFile(t, "c.json", testkit.Controls(strings.Repeat("f", 40)))
		}, "CONTROLS_REVISION", true},
		{"a failed control", func(o *release.Options) {
			o.Controls = mustFile(t, "c.json", testkit.Controls(f.rev, "C-AUTHZ-01"))
		}, "CONTROLS_FAILED", true},
		{"no controls", func(o *release.Options) { o.Controls = "" }, "CONTROLS_MISSING", true},
		{"an SBOM given as the controls predicate", func(o *release.Options) { o.Controls = mustFile(t, "c.json", testkit.SPDX()) }, "CONTROLS_MISSING", false},
		{"a key and registry policy data does not trust", func(o *release.Options) { o.NoSelfTrust = true }, "SIGNATURE_MISSING", true},
		{"C-IMAGE-SCAN a binary that calls a vulnerable function", func(o *release.Options) { o.VulnDB = testkit.MustVulnDB(t, true) }, "VULN_FOUND", true},
		{"C-CONTROLS-ATTESTED the production data's required controls", func(o *release.Options) { o.Data = nil }, "CONTROLS_INCOMPLETE", true},
		{"C-PROVENANCE a commit older than the oldest supported release", func(o *release.Options) {
			o.Data = [][]byte{[]byte(`{"supply_chain":{"controls":{"required":["C-SUPPLY-01","C-SUPPLY-02"]}}}`)}
		}, "RELEASE_TOO_OLD", true},
		{"a privileged pod", func(o *release.Options) {
			o.Manifest = mustFile(t, "pod.yaml", []byte(`kind: Pod
metadata: {name: movies}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: movies
    image: ${IMAGE}
    securityContext: {privileged: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
    resources: {limits: {cpu: 500m, memory: 128Mi}}
`))
		}, "PRIVILEGED", true},
	}
	for _, tc := range denials {
		t.Run(tc.name, func(t *testing.T) {
			o := f.options(t)
			tc.change(&o)
			s, err := release.Run(ctx, o)
			if s == nil {
				t.Fatalf("no summary: %v", err)
			}
			if s.Allowed || s.Verdict.Allow || !slices.Contains(denyCodes(s), tc.code) {
				t.Fatalf("allowed %v, deny %v; want %s", s.Allowed, denyCodes(s), tc.code)
			}
			wantErr := admit.ErrDenied
			if !tc.verified {
				wantErr = verify.ErrFailed
			}
			if !errors.Is(err, wantErr) {
				t.Fatalf("error %v, want %v", err, wantErr)
			}
		})
	}
}

// The release trusts its own key for its own repository only: another repository on the same
// registry, signed and attested by the same key, is not admitted with the release's overlay.
func TestSelfTrustIsScopedToTheRepository(t *testing.T) {
	f := mustFixture(t)
	reg := testkit.MustRegistry(t)
	o := f.options(t)
	o.Repository = reg.Host + "/acme/movies"
	s, err := release.Run(context.Background(), o)
	testkit.Must(t, err)
	overlay, err := os.ReadFile(filepath.Join(o.OutDir, "trust-overlay.json"))
	testkit.Must(t, err)
	var trust struct {
		SupplyChain struct {
			Registries   []string `json:"registries"`
			Repositories []string `json:"repositories"`
		} `json:"supply_chain"`
	}
	testkit.Must(t, json.Unmarshal(overlay, &trust))
	if len(trust.SupplyChain.Registries) != 0 || !slices.Equal(trust.SupplyChain.Repositories, []string{o.Repository}) {
		t.Fatalf("the release trusts %s", overlay)
	}
	// The same image, signature and attestations copied to another repository of the registry.
	other := reg.Host + "/acme/tools"
	d, err := name.NewDigest(s.Image)
	testkit.Must(t, err)
	img, err := remote.Image(d)
	testkit.Must(t, err)
	ref := testkit.MustPush(t, other, img)
	testkit.Must(t, sign.Sign(context.Background(), ref, f.key.Signer))
	v, err := admit.Run(context.Background(), admit.Options{
		Keys: []*keys.Verifier{f.key.Verifier}, Images: []string{ref.String()},
		Data: [][]byte{overlay, testkit.FixtureData()},
	})
	if !errors.Is(err, admit.ErrDenied) || !slices.ContainsFunc(v.Deny, func(r admit.Reason) bool { return r.Code == "REGISTRY_NOT_ALLOWED" }) {
		t.Fatalf("an image of another repository was not refused for its registry: %v %+v", err, v)
	}
}

// A poisoned build cache is never signed: anything running earlier as the same user can
// write a binary for HEAD, and its hash beside it, into the cache; the release builds anyway.
func TestReleaseNeverSignsACachedBinary(t *testing.T) {
	f := mustFixture(t)
	ctx := context.Background()
	cache := t.TempDir()
	bo := testkit.BuildOptions(f.repo)
	bo.CacheDir, bo.OCILayout = cache, t.TempDir()
	fresh, err := build.Run(ctx, bo)
	testkit.Must(t, err)
	// Plant another binary in the entry, with a matching hash, as an attacker would.
	planted := []byte("#!/bin/sh\necho owned\n")
	sum := sha256.Sum256(planted)
	entries, err := filepath.Glob(filepath.Join(cache, "*", "meta.json"))
	testkit.Must(t, err)
	if len(entries) != 1 {
		t.Fatalf("cache entries %v", entries)
	}
	meta, err := os.ReadFile(entries[0])
	testkit.Must(t, err)
	var m map[string]any
	testkit.Must(t, json.Unmarshal(meta, &m))
	m["binary_sha256"] = hex.EncodeToString(sum[:])
	meta, _ = json.Marshal(m)
	testkit.Must(t, os.WriteFile(entries[0], meta, 0o600))
	testkit.Must(t, os.WriteFile(filepath.Join(filepath.Dir(entries[0]), "binary"), planted, 0o600))

	o := f.options(t)
	o.Build.CacheDir = cache
	s, err := release.Run(ctx, o)
	testkit.Must(t, err)
	if s.Digest != fresh.Digest {
		t.Fatalf("released %s, a fresh build is %s: the cached binary was signed", s.Digest, fresh.Digest)
	}
	var p predicate.Provenance
	b, err := os.ReadFile(filepath.Join(o.OutDir, "provenance.json"))
	testkit.Must(t, err)
	testkit.Must(t, json.Unmarshal(b, &p))
	if got := p.BuildDefinition.InternalParameters["binary_obtained"]; got != "go build" {
		t.Fatalf("provenance says the binary was obtained by %v", got)
	}
}

// make release: reviewer attestations still missing warn with the development overlay (the
// release is admitted and says which), and deny, naming each, with the production data or
// with --require-attestations.
func TestReleaseMissingReviewerAttestations(t *testing.T) {
	f := mustFixture(t)
	required := []byte(`{"supply_chain":{"controls":{"required":["C-SUPPLY-01","C-SUPPLY-02","C-REVIEW-01","C-REVIEW-02"]}}}`)
	tests := []struct {
		name    string
		data    [][]byte
		require bool
		allowed bool
	}{
		{"C-ADMISSION-LEVELS the development overlay warns", [][]byte{testkit.FixtureData(), required, devdata.SupplyChain}, false, true},
		{"C-MANUAL-SIGNED the production data denies", [][]byte{testkit.FixtureData(), required}, false, false},
		{"C-MANUAL-SIGNED --require-attestations denies over the development overlay", [][]byte{testkit.FixtureData(), required, devdata.SupplyChain}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := f.options(t)
			o.Controls = mustFile(t, "controls.json", testkit.ControlsMissing(f.rev))
			o.Data, o.RequireAttestations = tc.data, tc.require
			s, err := release.Run(context.Background(), o)
			if s == nil {
				t.Fatalf("no summary: %v", err)
			}
			reasons := s.Verdict.Deny
			if tc.allowed {
				reasons = s.Verdict.Warn
				if err != nil || !s.Allowed || len(s.Verdict.Deny) != 0 {
					t.Fatalf("want allow with warnings, got %v %+v", err, s.Verdict)
				}
			} else if !errors.Is(err, admit.ErrDenied) || s.Allowed {
				t.Fatalf("want deny, got %v %+v", err, s.Verdict)
			}
			var named []string
			for _, r := range reasons {
				if r.Code == "REVIEW_ATTESTATION_MISSING" {
					named = append(named, r.Message)
				}
			}
			if len(named) != 2 || !strings.Contains(strings.Join(named, " "), "C-REVIEW-01") || !strings.Contains(strings.Join(named, " "), "C-REVIEW-02") {
				t.Fatalf("the verdict does not name each missing attestation: %+v", s.Verdict)
			}
		})
	}
}

// A sidecar is released exactly like the service's image: its own repository, fresh build,
// signature, the same five attestations, and the manifest that names both is admitted only
// when both are.
func TestSidecarIsReleasedLikeTheService(t *testing.T) {
	f := mustFixture(t)
	side := release.Sidecar{Name: "side", ModuleDir: "app", Package: "./cmd/x", BinaryPath: "/side"}
	pod := []byte(`kind: Pod
metadata: {name: movies}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - {name: movies, image: "${IMAGE}", securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}, resources: {limits: {cpu: 500m, memory: 128Mi}}}
  - {name: side, image: "${SIDE_IMAGE}", securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}, resources: {limits: {cpu: 500m, memory: 128Mi}}}
`)
	o := f.options(t)
	o.Repository = testkit.MustRegistry(t).Host + "/acme/movies"
	o.Sidecars, o.Manifest = []release.Sidecar{side}, mustFile(t, "pod.yaml", pod)
	s, err := release.Run(context.Background(), o)
	if err != nil {
		t.Fatalf("release: %v (deny %v)", err, s)
	}
	if len(s.Sidecars) != 1 || s.Sidecars[0].Digest == s.Digest || !strings.HasPrefix(s.Sidecars[0].Image, o.Repository+"-side@") {
		t.Fatalf("sidecars %+v beside %s", s.Sidecars, s.Image)
	}
	if len(s.Verdict.Images) != 2 {
		t.Fatalf("admission saw %d images: %+v", len(s.Verdict.Images), s.Verdict)
	}
	for _, name := range []string{"side-sbom.spdx.json", "side-sbom.cyclonedx.json", "side-provenance.json", "side-vuln.json", "side-facts.json"} {
		if _, err := os.Stat(filepath.Join(o.OutDir, name)); err != nil {
			t.Errorf("release wrote no %s", name)
		}
	}
	sideSteps := 0
	for _, st := range s.Steps {
		if st.Image == "side" {
			sideSteps++
		}
	}
	if sideSteps != 6 { // build+push, sbom, vuln, sign, attest, verify
		t.Errorf("%d steps of the sidecar in %+v", sideSteps, s.Steps)
	}
	facts, err := verify.Check(context.Background(), s.Sidecars[0].Image, verify.Options{Keys: []*keys.Verifier{f.key.Verifier}})
	testkit.Must(t, err)
	if !facts.ContentVerified || len(facts.Signatures) != 1 || len(facts.Attestations) != 5 {
		t.Fatalf("the sidecar's facts: %+v", facts)
	}
}

// C-PROVENANCE the provenance names the repository the commit comes from (git's remote
// origin), not a constant: a release built from a fork is denied by data that expects this
// repository, and the same commit with this repository's remote is admitted.
func TestProvenanceNamesTheGitRemote(t *testing.T) {
	f := mustFixture(t)
	reg := testkit.MustRegistry(t)
	for _, tc := range []struct{ remote, source, deny string }{
		{"git@github.com:attacker/sms.git", "https://github.com/attacker/sms", "PROVENANCE_SOURCE"},
		{testkit.SourceRepository + ".git", testkit.SourceRepository, ""},
	} {
		out, err := exec.Command("git", "-C", f.repo, "remote", "set-url", "origin", tc.remote).CombinedOutput()
		testkit.Must(t, err)
		o := f.options(t)
		o.Repository, o.NoSelfTrust, o.BuilderID = reg.Host+"/acme/movies", true, testkit.BuilderID
		o.Data = [][]byte{testkit.FixtureData(), testkit.TrustOverlay([]string{reg.Host + "/"}, f.key)}
		s, err := release.Run(context.Background(), o)
		if s == nil {
			t.Fatalf("%s: %v %s", tc.remote, err, out)
		}
		var p predicate.Provenance
		b, rerr := os.ReadFile(filepath.Join(o.OutDir, "provenance.json"))
		testkit.Must(t, rerr)
		testkit.Must(t, json.Unmarshal(b, &p))
		if got := p.BuildDefinition.ExternalParameters.Source.Repository; got != tc.source {
			t.Errorf("%s: provenance names %s, want %s", tc.remote, got, tc.source)
		}
		if codes := denyCodes(s); (tc.deny == "") != (err == nil) || (tc.deny != "" && !slices.Contains(codes, tc.deny)) {
			t.Errorf("%s: %v, deny %v; want %q", tc.remote, err, codes, tc.deny)
		}
	}
}
