package sigstoretest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	ctypes "github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/rekor/pkg/pki"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	sigpayload "github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/secure-movie-service/sms/pipeline/keyless"
	"github.com/secure-movie-service/sms/pipeline/sign"
)

// Spec says how to make one piece of keyless material; the zero value (with an Identity)
// is good material.
type Spec struct {
	Identity Identity
	// CA issues the certificate (default: the instance itself; Foreign for an untrusted CA).
	CA *Sigstore
	// Expired makes a certificate whose ten minutes ended before the entry was logged.
	Expired bool
	// NoSCT issues the certificate without an embedded SCT.
	NoSCT bool
	// NoBundle leaves out the Rekor bundle annotation (no proof of logging).
	NoBundle bool
	// ForgeSET corrupts the Rekor log's signed entry timestamp.
	ForgeSET bool
	// Bundle, when set, is attached instead of the entry made for this signature.
	Bundle *cbundle.RekorBundle
}

// Material is what Sign and Attest made: the cosign layer and the Rekor bundle.
type Material struct {
	Layer  oci.Signature
	Bundle *cbundle.RekorBundle
}

// Sign makes a keyless cosign signature over the simple-signing payload for ref.
func (s *Sigstore) Sign(tb TB, ref name.Digest, spec Spec) Material {
	tb.Helper()
	payload, err := sigpayload.Cosign{Image: ref}.MarshalJSON()
	must(tb, err)
	return s.SignPayload(tb, payload, spec)
}

// SignPayload makes a keyless cosign signature over payload as it is.
func (s *Sigstore) SignPayload(tb TB, payload []byte, spec Spec) Material {
	tb.Helper()
	_, key, certPEM, chainPEM := s.issue(tb, spec)
	sv, err := signature.LoadECDSASignerVerifier(key, cryptoHash)
	must(tb, err)
	sig, err := sv.SignMessage(bytes.NewReader(payload))
	must(tb, err)
	sum := sha256.Sum256(payload)
	rb := s.entry(tb, spec, "hashedrekord", types.ArtifactProperties{ArtifactHash: hex.EncodeToString(sum[:])}, certPEM, sig)
	opts := []static.Option{static.WithCertChain(certPEM, chainPEM)}
	if !spec.NoBundle {
		opts = append(opts, static.WithBundle(rb))
	}
	layer, err := static.NewSignature(payload, base64.StdEncoding.EncodeToString(sig), opts...)
	must(tb, err)
	return Material{Layer: layer, Bundle: rb}
}

// Attest makes a keyless DSSE attestation of the in-toto statement.
func (s *Sigstore) Attest(tb TB, statement []byte, predicateType string, spec Spec) Material {
	tb.Helper()
	_, key, certPEM, chainPEM := s.issue(tb, spec)
	env, _, sig := signDSSE(tb, key, statement)
	rb := s.entry(tb, spec, "dsse", types.ArtifactProperties{ArtifactBytes: env}, certPEM, sig)
	opts := []static.Option{static.WithLayerMediaType(ctypes.DssePayloadType), static.WithCertChain(certPEM, chainPEM),
		static.WithAnnotations(map[string]string{"predicateType": predicateType})}
	if !spec.NoBundle {
		opts = append(opts, static.WithBundle(rb))
	}
	layer, err := static.NewAttestation(env, opts...)
	must(tb, err)
	return Material{Layer: layer, Bundle: rb}
}

// signDSSE signs the in-toto statement with key into a DSSE envelope, and returns the
// envelope, its payload and its one signature.
func signDSSE(tb TB, key *ecdsa.PrivateKey, statement []byte) (env, payload, sig []byte) {
	sv, err := signature.LoadECDSASignerVerifier(key, cryptoHash)
	must(tb, err)
	env, err = dsse.WrapSigner(sv, ctypes.IntotoPayloadType).SignMessage(bytes.NewReader(statement))
	must(tb, err)
	var e struct {
		Payload    string `json:"payload"`
		Signatures []struct {
			Sig string `json:"sig"`
		} `json:"signatures"`
	}
	must(tb, json.Unmarshal(env, &e))
	payload, err = base64.StdEncoding.DecodeString(e.Payload)
	must(tb, err)
	sig, err = base64.StdEncoding.DecodeString(e.Signatures[0].Sig)
	must(tb, err)
	return env, payload, sig
}

