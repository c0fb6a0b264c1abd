package sign_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	sigpayload "github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/sign"
)

func signatures(t *testing.T, ref name.Digest) []oci.Signature {
	t.Helper()
	se, err := ociremote.SignedImage(ref)
	testkit.Must(t, err)
	sigs, err := se.Signatures()
	testkit.Must(t, err)
	list, err := sigs.Get()
	testkit.Must(t, err)
	return list
}

func attestations(t *testing.T, ref name.Digest) []oci.Signature {
	t.Helper()
	se, err := ociremote.SignedImage(ref)
	testkit.Must(t, err)
	atts, err := se.Attestations()
	testkit.Must(t, err)
	list, err := atts.Get()
	testkit.Must(t, err)
	return list
}

func TestSignBindsTheSignatureToTheDigest(t *testing.T) {
	reg := testkit.MustRegistry(t)
	k, other := testkit.MustKey(t), testkit.MustKey(t)
	ref := testkit.MustPush(t, reg.Host+"/acme/movies", testkit.MustImage(t, "65532"))
	ctx := context.Background()
	testkit.Must(t, sign.Sign(ctx, ref, k.Signer))
	testkit.Must(t, sign.Sign(ctx, ref, k.Signer)) // the same key again adds nothing

	list := signatures(t, ref)
	if len(list) != 1 {
		t.Fatalf("%d signatures after signing twice with one key, want 1", len(list))
	}
	payload, err := list[0].Payload()
	testkit.Must(t, err)
	var sc sigpayload.SimpleContainerImage
	testkit.Must(t, json.Unmarshal(payload, &sc))
	if sc.Critical.Image.DockerManifestDigest != ref.DigestStr() || sc.Critical.Identity.DockerReference != ref.Repository.Name() ||
		sc.Critical.Type != sigpayload.CosignSignatureType {
		t.Fatalf("payload %s does not name %s", payload, ref)
	}
	b64, err := list[0].Base64Signature()
	testkit.Must(t, err)
	raw, err := base64.StdEncoding.DecodeString(b64)
	testkit.Must(t, err)
	if err := k.Verifier.VerifySignature(bytes.NewReader(raw), bytes.NewReader(payload)); err != nil {
		t.Fatalf("the signature does not verify with the signing key: %v", err)
	}
	if err := other.Verifier.VerifySignature(bytes.NewReader(raw), bytes.NewReader(payload)); err == nil {
		t.Fatal("the signature verifies with another key")
	}

	testkit.Must(t, sign.Sign(ctx, ref, other.Signer))
	if n := len(signatures(t, ref)); n != 2 {
		t.Fatalf("%d signatures after a second key signed, want 2", n)
	}
	// Another image of the same repository has no signature from this.
	b := testkit.MustPush(t, reg.Host+"/acme/movies", testkit.MustImage(t, "65532"))
	if n := len(signatures(t, b)); n != 0 {
		t.Fatalf("image B has %d signatures", n)
	}
}

func TestAttestBindsTheStatementToTheDigest(t *testing.T) {
	reg := testkit.MustRegistry(t)
	k := testkit.MustKey(t)
	ref := testkit.MustPush(t, reg.Host+"/acme/movies", testkit.MustImage(t, "65532"))
	ctx := context.Background()
	pred := testkit.Provenance(testkit.SourceRepository, testkit.Revision)
	testkit.Must(t, sign.Attest(ctx, ref, k.Signer, predicate.TypeProvenance, pred))
	testkit.Must(t, sign.Attest(ctx, ref, k.Signer, predicate.TypeSPDX, testkit.SPDX()))

	list := attestations(t, ref)
	if len(list) != 2 {
		t.Fatalf("%d attestations, want 2", len(list))
	}
	seen := map[string]bool{}
	for _, a := range list {
		ann, err := a.Annotations()
		testkit.Must(t, err)
		env, err := a.Payload()
		testkit.Must(t, err)
		var body []byte
		if err := dsse.WrapVerifier(k.Verifier, dsse.WithDecodedPayload(&body)).VerifySignature(bytes.NewReader(env), nil); err != nil {
			t.Fatalf("the envelope does not verify: %v", err)
		}
		var st sign.Statement
		testkit.Must(t, json.Unmarshal(body, &st))
		if st.Type != predicate.StatementType || len(st.Subject) != 1 || st.Subject[0].Name != ref.Repository.Name() ||
			"sha256:"+st.Subject[0].Digest["sha256"] != ref.DigestStr() {
			t.Fatalf("statement %s is not about %s", body, ref)
		}
		if ann["predicateType"] != st.PredicateType {
			t.Fatalf("annotation %q, statement %q", ann["predicateType"], st.PredicateType)
		}
		seen[st.PredicateType] = true
		if _, err := predicate.Summarize(st.PredicateType, st.Predicate); err != nil {
			t.Fatalf("the attested predicate no longer validates: %v", err)
		}
		mt, err := a.MediaType()
		testkit.Must(t, err)
		if mt != types.DssePayloadType {
			t.Fatalf("media type %s", mt)
		}
	}
	if !seen[predicate.TypeProvenance] || !seen[predicate.TypeSPDX] {
		t.Fatalf("predicate types %v", seen)
	}
}

