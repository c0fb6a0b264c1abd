package keyless_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/cosign/v2/pkg/oci"

	"github.com/secure-movie-service/sms/pipeline/internal/sigstoretest"
	"github.com/secure-movie-service/sms/pipeline/keyless"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func mustVerifier(tb testing.TB, s *sigstoretest.Sigstore, ignoreTlog bool) *keyless.Verifier {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, s.TrustedRoot(tb), 0o600); err != nil {
		tb.Fatal(err)
	}
	tr, err := keyless.LoadRoot(p)
	if err != nil {
		tb.Fatal(err)
	}
	return keyless.New(tr, ignoreTlog)
}

func material(tb testing.TB, l oci.Signature) keyless.Material {
	tb.Helper()
	c, err := l.Cert()
	if err != nil {
		tb.Fatal(err)
	}
	b, err := l.Bundle()
	if err != nil {
		tb.Fatal(err)
	}
	return keyless.Material{Cert: c, Bundle: b}
}

func verifySig(tb testing.TB, v *keyless.Verifier, m sigstoretest.Material) (keyless.Signer, error) {
	tb.Helper()
	payload, err := m.Layer.Payload()
	if err != nil {
		tb.Fatal(err)
	}
	sig, err := m.Layer.Signature()
	if err != nil {
		tb.Fatal(err)
	}
	return v.VerifySignature(payload, sig, material(tb, m.Layer))
}

func TestVerifySignature(t *testing.T) {
	s := sigstoretest.New(t)
	v := mustVerifier(t, s, false)
	ref, _ := name.NewDigest("127.0.0.1:5000/movies@" + digest)
	other := s.Sign(t, ref, sigstoretest.Spec{Identity: sigstoretest.Release()})

	t.Run("C-KEYLESS the release workflow's signature verifies and names its signer", func(t *testing.T) {
		got, err := verifySig(t, v, s.Sign(t, ref, sigstoretest.Spec{Identity: sigstoretest.Release()}))
		if err != nil {
			t.Fatal(err)
		}
		want := keyless.Signer{Issuer: sigstoretest.Issuer, Subject: sigstoretest.Subject, GitHub: sigstoretest.ReleaseClaims, Tlog: true}
		if got != want {
			t.Fatalf("signer\n got %+v\nwant %+v", got, want)
		}
	})
	cases := []struct {
		name   string
		spec   sigstoretest.Spec
		reason string
	}{
		{"C-KEYLESS certificate from a CA not in the trusted root", sigstoretest.Spec{CA: s.Foreign(t)}, keyless.ReasonCAUntrusted},
		{"C-KEYLESS certificate expired when the entry was logged", sigstoretest.Spec{Expired: true}, keyless.ReasonCertExpired},
		{"C-KEYLESS certificate without an SCT", sigstoretest.Spec{NoSCT: true}, keyless.ReasonSCTInvalid},
		{"C-KEYLESS no Rekor bundle", sigstoretest.Spec{NoBundle: true}, keyless.ReasonTlogMissing},
		{"C-KEYLESS forged signed entry timestamp", sigstoretest.Spec{ForgeSET: true}, keyless.ReasonTlogInvalid},
		{"C-KEYLESS Rekor bundle of another signature", sigstoretest.Spec{Bundle: other.Bundle}, keyless.ReasonTlogMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.spec.Identity = sigstoretest.Release()
			_, err := verifySig(t, v, s.Sign(t, ref, c.spec))
			var ke *keyless.Error
			if !errors.As(err, &ke) || ke.Reason != c.reason {
				t.Fatalf("error %v, want reason %s", err, c.reason)
			}
		})
	}
	t.Run("C-KEYLESS a signature over other bytes does not verify", func(t *testing.T) {
		m := s.Sign(t, ref, sigstoretest.Spec{Identity: sigstoretest.Release()})
		sig, _ := m.Layer.Signature()
		_, err := v.VerifySignature([]byte(`{"other":"payload"}`), sig, material(t, m.Layer))
		if err == nil {
			t.Fatal("verified")
		}
	})
	t.Run("the development switch verifies without the log and says so", func(t *testing.T) {
		got, err := verifySig(t, mustVerifier(t, s, true), s.Sign(t, ref, sigstoretest.Spec{Identity: sigstoretest.Release(), NoBundle: true}))
		if err != nil || got.Tlog {
			t.Fatalf("signer %+v err %v", got, err)
		}
	})
}

