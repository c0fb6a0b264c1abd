// Package sign writes cosign v2 signatures and in-toto attestations for an image digest,
// through cosign's own OCI library, so that the stock cosign CLI verifies them: a simple-
// signing payload under the sha256-<hex>.sig tag, and DSSE envelopes (payload type
// application/vnd.in-toto+json) under sha256-<hex>.att with a predicateType annotation.
//
// Signing is offline: nothing is sent to a transparency log. Keyless signing and Rekor
// upload are done in CI with the pinned stock CLI (see deploy/README.md).
package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	cremote "github.com/sigstore/cosign/v2/pkg/cosign/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
	sigpayload "github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// Sign signs the image digest and attaches the signature in the registry.
func Sign(ctx context.Context, ref name.Digest, s *keys.Signer) error {
	payload, err := sigpayload.Cosign{Image: ref}.MarshalJSON()
	if err != nil {
		return fmt.Errorf("sign %s: %w", ref, err)
	}
	raw, err := s.SignMessage(bytes.NewReader(payload), sigopts.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("sign %s: %w", ref, err)
	}
	sig, err := static.NewSignature(payload, base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		return fmt.Errorf("sign %s: %w", ref, err)
	}
	opts := ociutil.CosignOptions(ctx)
	se, err := mutate.AttachSignatureToEntity(ociremote.SignedUnknown(ref, opts...), sig, mutate.WithDupeDetector(cremote.NewDupeDetector(s)))
	if err != nil {
		return fmt.Errorf("sign %s: %w", ref, err)
	}
	if err := ociremote.WriteSignatures(ref.Repository, se, opts...); err != nil {
		return fmt.Errorf("sign %s: write signature: %w", ref, err)
	}
	return nil
}

// Subject is an in-toto statement subject.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Statement is an in-toto v1 statement.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// NewStatement binds a predicate to the image digest.
func NewStatement(ref name.Digest, predicateType string, pred []byte) (*Statement, error) {
	if !json.Valid(pred) {
		return nil, fmt.Errorf("predicate is not JSON")
	}
	algo, hex, ok := cut(ref.DigestStr())
	if !ok {
		return nil, fmt.Errorf("digest %q", ref.DigestStr())
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, pred); err != nil {
		return nil, err
	}
	return &Statement{
		Type:          predicate.StatementType,
		Subject:       []Subject{{Name: ref.Repository.Name(), Digest: map[string]string{algo: hex}}},
		PredicateType: predicateType,
		Predicate:     compact.Bytes(),
	}, nil
}

func cut(d string) (string, string, bool) {
	for i := 0; i < len(d); i++ {
		if d[i] == ':' {
			return d[:i], d[i+1:], true
		}
	}
	return "", "", false
}

// Attest signs an in-toto statement of the predicate about the image digest (a DSSE
// envelope) and attaches it in the registry beside any earlier ones.
func Attest(ctx context.Context, ref name.Digest, s *keys.Signer, predicateType string, pred []byte) error {
	st, err := NewStatement(ref, predicateType, pred)
	if err != nil {
		return fmt.Errorf("attest %s: %w", ref, err)
	}
	return AttestStatement(ctx, ref, s, st)
}

// AttestStatement signs and attaches a statement as it is. Tests use it to attach statements
// whose subject is another image.
func AttestStatement(ctx context.Context, ref name.Digest, s *keys.Signer, st *Statement) error {
	payload, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("attest %s: %w", ref, err)
	}
	env, err := dsse.WrapSigner(s, types.IntotoPayloadType).SignMessage(bytes.NewReader(payload), sigopts.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("attest %s: %w", ref, err)
	}
	att, err := static.NewAttestation(env,
		static.WithLayerMediaType(types.DssePayloadType),
		static.WithAnnotations(map[string]string{"predicateType": st.PredicateType}))
	if err != nil {
		return fmt.Errorf("attest %s: %w", ref, err)
	}
	opts := ociutil.CosignOptions(ctx)
	se, err := mutate.AttachAttestationToEntity(ociremote.SignedUnknown(ref, opts...), att,
		mutate.WithDupeDetector(cremote.NewDupeDetector(s)))
	if err != nil {
		return fmt.Errorf("attest %s: %w", ref, err)
	}
	if err := ociremote.WriteAttestations(ref.Repository, se, opts...); err != nil {
		return fmt.Errorf("attest %s: write attestation: %w", ref, err)
	}
	return nil
}
