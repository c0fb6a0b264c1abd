// Package verify establishes facts about one image digest: which signatures and in-toto
// attestations attached to it verify under the given public keys, what each verified
// attestation says (subject digests, predicate type, a validated summary), the image
// configuration (its user), and whether the registry's content matches its digests.
//
// It reports facts, not verdicts: a signature whose payload names another digest is still
// listed with the digest it names, so that policy/admission decides, and tests can show
// that removing a policy rule lets the attack through. Only verified material becomes a
// fact; what failed verification is counted in Problems.
package verify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	sigpayload "github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// Limits on what one image may carry; beyond them verification stops with a problem.
const (
	maxSignatures   = 64
	maxAttestations = 64
)

// ErrFailed is wrapped by Check when the digest has no verified signature bound to it, or
// when some attached signature or attestation did not verify.
var ErrFailed = errors.New("verification failed")

// Facts are the verified facts about one image digest.
type Facts struct {
	Image           string            `json:"image"` // repository@sha256:…
	Digest          string            `json:"digest"`
	Registry        string            `json:"registry"`
	Repository      string            `json:"repository"`
	MediaType       string            `json:"media_type"`
	Config          Config            `json:"config"`
	Annotations     map[string]string `json:"annotations"`
	ContentVerified bool              `json:"content_verified"`
	Signers         []string          `json:"signers"`
	Signatures      []Signature       `json:"signatures"`
	Attestations    []Attestation     `json:"attestations"`
	PredicateTypes  []string          `json:"predicate_types"`
	Problems        []string          `json:"problems"`
}

// Config is what the image configuration says about how it runs.
type Config struct {
	User         string   `json:"user"`
	Entrypoint   []string `json:"entrypoint"`
	OS           string   `json:"os"`
	Architecture string   `json:"architecture"`
}

// Signature is a verified cosign signature.
type Signature struct {
	KeyID           string `json:"key_id"`
	Digest          string `json:"digest"`           // the digest the signed payload names
	DockerReference string `json:"docker_reference"` // the repository the signed payload names
}

// Subject is an in-toto subject.
type Subject struct {
	Name   string `json:"name"`
	Digest string `json:"digest"` // "sha256:…"
}

// Attestation is a verified in-toto attestation.
type Attestation struct {
	KeyID         string             `json:"key_id"`
	PredicateType string             `json:"predicate_type"`
	Subjects      []Subject          `json:"subjects"`
	Valid         bool               `json:"valid"` // the predicate has its type's required shape
	Error         string             `json:"error,omitempty"`
	Summary       *predicate.Summary `json:"summary,omitempty"`
}

// Options configure Check.
type Options struct {
	Keys []*keys.Verifier
	// SkipContent skips downloading every layer to compare it with its digest.
	SkipContent bool
}