func TestVerifyEnvelope(t *testing.T) {
	s := sigstoretest.New(t)
	v := mustVerifier(t, s, false)
	st := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` + strings.TrimPrefix(digest, "sha256:") + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`)
	m := s.Attest(t, st, "https://slsa.dev/provenance/v1", sigstoretest.Spec{Identity: sigstoretest.Release()})
	env, err := m.Layer.Payload()
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.VerifyEnvelope(env, material(t, m.Layer))
	if err != nil || got.Subject != sigstoretest.Subject {
		t.Fatalf("signer %+v err %v", got, err)
	}
	forged := s.Attest(t, st, "https://slsa.dev/provenance/v1", sigstoretest.Spec{Identity: sigstoretest.Release(), CA: s.Foreign(t)})
	env, _ = forged.Layer.Payload()
	if _, err := v.VerifyEnvelope(env, material(t, forged.Layer)); err == nil {
		t.Fatal("an attestation from a foreign CA verified")
	}
}

func TestCheckPolicy(t *testing.T) {
	cases := []struct{ name, doc, err string }{
		{"anchored pattern", `{"supply_chain":{"trust":[{"repository":"r/","identities":[{"issuer":"i","subject_regexp":"^https://x/.*$"}]}]}}`, ""},
		{"C-KEYLESS unanchored pattern refused", `{"supply_chain":{"trust":[{"repository":"r/","identities":[{"issuer":"i","subject_regexp":"release.yml@refs/tags/v"}]}]}}`, "anchored"},
		{"end only", `{"supply_chain":{"trust":[{"repository":"r/","identities":[{"issuer":"i","subject_regexp":"x$"}]}]}}`, "anchored"},
		{"no issuer", `{"supply_chain":{"trust":[{"repository":"r/","identities":[{"subject":"s"}]}]}}`, "issuer"},
		{"both subjects", `{"supply_chain":{"trust":[{"repository":"r/","identities":[{"issuer":"i","subject":"s","subject_regexp":"^s$"}]}]}}`, "exactly one"},
		{"no repository", `{"supply_chain":{"trust":[{"keys":["k"]}]}}`, "repository"},
		{"no trust", `{"supply_chain":{}}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := keyless.CheckPolicy([]byte(c.doc))
			if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("error %v, want %q", err, c.err)
			}
		})
	}
}

func TestVerifyBundle(t *testing.T) {
	s := sigstoretest.New(t)
	v := mustVerifier(t, s, false)
	ref, _ := name.NewDigest("127.0.0.1:5000/movies@" + digest)
	st := sigstoretest.SigningStatement(t, ref)
	got, env, err := v.VerifyBundle(s.Bundle(t, st, sigstoretest.Spec{Identity: sigstoretest.Release()}))
	if err != nil || got.Subject != sigstoretest.Subject || !got.Tlog || env == nil {
		t.Fatalf("signer %+v err %v", got, err)
	}
	if body, err := env.DecodeB64Payload(); err != nil || string(body) != string(st) {
		t.Fatalf("envelope payload %q %v", body, err)
	}
	for _, c := range []struct {
		name   string
		spec   sigstoretest.Spec
		reason string
	}{
		{"C-KEYLESS bundle from a CA not in the trusted root", sigstoretest.Spec{CA: s.Foreign(t)}, keyless.ReasonCAUntrusted},
		{"C-KEYLESS bundle with a forged signed entry timestamp", sigstoretest.Spec{ForgeSET: true}, keyless.ReasonTlogInvalid},
		{"C-KEYLESS bundle whose certificate expired when logged", sigstoretest.Spec{Expired: true}, keyless.ReasonCertExpired},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.spec.Identity = sigstoretest.Release()
			_, _, err := v.VerifyBundle(s.Bundle(t, st, c.spec))
			var ke *keyless.Error
			if !errors.As(err, &ke) || ke.Reason != c.reason {
				t.Fatalf("error %v, want reason %s", err, c.reason)
			}
		})
	}
	if _, _, err := v.VerifyBundle([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`)); err == nil {
		t.Fatal("an empty bundle verified")
	}
}