// issue makes the certificate the spec asks for, and its PEM and chain PEM.
func (s *Sigstore) issue(tb TB, spec Spec) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte) {
	tb.Helper()
	issuer := s
	if spec.CA != nil {
		issuer = spec.CA
	}
	notBefore := time.Now().Add(-certLifetimeOK)
	if spec.Expired {
		notBefore = time.Now().Add(-3 * leafValidity)
	}
	cert, key := issuer.leaf(tb, spec.Identity, notBefore, !spec.NoSCT)
	certPEM, err := cryptoutils.MarshalCertificateToPEM(cert)
	must(tb, err)
	chainPEM, err := cryptoutils.MarshalCertificatesToPEM([]*x509.Certificate{issuer.inter, issuer.root})
	must(tb, err)
	return cert, key, certPEM, chainPEM
}

// entry logs the signature in the instance's Rekor: the canonical entry body and the log's
// signed entry timestamp over it, as cosign's bundle annotation carries them.
func (s *Sigstore) entry(tb TB, spec Spec, kind string, props types.ArtifactProperties, certPEM, sig []byte) *cbundle.RekorBundle {
	tb.Helper()
	if spec.Bundle != nil {
		return spec.Bundle
	}
	ctx := context.Background()
	props.PublicKeyBytes, props.PKIFormat, props.SignatureBytes = [][]byte{certPEM}, string(pki.X509), sig
	pe, err := types.NewProposedEntry(ctx, kind, "0.0.1", props)
	must(tb, err)
	impl, err := types.CreateVersionedEntry(pe)
	must(tb, err)
	body, err := types.CanonicalizeEntry(ctx, impl)
	must(tb, err)
	logID, err := s.vs.RekorLogID()
	must(tb, err)
	p := tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: time.Now().Unix(), LogIndex: s.nextIndex(), LogID: logID}
	set, err := s.vs.RekorSignPayload(p)
	must(tb, err)
	if spec.ForgeSET {
		set[len(set)/2] ^= 0xff
	}
	return &cbundle.RekorBundle{SignedEntryTimestamp: set, Payload: cbundle.RekorPayload{
		Body: p.Body, IntegratedTime: p.IntegratedTime, LogIndex: p.LogIndex, LogID: p.LogID}}
}

func (s *Sigstore) nextIndex() int64 { s.serial++; return 1000 + s.serial }

// Attach writes signatures and attestations onto the image ref in its registry, beside any
// already there.
func Attach(tb TB, ref name.Digest, sigs, atts []Material) {
	tb.Helper()
	var se oci.SignedEntity = ociremote.SignedUnknown(ref)
	var err error
	for _, m := range sigs {
		se, err = mutate.AttachSignatureToEntity(se, m.Layer)
		must(tb, err)
	}
	for _, m := range atts {
		se, err = mutate.AttachAttestationToEntity(se, m.Layer)
		must(tb, err)
	}
	if len(sigs) > 0 {
		must(tb, ociremote.WriteSignatures(ref.Repository, se))
	}
	if len(atts) > 0 {
		must(tb, ociremote.WriteAttestations(ref.Repository, se))
	}
}

const cryptoHash = crypto.SHA256

// Statement is the in-toto statement pipeline/sign makes for a predicate about ref.
func Statement(tb TB, ref name.Digest, p sign.Predicate) []byte {
	tb.Helper()
	st, err := sign.NewStatement(ref, p.Type, p.Body)
	must(tb, err)
	b, err := json.Marshal(st)
	must(tb, err)
	return b
}

// Publish attaches to ref a keyless signature and a keyless attestation of each predicate,
// all made as spec says.
func (s *Sigstore) Publish(tb TB, ref name.Digest, spec Spec, preds ...sign.Predicate) {
	tb.Helper()
	var atts []Material
	for _, p := range preds {
		atts = append(atts, s.Attest(tb, Statement(tb, ref, p), p.Type, spec))
	}
	Attach(tb, ref, []Material{s.Sign(tb, ref, spec)}, atts)
}

// WriteRoot writes the trusted root into dir as trusted_root.json and returns its path.
func (s *Sigstore) WriteRoot(tb TB, dir string) string {
	tb.Helper()
	p := filepath.Join(dir, "trusted_root.json")
	must(tb, os.WriteFile(p, s.TrustedRoot(tb), 0o600))
	return p
}

// Verifier is a keyless verifier over the instance's trusted root.
func (s *Sigstore) Verifier(tb testing.TB, ignoreTlog bool) *keyless.Verifier {
	tb.Helper()
	tr, err := keyless.LoadRoot(s.WriteRoot(tb, tb.TempDir()))
	must(tb, err)
	return keyless.New(tr, ignoreTlog)
}
