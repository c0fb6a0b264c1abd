package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/signature/dsse"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/sign"
	"github.com/secure-movie-service/sms/pipeline/verify"
)

// world is one registry, the release key and another key.
type world struct {
	reg       *testkit.Registry
	key, evil *testkit.Key
	repo      string
}

func mustWorld(t *testing.T) *world {
	t.Helper()
	reg := testkit.MustRegistry(t)
	return &world{reg: reg, key: testkit.MustKey(t), evil: testkit.MustKey(t), repo: reg.Host + "/acme/movies"}
}

// publish pushes a new image, signs it and attests SBOM, provenance and controls with k.
func (w *world) publish(t *testing.T, k *testkit.Key) (name.Digest, v1.Image) {
	t.Helper()
	ctx := context.Background()
	img := testkit.MustImage(t, "65532:65532")
	ref := testkit.MustPush(t, w.repo, img)
	testkit.Must(t, sign.Sign(ctx, ref, k.Signer))
	testkit.Must(t, sign.Attest(ctx, ref, k.Signer, predicate.TypeSPDX, testkit.SPDX()))
	testkit.Must(t, sign.Attest(ctx, ref, k.Signer, predicate.TypeProvenance, testkit.Provenance(testkit.SourceRepository, testkit.Revision)))
	testkit.Must(t, sign.Attest(ctx, ref, k.Signer, predicate.TypeControls, testkit.Controls(testkit.Revision)))
	return ref, img
}

func (w *world) check(ref string) (*verify.Facts, error) {
	return verify.Check(context.Background(), ref, verify.Options{Keys: []*keys.Verifier{w.key.Verifier}})
}

// mustFail checks that verification failed (facts returned, ErrFailed) with a problem
// containing problem.
func mustFail(t *testing.T, f *verify.Facts, err error, problem string) {
	t.Helper()
	if !errors.Is(err, verify.ErrFailed) || f == nil {
		t.Fatalf("got facts %v, error %v; want verification to fail", f != nil, err)
	}
	if problem == "" {
		return
	}
	if !strings.Contains(err.Error(), problem) && !slices.ContainsFunc(f.Problems, func(p string) bool { return strings.Contains(p, problem) }) {
		t.Fatalf("no problem mentions %q: %v / %v", problem, err, f.Problems)
	}
}

func TestCheckVerifiesACompleteImage(t *testing.T) {
	w := mustWorld(t)
	ref, _ := w.publish(t, w.key)
	f, err := w.check(ref.String())
	testkit.Must(t, err)
	if f.Digest != ref.DigestStr() || f.Image != ref.String() || !f.ContentVerified || len(f.Problems) != 0 {
		t.Fatalf("facts %+v", f)
	}
	if !slices.Equal(f.Signers, []string{w.key.Signer.ID}) || len(f.Signatures) != 1 || f.Signatures[0].Digest != ref.DigestStr() {
		t.Fatalf("signatures %+v", f.Signatures)
	}
	want := []string{predicate.TypeSPDX, predicate.TypeProvenance, predicate.TypeControls}
	slices.Sort(want)
	if !slices.Equal(f.PredicateTypes, want) || len(f.Attestations) != 3 {
		t.Fatalf("predicate types %v", f.PredicateTypes)
	}
	for _, a := range f.Attestations {
		if !a.Valid || a.KeyID != w.key.Signer.ID || len(a.Subjects) != 1 || a.Subjects[0].Digest != ref.DigestStr() || a.Summary == nil {
			t.Fatalf("attestation %+v", a)
		}
	}
	if f.Config.User != "65532:65532" || f.Config.OS != "linux" {
		t.Fatalf("config %+v", f.Config)
	}
	// The facts of one digest always serialise the same way.
	g, err := w.check(ref.String())
	testkit.Must(t, err)
	a, _ := json.Marshal(f)
	b, _ := json.Marshal(g)
	if !bytes.Equal(a, b) {
		t.Fatalf("two checks of one digest differ:\n%s\n%s", a, b)
	}
}

// attachSignatures attaches raw signatures (payload, base64 signature) without any checks.
func attachSignatures(t *testing.T, ref name.Digest, sigs ...oci.Signature) {
	t.Helper()
	var se oci.SignedEntity = ociremote.SignedUnknown(ref)
	for _, s := range sigs {
		var err error
		se, err = mutate.AttachSignatureToEntity(se, s)
		testkit.Must(t, err)
	}
	testkit.Must(t, ociremote.WriteSignatures(ref.Repository, se))
}

