package admit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/secure-movie-service/sms/pipeline/admit"
	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/sign"
	devdata "github.com/secure-movie-service/sms/policy/dev"
)

// world is one registry, the trusted release key and an attacker's key.
type world struct {
	reg     *testkit.Registry
	trusted *testkit.Key
	evil    *testkit.Key
	repo    string
}

func mustWorld(t *testing.T) *world {
	t.Helper()
	reg := testkit.MustRegistry(t)
	return &world{reg: reg, trusted: testkit.MustKey(t), evil: testkit.MustKey(t), repo: reg.Host + "/acme/movies"}
}

// release gives an image everything admission asks for, signed by k.
type release struct {
	skipSign, skipSBOM, skipProvenance, skipControls, skipVuln bool
	sbom                                                       []byte
	provenance                                                 []byte
	controls                                                   []byte
	vuln                                                       []byte
}

func (w *world) publish(t *testing.T, repo string, img v1.Image, k *testkit.Key, r release) name.Digest {
	t.Helper()
	ctx := context.Background()
	ref := testkit.MustPush(t, repo, img)
	if !r.skipSign {
		testkit.Must(t, sign.Sign(ctx, ref, k.Signer))
	}
	if !r.skipSBOM {
		if r.sbom == nil {
			r.sbom = testkit.SPDX()
		}
		testkit.Must(t, sign.Attest(ctx, ref, k.Signer, predicate.TypeSPDX, r.sbom))
	}
	if !r.skipProvenance {
		if r.provenance == nil {
			r.provenance = testkit.Provenance(testkit.SourceRepository, testkit.Revision)
		}
		testkit.Must(t, sign.Attest(ctx, ref, k.Signer, predicate.TypeProvenance, r.provenance))
	}
	if !r.skipControls {
		if r.controls == nil {
			r.controls = testkit.Controls(testkit.Revision)
		}
		testkit.Must(t, sign.Attest(ctx, ref, k.Signer, predicate.TypeControls, r.controls))
	}
	if !r.skipVuln {
		if r.vuln == nil {
			r.vuln = testkit.Vuln(testkit.VulnDBDate)
		}
		testkit.Must(t, sign.Attest(ctx, ref, k.Signer, predicate.TypeVuln, r.vuln))
	}
	return ref
}

// admitImages runs admission with both keys available for verification; only the trusted
// one is trusted by policy data.
func (w *world) admit(t *testing.T, o admit.Options) *admit.Verdict {
	t.Helper()
	o.Keys = []*keys.Verifier{w.trusted.Verifier, w.evil.Verifier}
	o.Data = append([][]byte{testkit.TrustOverlay([]string{w.reg.Host + "/acme/"}, w.trusted)}, o.Data...)
	if o.Now == nil {
		o.Now = func() time.Time { return testkit.VulnNow }
	}
	v, err := admit.Run(context.Background(), o)
	if err != nil && !errors.Is(err, admit.ErrDenied) {
		t.Fatalf("admit: %v", err)
	}
	if (err == nil) != v.Allow {
		t.Fatalf("admit returned %v with allow=%v", err, v.Allow)
	}
	return v
}

func codes(v *admit.Verdict) []string {
	var c []string
	for _, d := range v.Deny {
		c = append(c, d.Code)
	}
	return c
}

// mustDeny checks the verdict denies with code among its reasons.
func mustDeny(t *testing.T, v *admit.Verdict, code string) {
	t.Helper()
	if v.Allow {
		t.Fatalf("allowed; want deny %s", code)
	}
	if !slices.Contains(codes(v), code) {
		t.Fatalf("deny codes %v do not include %s", codes(v), code)
	}
}

func TestSupplyChainGoodReleaseIsAdmitted(t *testing.T) {
	w := mustWorld(t)
	ref := w.publish(t, w.repo, testkit.MustImage(t, "65532:65532"), w.trusted, release{})
	v := w.admit(t, admit.Options{Images: []string{ref.String()}})
	if !v.Allow {
		t.Fatalf("a complete release is denied: %+v", v.Deny)
	}
	f := v.Facts[ref.String()]
	if f == nil || !f.ContentVerified || len(f.Signatures) != 1 || len(f.Attestations) != 4 {
		t.Fatalf("facts: %+v", f)
	}
}

func TestSupplyChainAttackUnsignedImage(t *testing.T) {
	w := mustWorld(t)
	ref := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, release{skipSign: true})
	mustDeny(t, w.admit(t, admit.Options{Images: []string{ref.String()}}), "SIGNATURE_MISSING")
}

