package sigstoretest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"

	"github.com/google/go-containerregistry/pkg/name"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	ctypes "github.com/sigstore/cosign/v2/pkg/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/types"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/secure-movie-service/sms/pipeline/sign"
)

// Bundle makes a Sigstore bundle (v0.3: certificate, Rekor dsse entry with signed entry
// timestamp and inclusion proof, DSSE envelope of the statement), as cosign's
// --new-bundle-format attaches it as an OCI 1.1 referrer.
func (s *Sigstore) Bundle(tb TB, statement []byte, spec Spec) []byte {
	tb.Helper()
	cert, key, certPEM, _ := s.issue(tb, spec)
	env, payload, sig := signDSSE(tb, key, statement)
	rb := s.entry(tb, spec, "dsse", types.ArtifactProperties{ArtifactBytes: env}, certPEM, sig)
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body.(string))
	must(tb, err)
	proof, err := s.vs.GetInclusionProof(body)
	must(tb, err)
	root, err := hex.DecodeString(*proof.RootHash)
	must(tb, err)
	logID, err := hex.DecodeString(rb.Payload.LogID)
	must(tb, err)
	entry := &protorekor.TransparencyLogEntry{
		LogIndex: rb.Payload.LogIndex, LogId: &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"},
		IntegratedTime:    rb.Payload.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp},
		CanonicalizedBody: body,
		InclusionProof: &protorekor.InclusionProof{LogIndex: *proof.LogIndex, RootHash: root, TreeSize: *proof.TreeSize,
			Hashes: [][]byte{}, Checkpoint: &protorekor.Checkpoint{Envelope: *proof.Checkpoint}},
	}
	b := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:     &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}},
			TlogEntries: []*protorekor.TransparencyLogEntry{entry},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: payload, PayloadType: ctypes.IntotoPayloadType, Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}
	out, err := protojson.Marshal(b)
	must(tb, err)
	return out
}

// SigningStatement is the statement cosign's --new-bundle-format signs for an image: its
// signing predicate about the digest.
func SigningStatement(tb TB, ref name.Digest) []byte {
	tb.Helper()
	hexDigest := ref.DigestStr()[len("sha256:"):]
	b, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": ref.Repository.Name(), "digest": map[string]string{"sha256": hexDigest}}},
		"predicateType": ctypes.CosignSignPredicateType,
		"predicate":     map[string]any{},
	})
	must(tb, err)
	return b
}

// AttachBundle attaches a bundle to ref as an OCI 1.1 referrer, as cosign does.
func AttachBundle(tb TB, ref name.Digest, bundle []byte, predicateType string) {
	tb.Helper()
	must(tb, ociremote.WriteAttestationNewBundleFormat(ref, bundle, predicateType))
}

// PublishBundles attaches to ref, as OCI 1.1 referrers, a signing bundle and a bundle for
// each predicate, all made as spec says: what cosign v3 attaches by default.
func (s *Sigstore) PublishBundles(tb TB, ref name.Digest, spec Spec, preds ...sign.Predicate) {
	tb.Helper()
	AttachBundle(tb, ref, s.Bundle(tb, SigningStatement(tb, ref), spec), ctypes.CosignSignPredicateType)
	for _, p := range preds {
		AttachBundle(tb, ref, s.Bundle(tb, Statement(tb, ref, p), spec), p.Type)
	}
}
