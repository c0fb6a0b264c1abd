package verify_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ctypes "github.com/sigstore/cosign/v2/pkg/types"

	"github.com/secure-movie-service/sms/pipeline/internal/sigstoretest"
	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/keyless"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/sign"
	"github.com/secure-movie-service/sms/pipeline/verify"
)

func keylessPredicates() []sign.Predicate {
	return []sign.Predicate{
		{Type: predicate.TypeSPDX, Body: testkit.SPDX()},
		{Type: predicate.TypeProvenance, Body: testkit.Provenance(testkit.SourceRepository, testkit.Revision)},
	}
}

func TestCheckKeyless(t *testing.T) {
	w := mustWorld(t)
	s := sigstoretest.New(t)
	v := s.Verifier(t, false)
	check := func(ref name.Digest, ks ...*keys.Verifier) (*verify.Facts, error) {
		return verify.Check(context.Background(), ref.String(), verify.Options{Keys: ks, Keyless: v})
	}

	t.Run("C-KEYLESS facts name the identity that signed and attested", func(t *testing.T) {
		ref := testkit.MustPush(t, w.repo, testkit.MustImage(t, "65532:65532"))
		s.Publish(t, ref, sigstoretest.Spec{Identity: sigstoretest.Release()}, keylessPredicates()...)
		f, err := check(ref)
		if err != nil {
			t.Fatalf("%v (problems %v)", err, f)
		}
		want := keyless.Signer{Issuer: sigstoretest.Issuer, Subject: sigstoretest.Subject, GitHub: sigstoretest.ReleaseClaims, Tlog: true}
		if len(f.Signatures) != 1 || f.Signatures[0].Identity == nil || *f.Signatures[0].Identity != want || f.Signatures[0].Digest != ref.DigestStr() {
			t.Fatalf("signatures %+v", f.Signatures)
		}
		if len(f.Attestations) != 2 || f.Attestations[0].Identity == nil || !f.Attestations[0].Valid || !f.ContentVerified {
			t.Fatalf("attestations %+v", f.Attestations)
		}
	})
	t.Run("C-KEYLESS material that does not verify is rejected with its reason, never a fact", func(t *testing.T) {
		ref := testkit.MustPush(t, w.repo, testkit.MustImage(t, "65532:65532"))
		s.Publish(t, ref, sigstoretest.Spec{Identity: sigstoretest.Release(), CA: s.Foreign(t)}, keylessPredicates()...)
		f, err := check(ref)
		mustFail(t, f, err, "no signature over "+ref.DigestStr())
		if len(f.Signatures) != 0 || len(f.Attestations) != 0 || len(f.Rejected) != 3 || f.Rejected[0].Reason != keyless.ReasonCAUntrusted {
			t.Fatalf("signatures %+v attestations %+v rejected %+v", f.Signatures, f.Attestations, f.Rejected)
		}
	})
	t.Run("keyless material beside a key signature is information, not a failure", func(t *testing.T) {
		ref, _ := w.publish(t, w.key)
		s.Publish(t, ref, sigstoretest.Spec{Identity: sigstoretest.Release(), NoBundle: true})
		f, err := check(ref, w.key.Verifier)
		if err != nil || len(f.Problems) != 0 || len(f.Unverified) != 1 || !strings.Contains(f.Unverified[0], "tlog_missing") {
			t.Fatalf("err %v problems %v unverified %v", err, f.Problems, f.Unverified)
		}
	})
	t.Run("a key signature beside keyless material without a trusted root is information", func(t *testing.T) {
		ref, _ := w.publish(t, w.key)
		s.Publish(t, ref, sigstoretest.Spec{Identity: sigstoretest.Release()})
		f, err := verify.Check(context.Background(), ref.String(), verify.Options{Keys: []*keys.Verifier{w.key.Verifier}})
		if err != nil || !slices.ContainsFunc(f.Unverified, func(u string) bool { return strings.Contains(u, "no trusted root") }) {
			t.Fatalf("err %v unverified %v", err, f.Unverified)
		}
	})
	t.Run("C-KEYLESS Sigstore bundles attached as OCI 1.1 referrers are verified like the tag-based layers", func(t *testing.T) {
		ref := testkit.MustPush(t, w.repo, testkit.MustImage(t, "65532:65532"))
		spec := sigstoretest.Spec{Identity: sigstoretest.Release()}
		sigstoretest.AttachBundle(t, ref, s.Bundle(t, sigstoretest.SigningStatement(t, ref), spec), ctypes.CosignSignPredicateType)
		for _, p := range keylessPredicates() {
			sigstoretest.AttachBundle(t, ref, s.Bundle(t, sigstoretest.Statement(t, ref, p), spec), p.Type)
		}
		f, err := check(ref)
		if err != nil {
			t.Fatalf("%v", err)
		}
		if len(f.Signatures) != 1 || f.Signatures[0].Identity == nil || f.Signatures[0].Identity.Subject != sigstoretest.Subject ||
			f.Signatures[0].Digest != ref.DigestStr() || len(f.Attestations) != 2 || !f.Attestations[1].Valid {
			t.Fatalf("signatures %+v attestations %+v", f.Signatures, f.Attestations)
		}
	})
	t.Run("C-KEYLESS a referrer bundle from a CA outside the trusted root is rejected", func(t *testing.T) {
		ref := testkit.MustPush(t, w.repo, testkit.MustImage(t, "65532:65532"))
		spec := sigstoretest.Spec{Identity: sigstoretest.Release(), CA: s.Foreign(t)}
		sigstoretest.AttachBundle(t, ref, s.Bundle(t, sigstoretest.SigningStatement(t, ref), spec), ctypes.CosignSignPredicateType)
		f, err := check(ref)
		mustFail(t, f, err, "no signature over "+ref.DigestStr())
		if len(f.Signatures) != 0 || len(f.Rejected) != 1 || f.Rejected[0].Kind != "bundle" || f.Rejected[0].Reason != keyless.ReasonCAUntrusted {
			t.Fatalf("signatures %+v rejected %+v", f.Signatures, f.Rejected)
		}
	})
	t.Run("the development switch is in the facts", func(t *testing.T) {
		ref := testkit.MustPush(t, w.repo, testkit.MustImage(t, "65532:65532"))
		s.Publish(t, ref, sigstoretest.Spec{Identity: sigstoretest.Release(), NoBundle: true})
		f, err := verify.Check(context.Background(), ref.String(), verify.Options{Keyless: s.Verifier(t, true)})
		if err != nil || !f.TlogIgnored || len(f.Signatures) != 1 || f.Signatures[0].Identity.Tlog {
			t.Fatalf("err %v facts %+v", err, f)
		}
	})
}