// Check gathers the facts for ref, which must be pinned by digest. The returned error wraps
// ErrFailed when the facts are incomplete (facts are returned as well); other errors mean
// the facts could not be gathered.
func Check(ctx context.Context, ref string, o Options) (*Facts, error) {
	d, err := ociutil.ParseDigest(ref)
	if err != nil {
		return nil, err
	}
	if len(o.Keys) == 0 {
		return nil, errors.New("verify: no public key given")
	}
	f := &Facts{
		Image: d.String(), Digest: d.DigestStr(), Registry: d.RegistryStr(), Repository: d.Repository.Name(),
		Annotations: map[string]string{}, Signers: []string{}, Signatures: []Signature{},
		Attestations: []Attestation{}, PredicateTypes: []string{}, Problems: []string{},
	}
	ropts := ociutil.RemoteOptions(ctx)
	desc, err := remote.Get(d, ropts...)
	if err != nil {
		return nil, fmt.Errorf("verify: get %s: %w", d, err)
	}
	f.MediaType = string(desc.MediaType)
	if !desc.MediaType.IsImage() {
		return nil, fmt.Errorf("verify: %s is a %s, not an image manifest", d, desc.MediaType)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("verify: %s: %w", d, err)
	}
	if err := readConfig(img, f); err != nil {
		return nil, fmt.Errorf("verify: %s: %w", d, err)
	}
	if !o.SkipContent {
		if err := validate.Image(img); err != nil {
			f.Problems = append(f.Problems, "image content does not match its digests: "+err.Error())
		} else {
			f.ContentVerified = true
		}
	}
	se, err := ociremote.SignedImage(d, ociutil.CosignOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("verify: %s: %w", d, err)
	}
	if err := checkSignatures(ctx, se, o.Keys, f); err != nil {
		return nil, fmt.Errorf("verify: %s: %w", d, err)
	}
	if err := checkAttestations(ctx, se, o.Keys, f); err != nil {
		return nil, fmt.Errorf("verify: %s: %w", d, err)
	}
	finish(f)
	bound := false
	for _, s := range f.Signatures {
		if s.Digest == f.Digest {
			bound = true
		}
	}
	for _, a := range f.Attestations {
		if !a.Valid {
			f.Problems = append(f.Problems, fmt.Sprintf("attestation %s: %s", a.PredicateType, a.Error))
		}
		if !a.about(f.Digest) {
			f.Problems = append(f.Problems, fmt.Sprintf("attestation %s: subject is not %s", a.PredicateType, f.Digest))
		}
	}
	switch {
	case !bound:
		return f, fmt.Errorf("%w: no signature over %s verifies with the given keys", ErrFailed, f.Digest)
	case len(f.Problems) > 0:
		return f, fmt.Errorf("%w: %s", ErrFailed, strings.Join(f.Problems, "; "))
	}
	return f, nil
}

func (a Attestation) about(digest string) bool {
	for _, s := range a.Subjects {
		if s.Digest == digest {
			return true
		}
	}
	return false
}

func readConfig(img v1.Image, f *Facts) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	f.Config = Config{User: cf.Config.User, Entrypoint: cf.Config.Entrypoint, OS: cf.OS, Architecture: cf.Architecture}
	if f.Config.Entrypoint == nil {
		f.Config.Entrypoint = []string{}
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	for k, v := range m.Annotations {
		f.Annotations[k] = v
	}
	return nil
}

func checkSignatures(ctx context.Context, se oci.SignedEntity, ks []*keys.Verifier, f *Facts) error {
	sigs, err := se.Signatures()
	if err != nil {
		return err
	}
	list, err := sigs.Get()
	if err != nil {
		return err
	}
	if len(list) > maxSignatures {
		return fmt.Errorf("%d signatures attached (limit %d)", len(list), maxSignatures)
	}
	for i, s := range list {
		payload, err := s.Payload()
		if err != nil {
			f.Problems = append(f.Problems, fmt.Sprintf("signature %d: %v", i, err))
			continue
		}
		b64, err := s.Base64Signature()
		if err != nil {
			f.Problems = append(f.Problems, fmt.Sprintf("signature %d: %v", i, err))
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			f.Problems = append(f.Problems, fmt.Sprintf("signature %d: not base64", i))
			continue
		}
		k := firstVerifying(ks, func(k *keys.Verifier) error {
			return k.VerifySignature(bytes.NewReader(raw), bytes.NewReader(payload))
		})
		if k == nil {
			f.Problems = append(f.Problems, fmt.Sprintf("signature %d: verified by none of the given keys", i))
			continue
		}
		var sc sigpayload.SimpleContainerImage
		if err := json.Unmarshal(payload, &sc); err != nil || sc.Critical.Type != sigpayload.CosignSignatureType {
			f.Problems = append(f.Problems, fmt.Sprintf("signature %d: payload is not a cosign simple-signing payload", i))
			continue
		}
		f.Signatures = append(f.Signatures, Signature{
			KeyID: k.ID, Digest: sc.Critical.Image.DockerManifestDigest, DockerReference: sc.Critical.Identity.DockerReference,
		})
	}
	return nil
}

// envelope is a DSSE envelope.
type envelope struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"`
}