func TestSupplyChainAttackSignedByAnotherKey(t *testing.T) {
	w := mustWorld(t)
	// Everything is present and verifies — under the attacker's key, which policy does not trust.
	ref := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.evil, release{})
	v := w.admit(t, admit.Options{Images: []string{ref.String()}})
	mustDeny(t, v, "SIGNATURE_MISSING")
	if got := v.Facts[ref.String()].Signers; len(got) != 1 || got[0] != w.evil.Signer.ID {
		t.Fatalf("the attacker's signature should verify as a fact, signers %v", got)
	}
}

// copyArtifact copies the cosign signature or attestation manifest of one digest onto another.
func copyArtifact(t *testing.T, from, to name.Digest, suffix string) {
	t.Helper()
	tag := func(d name.Digest) name.Tag {
		tg, err := name.NewTag(d.Repository.Name() + ":" + strings.Replace(d.DigestStr(), ":", "-", 1) + "." + suffix)
		testkit.Must(t, err)
		return tg
	}
	img, err := remote.Image(tag(from))
	testkit.Must(t, err)
	testkit.Must(t, remote.Write(tag(to), img))
}

func TestSupplyChainAttackSignatureCopiedToAnotherImage(t *testing.T) {
	w := mustWorld(t)
	a := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, release{})
	// Image B has every attestation but no signature of its own; A's is copied onto it.
	b := w.publish(t, w.reg.Host+"/acme/other", testkit.MustImage(t, "65532"), w.trusted, release{skipSign: true})
	copyArtifact(t, a, b, "sig")
	v := w.admit(t, admit.Options{Images: []string{b.String()}})
	mustDeny(t, v, "SIGNATURE_MISSING")
	sigs := v.Facts[b.String()].Signatures
	if len(sigs) != 1 || sigs[0].Digest != a.DigestStr() {
		t.Fatalf("the copied signature should verify and name A's digest: %+v", sigs)
	}
}

func TestSupplyChainAttackLayerChangedAfterSigning(t *testing.T) {
	w := mustWorld(t)
	img := testkit.MustImage(t, "65532")
	signed := w.publish(t, w.repo, img, w.trusted, release{})
	// The attacker swaps a layer and carries the signature and attestations over.
	extra, err := random.Layer(256, "application/vnd.oci.image.layer.v1.tar+gzip")
	testkit.Must(t, err)
	changed, err := mutate.AppendLayers(img, extra)
	testkit.Must(t, err)
	b := testkit.MustPush(t, w.repo, changed)
	copyArtifact(t, signed, b, "sig")
	copyArtifact(t, signed, b, "att")
	v := w.admit(t, admit.Options{Images: []string{b.String()}})
	for _, c := range []string{"SIGNATURE_MISSING", "SBOM_MISSING", "PROVENANCE_MISSING", "CONTROLS_MISSING"} {
		mustDeny(t, v, c)
	}
}

func TestSupplyChainAttackLayerTamperedInRegistry(t *testing.T) {
	w := mustWorld(t)
	img := testkit.MustImage(t, "65532")
	ref := w.publish(t, w.repo, img, w.trusted, release{})
	layers, err := img.Layers()
	testkit.Must(t, err)
	h, err := layers[0].Digest()
	testkit.Must(t, err)
	// Same manifest, same signature: the registry now serves other bytes for a layer.
	w.reg.Tamper(h)
	mustDeny(t, w.admit(t, admit.Options{Images: []string{ref.String()}}), "CONTENT_UNVERIFIED")
}

func TestSupplyChainAttackTagInsteadOfDigest(t *testing.T) {
	w := mustWorld(t)
	w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, release{})
	mustDeny(t, w.admit(t, admit.Options{Images: []string{w.repo + ":latest"}}), "IMAGE_NOT_DIGEST")
}

func TestSupplyChainAttackSBOM(t *testing.T) {
	w := mustWorld(t)
	other := testkit.MustPush(t, w.reg.Host+"/acme/other", testkit.MustImage(t, "65532"))
	tests := []struct {
		name string
		code string
		make func(t *testing.T) name.Digest
	}{
		{"missing", "SBOM_MISSING", func(t *testing.T) name.Digest {
			return w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, release{skipSBOM: true})
		}},
		{"for another digest", "SBOM_MISSING", func(t *testing.T) name.Digest {
			ref := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, release{skipSBOM: true})
			st, err := sign.NewStatement(other, predicate.TypeSPDX, testkit.SPDX())
			testkit.Must(t, err)
			testkit.Must(t, sign.AttestStatement(context.Background(), ref, w.trusted.Signer, st))
			return ref
		}},
		{"signed by an untrusted key", "SBOM_MISSING", func(t *testing.T) name.Digest {
			ref := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, release{skipSBOM: true})
			testkit.Must(t, sign.Attest(context.Background(), ref, w.evil.Signer, predicate.TypeSPDX, testkit.SPDX()))
			return ref
		}},
		{"malformed", "SBOM_INVALID", func(t *testing.T) name.Digest {
			return w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, release{sbom: []byte(`{"spdxVersion":"SPDX-2.3","packages":"none"}`)})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := tc.make(t)
			mustDeny(t, w.admit(t, admit.Options{Images: []string{ref.String()}}), tc.code)
		})
	}
}