func TestAttestAllWritesEveryPredicateInOrder(t *testing.T) {
	reg := testkit.MustRegistry(t)
	k := testkit.MustKey(t)
	ref := testkit.MustPush(t, reg.Host+"/acme/movies", testkit.MustImage(t, "65532"))
	ctx := context.Background()
	testkit.Must(t, sign.Attest(ctx, ref, k.Signer, predicate.TypeControls, testkit.Controls(testkit.Revision)))
	preds := []sign.Predicate{
		{Type: predicate.TypeProvenance, Body: testkit.Provenance(testkit.SourceRepository, testkit.Revision)},
		{Type: predicate.TypeSPDX, Body: testkit.SPDX()},
		{Type: predicate.TypeCycloneDX, Body: testkit.CycloneDX()},
	}
	testkit.Must(t, sign.AttestAll(ctx, ref, k.Signer, preds))
	var order []string
	for _, a := range attestations(t, ref) {
		ann, err := a.Annotations()
		testkit.Must(t, err)
		order = append(order, ann["predicateType"])
	}
	want := []string{predicate.TypeControls, predicate.TypeProvenance, predicate.TypeSPDX, predicate.TypeCycloneDX}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Fatalf("attestations %v, want %v (earlier ones kept, new ones in order)", order, want)
	}
	// One bad predicate: none of the batch is attached.
	bad := append(preds[:1:1], sign.Predicate{Type: predicate.TypeSPDX, Body: []byte("not json")})
	if err := sign.AttestAll(ctx, ref, k.Signer, bad); err == nil {
		t.Fatal("a batch with a malformed predicate was attested")
	}
	if n := len(attestations(t, ref)); n != len(want) {
		t.Fatalf("%d attestations after a refused batch, want %d", n, len(want))
	}
}

// TestSignRefuses: what sign will not do.
func TestSignRefuses(t *testing.T) {
	reg := testkit.MustRegistry(t)
	k := testkit.MustKey(t)
	ref := testkit.MustPush(t, reg.Host+"/acme/movies", testkit.MustImage(t, "65532"))
	ctx := context.Background()
	t.Run("a predicate that is not JSON", func(t *testing.T) {
		for _, p := range []string{"", "not json", `{"a":1`, `{"a":1}{"b":2}`} {
			if err := sign.Attest(ctx, ref, k.Signer, predicate.TypeSPDX, []byte(p)); err == nil {
				t.Fatalf("attested %q", p)
			}
			if _, err := sign.NewStatement(ref, predicate.TypeSPDX, []byte(p)); err == nil {
				t.Fatalf("a statement of %q", p)
			}
		}
		if n := len(attestations(t, ref)); n != 0 {
			t.Fatalf("%d attestations were attached", n)
		}
	})
	t.Run("a registry that is not there", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		testkit.Must(t, err)
		host := ln.Addr().String()
		testkit.Must(t, ln.Close()) // nothing listens there any more
		d, err := name.NewDigest(host + "/acme/movies@" + ref.DigestStr())
		testkit.Must(t, err)
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := sign.Sign(cctx, d, k.Signer); err == nil || !strings.Contains(err.Error(), "sign "+d.String()) {
			t.Fatalf("signing against a closed registry: %v", err)
		}
		if err := sign.Attest(cctx, d, k.Signer, predicate.TypeSPDX, testkit.SPDX()); err == nil || !strings.Contains(err.Error(), "attest "+d.String()) {
			t.Fatalf("attesting against a closed registry: %v", err)
		}
	})
	t.Run("a statement about another digest stays about that digest", func(t *testing.T) {
		other := testkit.MustPush(t, reg.Host+"/acme/other", testkit.MustImage(t, "65532"))
		st, err := sign.NewStatement(other, predicate.TypeSPDX, testkit.SPDX())
		testkit.Must(t, err)
		testkit.Must(t, sign.AttestStatement(ctx, ref, k.Signer, st))
		for _, a := range attestations(t, ref) {
			env, err := a.Payload()
			testkit.Must(t, err)
			if !bytes.Contains(mustDecode(t, env), []byte(strings.TrimPrefix(other.DigestStr(), "sha256:"))) {
				t.Fatalf("the attached statement does not name the other digest")
			}
		}
	})
}

func mustDecode(t *testing.T, env []byte) []byte {
	t.Helper()
	var e struct {
		Payload string `json:"payload"`
	}
	testkit.Must(t, json.Unmarshal(env, &e))
	b, err := base64.StdEncoding.DecodeString(e.Payload)
	testkit.Must(t, err)
	return b
}