// statement is an in-toto statement, v0.1 or v1.
type statement struct {
	Type    string `json:"_type"`
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

func checkAttestations(ctx context.Context, se oci.SignedEntity, ks []*keys.Verifier, f *Facts) error {
	atts, err := se.Attestations()
	if err != nil {
		return err
	}
	list, err := atts.Get()
	if err != nil {
		return err
	}
	if len(list) > maxAttestations {
		return fmt.Errorf("%d attestations attached (limit %d)", len(list), maxAttestations)
	}
	for i, a := range list {
		env, err := a.Payload()
		if err != nil {
			f.Problems = append(f.Problems, fmt.Sprintf("attestation %d: %v", i, err))
			continue
		}
		k := firstVerifying(ks, func(k *keys.Verifier) error {
			return dsse.WrapVerifier(k.Verifier).VerifySignature(bytes.NewReader(env), nil)
		})
		if k == nil {
			f.Problems = append(f.Problems, fmt.Sprintf("attestation %d: verified by none of the given keys", i))
			continue
		}
		var e envelope
		if err := json.Unmarshal(env, &e); err != nil || e.PayloadType != types.IntotoPayloadType {
			f.Problems = append(f.Problems, fmt.Sprintf("attestation %d: not an in-toto DSSE envelope", i))
			continue
		}
		body, err := base64.StdEncoding.DecodeString(e.Payload)
		if err != nil {
			f.Problems = append(f.Problems, fmt.Sprintf("attestation %d: payload is not base64", i))
			continue
		}
		var st statement
		if err := json.Unmarshal(body, &st); err != nil || !strings.HasPrefix(st.Type, "https://in-toto.io/Statement/") {
			f.Problems = append(f.Problems, fmt.Sprintf("attestation %d: not an in-toto statement", i))
			continue
		}
		fa := Attestation{KeyID: k.ID, PredicateType: st.PredicateType, Subjects: []Subject{}}
		for _, s := range st.Subject {
			for algo, hex := range s.Digest {
				fa.Subjects = append(fa.Subjects, Subject{Name: s.Name, Digest: algo + ":" + hex})
			}
		}
		sum, err := predicate.Summarize(st.PredicateType, st.Predicate)
		switch {
		case err != nil:
			fa.Error = err.Error()
		case sum == nil:
			fa.Error = "unknown predicate type"
		default:
			fa.Valid, fa.Summary = true, sum
		}
		f.Attestations = append(f.Attestations, fa)
	}
	return nil
}

func firstVerifying(ks []*keys.Verifier, try func(*keys.Verifier) error) *keys.Verifier {
	for _, k := range ks {
		if try(k) == nil {
			return k
		}
	}
	return nil
}

// finish sorts everything so that the facts of one digest always serialise the same way.
func finish(f *Facts) {
	signers := map[string]bool{}
	for _, s := range f.Signatures {
		signers[s.KeyID] = true
	}
	for k := range signers {
		f.Signers = append(f.Signers, k)
	}
	sort.Strings(f.Signers)
	types := map[string]bool{}
	for _, a := range f.Attestations {
		types[a.PredicateType] = true
		sort.Slice(a.Subjects, func(i, j int) bool {
			return a.Subjects[i].Name+a.Subjects[i].Digest < a.Subjects[j].Name+a.Subjects[j].Digest
		})
	}
	for t := range types {
		f.PredicateTypes = append(f.PredicateTypes, t)
	}
	sort.Strings(f.PredicateTypes)
	sort.Slice(f.Signatures, func(i, j int) bool {
		a, b := f.Signatures[i], f.Signatures[j]
		return a.KeyID+a.Digest+a.DockerReference < b.KeyID+b.Digest+b.DockerReference
	})
	sort.SliceStable(f.Attestations, func(i, j int) bool {
		a, b := f.Attestations[i], f.Attestations[j]
		if a.PredicateType != b.PredicateType {
			return a.PredicateType < b.PredicateType
		}
		return a.KeyID < b.KeyID
	})
	sort.Strings(f.Problems)
}

// Unpinned reports a reference that was not verified because it names no digest.
func Unpinned(ref string) bool {
	_, err := name.NewDigest(ref, name.StrictValidation)
	return err != nil
}