func TestSupplyChainAttackProvenance(t *testing.T) {
	w := mustWorld(t)
	other := testkit.MustPush(t, w.reg.Host+"/acme/other", testkit.MustImage(t, "65532"))
	t.Run("for another digest", func(t *testing.T) {
		ref := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, release{skipProvenance: true})
		st, err := sign.NewStatement(other, predicate.TypeProvenance, testkit.Provenance(testkit.SourceRepository, testkit.Revision))
		testkit.Must(t, err)
		testkit.Must(t, sign.AttestStatement(context.Background(), ref, w.trusted.Signer, st))
		mustDeny(t, w.admit(t, admit.Options{Images: []string{ref.String()}}), "PROVENANCE_MISSING")
	})
	t.Run("for another source", func(t *testing.T) {
		ref := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted,
			release{provenance: testkit.Provenance("https://github.com/secure-movie-service/sms-fork", testkit.Revision)})
		mustDeny(t, w.admit(t, admit.Options{Images: []string{ref.String()}}), "PROVENANCE_SOURCE")
	})
}

func TestSupplyChainAttackControls(t *testing.T) {
	w := mustWorld(t)
	tests := []struct {
		name string
		r    release
		code string
	}{
		{"missing", release{skipControls: true}, "CONTROLS_MISSING"},
		{"a control failed", release{controls: testkit.Controls(testkit.Revision, "C-AUTHZ-01")}, "CONTROLS_FAILED"},
		{"another revision", release{controls: testkit.Controls(strings.Repeat("f", 40))}, "CONTROLS_REVISION"},
		{"C-CONTROLS-ATTESTED one invented control that passed", release{controls: controlsPredicate(t, false, "C-INVENTED")}, "CONTROLS_INCOMPLETE"},
		{"C-CONTROLS-ATTESTED results from a dirty tree", release{controls: controlsPredicate(t, true, testkit.ControlIDs...)}, "CONTROLS_DIRTY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, tc.r)
			mustDeny(t, w.admit(t, admit.Options{Images: []string{ref.String()}}), tc.code)
		})
	}
}

// controlsPredicate is a passing control-results predicate over ids.
func controlsPredicate(t *testing.T, dirty bool, ids ...string) []byte {
	t.Helper()
	c := predicate.Controls{Revision: testkit.Revision, ModelDigest: "sha256:" + strings.Repeat("cd", 32), Dirty: &dirty,
		Passed: true, Controls: map[string]predicate.ControlResult{}}
	for _, id := range ids {
		c.Controls[id] = predicate.ControlResult{Status: "pass", Evidence: []predicate.Evidence{{ID: "go:example.TestX", Status: "pass"}}}
	}
	b, err := json.Marshal(c)
	testkit.Must(t, err)
	return b
}

func TestSupplyChainAttackVulnerabilities(t *testing.T) {
	w := mustWorld(t)
	stale := func() time.Time { return testkit.VulnDBDate.AddDate(0, 0, 31) }
	tests := []struct {
		name string
		r    release
		now  func() time.Time
		data [][]byte
		code string
	}{
		{"C-IMAGE-SCAN no scan", release{skipVuln: true}, nil, nil, "VULN_SCAN_MISSING"},
		{"C-IMAGE-SCAN a called vulnerability", release{vuln: testkit.Vuln(testkit.VulnDBDate, "GO-2026-4242")}, nil, nil, "VULN_FOUND"},
		{"C-IMAGE-SCAN a scan by another key", release{skipVuln: true}, nil, nil, "VULN_SCAN_MISSING"},
		{"C-IMAGE-SCAN a database older than 30 days", release{}, stale, nil, "VULN_DB_STALE"},
		{"C-ADMISSION-LEVELS a stale database in development still denies a called vulnerability",
			release{vuln: testkit.Vuln(testkit.VulnDBDate, "GO-2026-4242")}, stale, [][]byte{devdata.SupplyChain}, "VULN_FOUND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, tc.r)
			if strings.Contains(tc.name, "another key") {
				testkit.Must(t, sign.Attest(context.Background(), ref, w.evil.Signer, predicate.TypeVuln, testkit.Vuln(testkit.VulnDBDate)))
			}
			mustDeny(t, w.admit(t, admit.Options{Images: []string{ref.String()}, Now: tc.now, Data: tc.data}), tc.code)
		})
	}
	t.Run("C-ADMISSION-LEVELS a stale database warns in development", func(t *testing.T) {
		ref := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, release{})
		v := w.admit(t, admit.Options{Images: []string{ref.String()}, Now: stale, Data: [][]byte{devdata.SupplyChain}})
		if !v.Allow || len(v.Warn) != 1 || v.Warn[0].Code != "VULN_DB_STALE" {
			t.Fatalf("want allow with one VULN_DB_STALE warning, got allow=%v deny=%v warn=%v", v.Allow, codes(v), v.Warn)
		}
	})
}

