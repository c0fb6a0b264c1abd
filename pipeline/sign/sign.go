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
	"github.com/sigstore/cosign/v2/pkg/oci"
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

// Predicate is one predicate to attest: its type URI and JSON body.
type Predicate struct {
	Type string
	Body []byte
}

// Attest signs an in-toto statement of the predicate about the image digest (a DSSE
// envelope) and attaches it in the registry beside any earlier ones.
func Attest(ctx context.Context, ref name.Digest, s *keys.Signer, predicateType string, pred []byte) error {
	return AttestAll(ctx, ref, s, []Predicate{{predicateType, pred}})
}

// AttestAll attests every predicate about the image digest, attaching them in the order
// given with a single write of the attestation manifest (attestations of one image must not
// be written concurrently: each write replaces the manifest).
func AttestAll(ctx context.Context, ref name.Digest, s *keys.Signer, preds []Predicate) error {
	sts := make([]*Statement, 0, len(preds))
	for _, p := range preds {
		st, err := NewStatement(ref, p.Type, p.Body)
		if err != nil {
			return fmt.Errorf("attest %s: %s: %w", ref, p.Type, err)
		}
		sts = append(sts, st)
	}
	return attach(ctx, ref, s, sts)
}

// AttestStatement signs and attaches a statement as it is. Tests use it to attach statements
// whose subject is another image.
func AttestStatement(ctx context.Context, ref name.Digest, s *keys.Signer, st *Statement) error {
	return attach(ctx, ref, s, []*Statement{st})
}

func attach(ctx context.Context, ref name.Digest, s *keys.Signer, sts []*Statement) error {
	opts := ociutil.CosignOptions(ctx)
	var se oci.SignedEntity = ociremote.SignedUnknown(ref, opts...)
	for _, st := range sts {
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
		if se, err = mutate.AttachAttestationToEntity(se, att, mutate.WithDupeDetector(cremote.NewDupeDetector(s))); err != nil {
			return fmt.Errorf("attest %s: %w", ref, err)
		}
	}
	if err := ociremote.WriteAttestations(ref.Repository, se, opts...); err != nil {
		return fmt.Errorf("attest %s: write attestation: %w", ref, err)
	}
	return nil
}