// attachEnvelope attaches a DSSE envelope as an attestation with the given annotation.
func attachEnvelope(t *testing.T, ref name.Digest, env []byte, annotatedType string) {
	t.Helper()
	att, err := static.NewAttestation(env, static.WithLayerMediaType(types.DssePayloadType),
		static.WithAnnotations(map[string]string{"predicateType": annotatedType}))
	testkit.Must(t, err)
	se, err := mutate.AttachAttestationToEntity(ociremote.SignedUnknown(ref), att)
	testkit.Must(t, err)
	testkit.Must(t, ociremote.WriteAttestations(ref.Repository, se))
}

func mustEnvelope(t *testing.T, k *testkit.Key, st *sign.Statement) []byte {
	t.Helper()
	body, err := json.Marshal(st)
	testkit.Must(t, err)
	env, err := dsse.WrapSigner(k.Signer, types.IntotoPayloadType).SignMessage(bytes.NewReader(body))
	testkit.Must(t, err)
	return env
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

// rawManifest is a manifest pushed as it is.
type rawManifest struct {
	b  []byte
	mt ggcrtypes.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)            { return r.b, nil }
func (r rawManifest) MediaType() (ggcrtypes.MediaType, error) { return r.mt, nil }

// TestCheckRefuses: each way an image can fail to be what its signatures say is reported,
// by a problem and verify.ErrFailed, or by an error when no facts can be had at all.
func TestCheckRefuses(t *testing.T) {
	w := mustWorld(t)
	ctx := context.Background()

	t.Run("a tag instead of a digest", func(t *testing.T) {
		w.publish(t, w.key)
		if _, err := w.check(w.repo + ":latest"); !errors.Is(err, ociutil.ErrNotDigest) {
			t.Fatalf("got %v, want ErrNotDigest", err)
		}
	})
	t.Run("no key", func(t *testing.T) {
		ref, _ := w.publish(t, w.key)
		if _, err := verify.Check(ctx, ref.String(), verify.Options{}); err == nil {
			t.Fatal("checked without a key")
		}
	})
	t.Run("a signature by another key", func(t *testing.T) {
		ref, _ := w.publish(t, w.evil)
		f, err := w.check(ref.String())
		mustFail(t, f, err, "no signature over "+ref.DigestStr()+" verifies")
		mustFail(t, f, err, "signature 0: verified by none of the given keys")
		if len(f.Signatures) != 0 || len(f.Attestations) != 0 {
			t.Fatalf("unverified material became facts: %+v %+v", f.Signatures, f.Attestations)
		}
	})
	t.Run("a signature for another digest", func(t *testing.T) {
		a, _ := w.publish(t, w.key)
		b := testkit.MustPush(t, w.repo, testkit.MustImage(t, "65532:65532"))
		copyArtifact(t, a, b, "sig")
		f, err := w.check(b.String())
		mustFail(t, f, err, "no signature over "+b.DigestStr()+" verifies")
		if len(f.Signatures) != 1 || f.Signatures[0].Digest != a.DigestStr() {
			t.Fatalf("the copied signature should be reported with the digest it names: %+v", f.Signatures)
		}
	})
	t.Run("an attestation whose subject is another digest", func(t *testing.T) {
		ref, _ := w.publish(t, w.key)
		other := testkit.MustPush(t, w.reg.Host+"/acme/other", testkit.MustImage(t, "65532:65532"))
		st, err := sign.NewStatement(other, predicate.TypeSPDX, testkit.SPDX())
		testkit.Must(t, err)
		testkit.Must(t, sign.AttestStatement(ctx, ref, w.key.Signer, st))
		f, err := w.check(ref.String())
		mustFail(t, f, err, "attestation "+predicate.TypeSPDX+": subject is not "+ref.DigestStr())
	})
	t.Run("attestations copied from another image", func(t *testing.T) {
		a, _ := w.publish(t, w.key)
		b := testkit.MustPush(t, w.repo, testkit.MustImage(t, "65532:65532"))
		testkit.Must(t, sign.Sign(ctx, b, w.key.Signer))
		copyArtifact(t, a, b, "att")
		f, err := w.check(b.String())
		mustFail(t, f, err, "subject is not "+b.DigestStr())
	})
	t.Run("a predicate that is not of its type", func(t *testing.T) {
		ref, _ := w.publish(t, w.key)
		// An SPDX document attested as provenance: kept, marked invalid, and a problem.
		testkit.Must(t, sign.Attest(ctx, ref, w.key.Signer, predicate.TypeProvenance, testkit.SPDX()))
		f, err := w.check(ref.String())
		mustFail(t, f, err, "attestation "+predicate.TypeProvenance+": provenance: ")
		invalid := slices.IndexFunc(f.Attestations, func(a verify.Attestation) bool { return !a.Valid })
		if invalid < 0 || f.Attestations[invalid].PredicateType != predicate.TypeProvenance || f.Attestations[invalid].Summary != nil {
			t.Fatalf("attestations %+v", f.Attestations)
		}
	})
	t.Run("an annotation that claims another predicate type", func(t *testing.T) {
		ref := testkit.MustPush(t, w.repo, testkit.MustImage(t, "65532:65532"))
		testkit.Must(t, sign.Sign(ctx, ref, w.key.Signer))
		st, err := sign.NewStatement(ref, predicate.TypeCycloneDX, testkit.CycloneDX())
		testkit.Must(t, err)
		attachEnvelope(t, ref, mustEnvelope(t, w.key, st), predicate.TypeSPDX)
		f, err := w.check(ref.String())
		testkit.Must(t, err)
		// Only the signed statement counts: the facts name CycloneDX, never SPDX.
		if !slices.Equal(f.PredicateTypes, []string{predicate.TypeCycloneDX}) {
			t.Fatalf("predicate types %v, want only the signed one", f.PredicateTypes)
		}
	})
	t.Run("an oversized signature payload", func(t *testing.T) {
		ref, _ := w.publish(t, w.key)
		big := bytes.Repeat([]byte(" "), verify.MaxSignaturePayload+1)
		sig, err := static.NewSignature(big, "c2ln")
		testkit.Must(t, err)
		attachSignatures(t, ref, sig)
		f, err := w.check(ref.String())
		mustFail(t, f, err, fmt.Sprintf("layer of %d bytes is larger than %d (not downloaded)", len(big), verify.MaxSignaturePayload))
	})
	t.Run("an oversized attestation", func(t *testing.T) {
		ref, _ := w.publish(t, w.key)
		// The attestation manifest now declares a layer larger than the limit: it is refused
		// before anything is downloaded.
		tag, err := name.NewTag(ref.Repository.Name() + ":" + strings.Replace(ref.DigestStr(), ":", "-", 1) + ".att")
		testkit.Must(t, err)
		desc, err := remote.Get(tag)
		testkit.Must(t, err)
		var m map[string]any
		testkit.Must(t, json.Unmarshal(desc.Manifest, &m))
		layers, _ := m["layers"].([]any)
		if len(layers) == 0 {
			t.Fatalf("attestation manifest %s", desc.Manifest)
		}
		layers[0].(map[string]any)["size"] = verify.MaxEnvelope + 1
		b, err := json.Marshal(m)
		testkit.Must(t, err)
		testkit.Must(t, remote.Put(tag, rawManifest{b: b, mt: desc.MediaType}))
		f, err := w.check(ref.String())
		mustFail(t, f, err, fmt.Sprintf("layer of %d bytes is larger than %d (not downloaded)", verify.MaxEnvelope+1, verify.MaxEnvelope))
	})
	t.Run("too many signatures", func(t *testing.T) {
		ref, _ := w.publish(t, w.key)
		var sigs []oci.Signature
		for i := 0; i < 64; i++ {
			s, err := static.NewSignature([]byte(fmt.Sprintf(`{"n":%d}`, i)), "c2ln")
			testkit.Must(t, err)
			sigs = append(sigs, s)
		}
		attachSignatures(t, ref, sigs...)
		if _, err := w.check(ref.String()); err == nil || !strings.Contains(err.Error(), "65 signatures attached (limit 64)") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a layer changed in the registry", func(t *testing.T) {
		ref, img := w.publish(t, w.key)
		layers, err := img.Layers()
		testkit.Must(t, err)
		h, err := layers[1].Digest()
		testkit.Must(t, err)
		w.reg.Tamper(h)
		f, err := w.check(ref.String())
		mustFail(t, f, err, "image content does not match its digests")
		if f.ContentVerified {
			t.Fatal("content verified")
		}
	})
	t.Run("an index instead of an image", func(t *testing.T) {
		idx, err := random.Index(64, 1, 2)
		testkit.Must(t, err)
		h, err := idx.Digest()
		testkit.Must(t, err)
		d, err := name.NewDigest(w.repo + "@" + h.String())
		testkit.Must(t, err)
		testkit.Must(t, remote.WriteIndex(d, idx))
		if _, err := w.check(d.String()); err == nil || !strings.Contains(err.Error(), "not an image manifest") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("an oversized configuration", func(t *testing.T) {
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":%d,"digest":"sha256:%s"},"layers":[]}`,
			verify.MaxConfig+1, strings.Repeat("0", 64))
		raw := rawManifest{b: []byte(m), mt: ggcrtypes.OCIManifestSchema1}
		h, _, err := v1.SHA256(bytes.NewReader(raw.b))
		testkit.Must(t, err)
		d, err := name.NewDigest(w.repo + "@" + h.String())
		testkit.Must(t, err)
		if err := remote.Put(d, raw); err != nil {
			t.Skipf("the registry refused the manifest: %v", err)
		}
		if _, err := w.check(d.String()); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestCheckWithAnEarlierContentCheck: a content check started before the attestations were
// written counts as Check's own, for that reference only, and a failed one is a problem.
func TestCheckWithAnEarlierContentCheck(t *testing.T) {
	w := mustWorld(t)
	ctx := context.Background()
	ref, img := w.publish(t, w.key)
	ks := []*keys.Verifier{w.key.Verifier}

	f, err := verify.Check(ctx, ref.String(), verify.Options{Keys: ks, Content: verify.StartContent(ctx, ref.String())})
	testkit.Must(t, err)
	if !f.ContentVerified {
		t.Fatal("content not verified")
	}
	other, _ := w.publish(t, w.key)
	if _, err := verify.Check(ctx, ref.String(), verify.Options{Keys: ks, Content: verify.StartContent(ctx, other.String())}); err == nil ||
		!strings.Contains(err.Error(), "the content check given is of") {
		t.Fatalf("another image's content check was accepted: %v", err)
	}
	layers, err := img.Layers()
	testkit.Must(t, err)
	h, err := layers[0].Digest()
	testkit.Must(t, err)
	w.reg.Tamper(h)
	f, err = verify.Check(ctx, ref.String(), verify.Options{Keys: ks, Content: verify.StartContent(ctx, ref.String())})
	mustFail(t, f, err, "image content does not match its digests")
	if f.ContentVerified {
		t.Fatal("tampered content verified")
	}
}

// An image that no given key signed costs no layer download (issue: admit fetched before it
// judged): the registry serves a tampered layer, and a check that downloaded it would report
// the mismatch; the layers are only fetched once a signature binds the digest.
func TestCheckDownloadsNoLayerOfAnUnsignedImage(t *testing.T) {
	reg := testkit.MustRegistry(t)
	k, other := testkit.MustKey(t), testkit.MustKey(t)
	img := testkit.MustImage(t, "65532")
	ref := testkit.MustPush(t, reg.Host+"/acme/unsigned", img)
	testkit.Must(t, sign.Sign(context.Background(), ref, other.Signer)) // a key the check is not given
	layers, err := img.Layers()
	testkit.Must(t, err)
	h, err := layers[0].Digest()
	testkit.Must(t, err)
	reg.Tamper(h)
	f, err := verify.Check(context.Background(), ref.String(), verify.Options{Keys: []*keys.Verifier{k.Verifier}})
	if !errors.Is(err, verify.ErrFailed) || f == nil {
		t.Fatalf("got %v, %v; want ErrFailed with facts", f, err)
	}
	for _, p := range f.Problems {
		if strings.Contains(p, "content") {
			t.Fatalf("the layers of an image no given key signed were downloaded: %s", p)
		}
	}
	if f.ContentVerified {
		t.Fatal("content verified without a download")
	}
}