func TestSupplyChainAttackRootUser(t *testing.T) {
	w := mustWorld(t)
	for _, user := range []string{"", "root", "0", "0:0", "0:65532", "nobody", "65532:root"} {
		t.Run(fmt.Sprintf("user %q", user), func(t *testing.T) {
			ref := w.publish(t, w.repo, testkit.MustImage(t, user), w.trusted, release{})
			mustDeny(t, w.admit(t, admit.Options{Images: []string{ref.String()}}), "IMAGE_USER_ROOT")
		})
	}
}

func TestSupplyChainAttackLookalikeRegistry(t *testing.T) {
	w := mustWorld(t)
	// Signed, attested, complete — but in acme-evil/, which only looks like the allowed acme/.
	ref := w.publish(t, w.reg.Host+"/acme-evil/movies", testkit.MustImage(t, "65532"), w.trusted, release{})
	before := w.reg.Requests()
	v := w.admit(t, admit.Options{Images: []string{ref.String()}})
	mustDeny(t, v, "REGISTRY_NOT_ALLOWED")
	// Judged before fetched: the registry that is not allowed was never asked anything.
	if n := w.reg.Requests() - before; n != 0 || !strings.Contains(v.Errors[ref.String()], "not fetched") {
		t.Fatalf("admission sent %d requests to a registry that is not allowed (%q)", n, v.Errors[ref.String()])
	}
}

const goodPod = `apiVersion: v1
kind: Pod
metadata: {name: movies}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: movies
    image: IMAGE
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
    resources:
      limits: {cpu: 500m, memory: 128Mi}
`

func TestSupplyChainAttackPrivilegedPod(t *testing.T) {
	w := mustWorld(t)
	ref := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, release{})
	good := strings.ReplaceAll(goodPod, "IMAGE", ref.String())
	if v := w.admit(t, admit.Options{Manifest: []byte(good)}); !v.Allow {
		t.Fatalf("the hardened pod is denied: %+v", v.Deny)
	}
	bad := strings.Replace(good, "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: false\n      privileged: true", 1)
	mustDeny(t, w.admit(t, admit.Options{Manifest: []byte(bad)}), "PRIVILEGED")
}

func TestSupplyChainAttackEmptyOrPartialInput(t *testing.T) {
	w := mustWorld(t)
	tests := []struct {
		name string
		o    admit.Options
		code string
	}{
		{"nothing", admit.Options{}, "INPUT_INVALID"},
		{"pod without containers", admit.Options{Manifest: []byte("kind: Pod\nmetadata: {name: x}\nspec: {}\n")}, "INPUT_INVALID"},
		{"deployment without template", admit.Options{Manifest: []byte("kind: Deployment\nmetadata: {name: x}\nspec: {replicas: 1}\n")}, "INPUT_INVALID"},
		{"container without image", admit.Options{Manifest: []byte("kind: Pod\nmetadata: {name: x}\nspec:\n  containers: [{name: a}]\n")}, "INPUT_INVALID"},
		{"unsupported kind", admit.Options{Manifest: []byte("kind: Service\nmetadata: {name: x}\n")}, "KIND_UNSUPPORTED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustDeny(t, w.admit(t, tc.o), tc.code)
		})
	}
}

func TestSupplyChainFactsFromTheCallerAreIgnored(t *testing.T) {
	w := mustWorld(t)
	ref := testkit.MustPush(t, w.repo, testkit.MustImage(t, "65532"))
	// An AdmissionReview that carries its own "facts" claiming a trusted signature.
	review := fmt.Sprintf(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",
"facts":{%[1]q:{"digest":%[2]q,"content_verified":true,"signatures":[{"key_id":%[3]q,"digest":%[2]q}]}},
"request":{"uid":"1","object":{"kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","image":%[1]q}]}}}}`,
		ref.String(), ref.DigestStr(), w.trusted.Signer.ID)
	mustDeny(t, w.admit(t, admit.Options{Manifest: []byte(review)}), "SIGNATURE_MISSING")
}
