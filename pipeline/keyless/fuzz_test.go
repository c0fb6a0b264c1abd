package keyless_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"

	"github.com/secure-movie-service/sms/pipeline/internal/sigstoretest"
	"github.com/secure-movie-service/sms/pipeline/keyless"
)

// FuzzVerifyBundle: a Sigstore bundle is attacker bytes from a registry. Whatever they are,
// verification ends with a signer or an error, never a panic, and a signer only for bytes
// that verify under the test instance's root.
func FuzzVerifyBundle(f *testing.F) {
	s := sigstoretest.New(f)
	v := s.Verifier(f, false)
	ref, _ := name.NewDigest("127.0.0.1:5000/movies@" + digest)
	good := s.Bundle(f, sigstoretest.SigningStatement(f, ref), sigstoretest.Spec{Identity: sigstoretest.Release()})
	f.Add(good)
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		who, env, err := v.VerifyBundle(raw)
		if err == nil && (env == nil || who.Subject == "") {
			t.Fatalf("verified without a signer or envelope: %+v", who)
		}
	})
}

// FuzzVerifySignature: the payload, signature and Rekor bundle annotation of a .sig layer
// are attacker bytes; only the instance's own material verifies.
func FuzzVerifySignature(f *testing.F) {
	s := sigstoretest.New(f)
	v := s.Verifier(f, false)
	ref, _ := name.NewDigest("127.0.0.1:5000/movies@" + digest)
	m := s.Sign(f, ref, sigstoretest.Spec{Identity: sigstoretest.Release()})
	payload, _ := m.Layer.Payload()
	sig, _ := m.Layer.Signature()
	cert, _ := m.Layer.Cert()
	rb, _ := json.Marshal(m.Bundle)
	f.Add(payload, sig, rb)
	f.Add([]byte("{}"), []byte{1}, []byte(`{"SignedEntryTimestamp":"","Payload":{"body":"e30=","integratedTime":0,"logIndex":0,"logID":"00"}}`))
	f.Fuzz(func(t *testing.T, payload, sig, bundleJSON []byte) {
		var b cbundle.RekorBundle
		if json.Unmarshal(bundleJSON, &b) != nil {
			return
		}
		if _, err := v.VerifySignature(payload, sig, keyless.Material{Cert: cert, Bundle: &b}); err == nil && string(sig) != string(mustSig(m)) {
			t.Fatalf("a signature the instance did not make verified")
		}
	})
}

func mustSig(m sigstoretest.Material) []byte {
	sig, _ := m.Layer.Signature()
	return sig
}
