// Package verify establishes facts about one image digest: which signatures and in-toto
// attestations attached to it verify under the given public keys, what each verified
// attestation says (subject digests, predicate type, a validated summary), the image
// configuration (its user), and whether the registry's content matches its digests.
//
// It reports facts, not verdicts: a signature whose payload names another digest is still
// listed with the digest it names, so that policy/admission decides, and tests can show
// that removing a policy rule lets the attack through. Only verified material becomes a
// fact. Material that none of the given keys verifies, or keyless material without a
// certificate the trusted root verifies, is information (Unverified, and Rejected with the
// reason for keyless material), never a fact; Problems are what makes the facts incomplete:
// malformed or oversized material, invalid predicates, content that does not match.
//
// Keyless material (cosign's certificate, chain and Rekor bundle annotations) is verified by
// pipeline/keyless against the trusted root; the facts then say who signed (issuer, subject,
// GitHub claims) in place of a key id, and policy/admission decides whether that identity is
// trusted for the image's repository.
package verify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
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
	"golang.org/x/sync/errgroup"

	"github.com/secure-movie-service/sms/pipeline/keyless"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// Limits on what one image may carry; beyond them verification stops with a problem.
const (
	maxSignatures   = 64
	maxAttestations = 64
	// MaxSignaturePayload bounds a simple-signing payload (cosign writes a few hundred
	// bytes; annotations make it longer).
	MaxSignaturePayload = 64 << 10
	// MaxEnvelope bounds a DSSE envelope: a predicate of predicate.MaxSize, base64-encoded,
	// with room for the statement around it.
	MaxEnvelope = predicate.MaxSize/3*4 + 1<<20
	// MaxConfig bounds the image configuration.
	MaxConfig = 4 << 20
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
	// Unverified lists attached material that no given key and no certificate of the trusted
	// root verifies: information, not a failure.
	Unverified []string `json:"unverified"`
	// Rejected is the keyless material that did not verify, with the reason.
	Rejected []Rejection `json:"rejected"`
	// TlogIgnored is true when keyless material was verified without requiring a Rekor entry
	// (the development-only --insecure-ignore-tlog).
	TlogIgnored bool `json:"tlog_ignored"`
}

// Rejection is keyless material that did not verify: Kind is "signature" or "attestation",
// Reason one of pipeline/keyless's Reason constants.
type Rejection struct {
	Kind   string `json:"kind"`
	Index  int    `json:"index"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
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
	KeyID           string          `json:"key_id"`             // "" for a keyless signature
	Identity        *keyless.Signer `json:"identity,omitempty"` // who signed, keyless
	Digest          string          `json:"digest"`             // the digest the signed payload names
	DockerReference string          `json:"docker_reference"`   // the repository the signed payload names
}

// Subject is an in-toto subject.
type Subject struct {
	Name   string `json:"name"`
	Digest string `json:"digest"` // "sha256:…"
}

// Attestation is a verified in-toto attestation.
type Attestation struct {
	KeyID         string             `json:"key_id"`
	Identity      *keyless.Signer    `json:"identity,omitempty"`
	PredicateType string             `json:"predicate_type"`
	Subjects      []Subject          `json:"subjects"`
	Valid         bool               `json:"valid"` // the predicate has its type's required shape
	Error         string             `json:"error,omitempty"`
	Summary       *predicate.Summary `json:"summary,omitempty"`
}

// Options configure Check.
type Options struct {
	Keys []*keys.Verifier
	// Keyless verifies keyless material against a trusted root; nil: keyless material is
	// listed as unverified.
	Keyless *keyless.Verifier
	// SkipContent skips downloading every layer to compare it with its digest.
	SkipContent bool
	// Content is a content check of this very reference started earlier with StartContent
	// (what a digest names never changes, so when it ran does not matter); Check uses its
	// outcome instead of downloading the layers again.
	Content *ContentCheck
	// Client reaches the registry; the zero value uses the process's default transport and
	// keychain.
	Client ociutil.Client
}

// ContentCheck is a check, running in the background, that the registry serves an image's
// manifest, configuration and layers exactly as their digests say.
type ContentCheck struct {
	ref  string
	done chan struct{}
	err  error
}

// StartContent starts checking the content of ref, which must be pinned by digest.
func StartContent(ctx context.Context, ref string) *ContentCheck {
	c := &ContentCheck{ref: ref, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		d, err := ociutil.ParseDigest(ref)
		if err != nil {
			c.err = err
			return
		}
		img, err := remote.Image(d, ociutil.RemoteOptions(ctx)...)
		if err != nil {
			c.err = fmt.Errorf("get %s: %w", d, err)
			return
		}
		c.err = validate.Image(img)
	}()
	return c
}

// Wait returns the outcome: nil when the content matches its digests.
func (c *ContentCheck) Wait() error {
	<-c.done
	return c.err
}

// Check gathers the facts for ref, which must be pinned by digest. The returned error wraps
// ErrFailed when the facts are incomplete (facts are returned as well); other errors mean
// the facts could not be gathered. The layers are downloaded and hashed only once a
// signature by one of the keys binds the digest, beside the attestation checks: an image
// nobody trusted signed costs no layer download.
func Check(ctx context.Context, ref string, o Options) (*Facts, error) {
	d, err := ociutil.ParseDigest(ref)
	if err != nil {
		return nil, err
	}
	if len(o.Keys) == 0 && o.Keyless == nil {
		return nil, errors.New("verify: no public key and no trusted root given")
	}
	if o.Content != nil && o.Content.ref != ref {
		return nil, fmt.Errorf("verify: the content check given is of %s, not %s", o.Content.ref, ref)
	}
	f, img, err := manifestFacts(ctx, d, o)
	if err != nil {
		return nil, err
	}
	se, err := ociremote.SignedImage(d, o.Client.Cosign(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("verify: %s: %w", d, err)
	}
	if err := checkSignatures(se, o, f); err != nil {
		return nil, fmt.Errorf("verify: %s: %w", d, err)
	}
	checkBundles(ctx, d, o, f)
	bound := slices.ContainsFunc(f.Signatures, func(s Signature) bool { return s.Digest == f.Digest })
	var contentErr error
	g, gctx := errgroup.WithContext(ctx)
	if bound && !o.SkipContent {
		g.Go(func() error { contentErr = checkContent(img, o); return nil })
	}
	g.Go(func() error { return checkAttestations(gctx, se, o, f) })
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("verify: %s: %w", d, err)
	}
	if bound && !o.SkipContent {
		if contentErr != nil {
			f.Problems = append(f.Problems, "image content does not match its digests: "+contentErr.Error())
		} else {
			f.ContentVerified = true
		}
	}
	return conclude(f, bound)
}

// manifestFacts reads the manifest and the config: the facts that need no signature.
func manifestFacts(ctx context.Context, d name.Digest, o Options) (*Facts, v1.Image, error) {
	f := &Facts{
		Image: d.String(), Digest: d.DigestStr(), Registry: d.RegistryStr(), Repository: d.Repository.Name(),
		Annotations: map[string]string{}, Signers: []string{}, Signatures: []Signature{},
		Attestations: []Attestation{}, PredicateTypes: []string{}, Problems: []string{},
		Unverified: []string{}, Rejected: []Rejection{}, TlogIgnored: o.Keyless != nil && o.Keyless.IgnoresTlog(),
	}
	desc, err := remote.Get(d, o.Client.Remote(ctx)...)
	if err != nil {
		return nil, nil, fmt.Errorf("verify: get %s: %w", d, err)
	}
	f.MediaType = string(desc.MediaType)
	if !desc.MediaType.IsImage() {
		return nil, nil, fmt.Errorf("verify: %s is a %s, not an image manifest", d, desc.MediaType)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, nil, fmt.Errorf("verify: %s: %w", d, err)
	}
	if err := readConfig(img, f); err != nil {
		return nil, nil, fmt.Errorf("verify: %s: %w", d, err)
	}
	return f, img, nil
}

// checkContent downloads every layer and checks it against its digest (or waits for the
// download the caller started). The download stops with the context Check was given.
func checkContent(img v1.Image, o Options) error {
	if o.Content != nil {
		return o.Content.Wait()
	}
	return validate.Image(img)
}

// conclude sorts the facts and turns what is missing into the ErrFailed verdict.
func conclude(f *Facts, bound bool) (*Facts, error) {
	finish(f)
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
		why := ""
		if len(f.Unverified) > 0 {
			why = " (" + strings.Join(f.Unverified, "; ") + ")"
		}
		return f, fmt.Errorf("%w: no signature over %s verifies with the given keys or trusted root%s", ErrFailed, f.Digest, why)
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
	rawManifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if m.Config.Size > MaxConfig {
		return fmt.Errorf("config of %d bytes is larger than %d", m.Config.Size, MaxConfig)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	cfg, ann, err := imageFacts(rawManifest, rawConfig)
	if err != nil {
		return err
	}
	f.Config = cfg
	for k, v := range ann {
		f.Annotations[k] = v
	}
	return nil
}

// imageFacts reads what the facts report from an image manifest and its configuration,
// both registry-supplied (their digests already checked by the client).
func imageFacts(rawManifest, rawConfig []byte) (Config, map[string]string, error) {
	if len(rawConfig) > MaxConfig {
		return Config{}, nil, fmt.Errorf("config of %d bytes is larger than %d", len(rawConfig), MaxConfig)
	}
	m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return Config{}, nil, fmt.Errorf("manifest: %w", err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return Config{}, nil, fmt.Errorf("config: %w", err)
	}
	c := Config{User: cf.Config.User, Entrypoint: cf.Config.Entrypoint, OS: cf.OS, Architecture: cf.Architecture}
	if c.Entrypoint == nil {
		c.Entrypoint = []string{}
	}
	ann := map[string]string{}
	for k, v := range m.Annotations {
		ann[k] = v
	}
	return c, ann, nil
}

func checkSignatures(se oci.SignedEntity, o Options, f *Facts) error {
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
		sig, err := layerSignature(s, o)
		if err != nil {
			f.refuse("signature", i, err)
			continue
		}
		f.Signatures = append(f.Signatures, sig)
	}
	return nil
}

// errUnverified is material that none of the given keys, and no certificate the trusted
// root verifies, signed: information, not a problem.
var errUnverified = errors.New("verified by none of the given keys")

// refuse records material that did not become a fact: keyless material that failed with a
// reason is Rejected (and Unverified), unverified material Unverified, the rest a Problem.
func (f *Facts) refuse(kind string, i int, err error) {
	msg := fmt.Sprintf("%s %d: %v", kind, i, err)
	var ke *keyless.Error
	switch {
	case errors.As(err, &ke):
		f.Rejected = append(f.Rejected, Rejection{Kind: kind, Index: i, Reason: ke.Reason, Detail: err.Error()})
		f.Unverified = append(f.Unverified, msg)
	case errors.Is(err, errUnverified):
		f.Unverified = append(f.Unverified, msg)
	default:
		f.Problems = append(f.Problems, msg)
	}
}

// layerSignature verifies one .sig layer: keyless when it carries a certificate, else with
// the keys.
func layerSignature(s oci.Signature, o Options) (Signature, error) {
	if err := checkSize(s, MaxSignaturePayload); err != nil {
		return Signature{}, err
	}
	payload, err := s.Payload()
	if err != nil {
		return Signature{}, err
	}
	b64, err := s.Base64Signature()
	if err != nil {
		return Signature{}, err
	}
	m, err := keylessMaterial(s)
	if err != nil {
		return Signature{}, err
	}
	if m.Cert == nil {
		return readSignature(payload, b64, o.Keys)
	}
	if o.Keyless == nil {
		return Signature{}, fmt.Errorf("%w: keyless (a certificate), and no trusted root was given", errUnverified)
	}
	if len(payload) > MaxSignaturePayload {
		return Signature{}, fmt.Errorf("payload of %d bytes is larger than %d", len(payload), MaxSignaturePayload)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return Signature{}, errors.New("signature is not base64")
	}
	who, err := o.Keyless.VerifySignature(payload, raw, m)
	if err != nil {
		return Signature{}, err
	}
	sig, err := parseSimpleSigning(payload)
	if err != nil {
		return Signature{}, err
	}
	sig.Identity = &who
	return sig, nil
}

// keylessMaterial reads a layer's keyless annotations; Cert is nil for a key signature.
func keylessMaterial(s oci.Signature) (keyless.Material, error) {
	cert, err := s.Cert()
	if err != nil || cert == nil {
		return keyless.Material{}, err
	}
	b, err := s.Bundle()
	if err != nil {
		return keyless.Material{}, err
	}
	m := keyless.Material{Cert: cert, Bundle: b}
	ts, err := s.RFC3161Timestamp()
	if err != nil {
		return keyless.Material{}, err
	}
	if ts != nil {
		m.Timestamp = ts.SignedRFC3161Timestamp
	}
	return m, nil
}

// checkSize refuses an attached layer whose manifest declares more than limit bytes, before
// it is downloaded (the client checks the bytes against the declared size and digest).
func checkSize(s oci.Signature, limit int64) error {
	n, err := s.Size()
	if err != nil {
		return err
	}
	if n > limit {
		return fmt.Errorf("layer of %d bytes is larger than %d (not downloaded)", n, limit)
	}
	return nil
}

var sha256Digest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// readSignature verifies a cosign signature (base64) over payload with the first key
// that verifies it, then reads the simple-signing payload. Nothing is parsed before the
// signature verifies.
func readSignature(payload []byte, b64 string, ks []*keys.Verifier) (Signature, error) {
	if len(payload) > MaxSignaturePayload {
		return Signature{}, fmt.Errorf("payload of %d bytes is larger than %d", len(payload), MaxSignaturePayload)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return Signature{}, errors.New("signature is not base64")
	}
	k := firstVerifying(ks, func(k *keys.Verifier) error {
		return k.VerifySignature(bytes.NewReader(raw), bytes.NewReader(payload))
	})
	if k == nil {
		return Signature{}, errUnverified
	}
	sig, err := parseSimpleSigning(payload)
	if err != nil {
		return Signature{}, err
	}
	sig.KeyID = k.ID
	return sig, nil
}

// parseSimpleSigning reads a simple-signing payload whose signature verified.
func parseSimpleSigning(payload []byte) (Signature, error) {
	if err := predicate.Unambiguous(payload); err != nil {
		return Signature{}, fmt.Errorf("payload: %w", err)
	}
	var sc sigpayload.SimpleContainerImage
	if err := json.Unmarshal(payload, &sc); err != nil || sc.Critical.Type != sigpayload.CosignSignatureType {
		return Signature{}, errors.New("payload is not a cosign simple-signing payload")
	}
	if !sha256Digest.MatchString(sc.Critical.Image.DockerManifestDigest) {
		return Signature{}, fmt.Errorf("payload names digest %q, not sha256:<64 hex>", sc.Critical.Image.DockerManifestDigest)
	}
	return Signature{Digest: sc.Critical.Image.DockerManifestDigest, DockerReference: sc.Critical.Identity.DockerReference}, nil
}

// envelope is the part of a DSSE envelope read after verification.
type envelope struct {
	PayloadType string `json:"payloadType"`
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

func checkAttestations(_ context.Context, se oci.SignedEntity, o Options, f *Facts) error {
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
		fa, err := layerAttestation(a, o)
		if err != nil {
			f.refuse("attestation", i, err)
			continue
		}
		f.Attestations = append(f.Attestations, fa)
	}
	return nil
}

// layerAttestation verifies one .att layer: keyless when it carries a certificate, else
// with the keys.
func layerAttestation(a oci.Signature, o Options) (Attestation, error) {
	if err := checkSize(a, MaxEnvelope); err != nil {
		return Attestation{}, err
	}
	env, err := a.Payload()
	if err != nil {
		return Attestation{}, err
	}
	m, err := keylessMaterial(a)
	switch {
	case err != nil:
		return Attestation{}, err
	case m.Cert == nil:
		return readAttestation(env, o.Keys)
	case o.Keyless == nil:
		return Attestation{}, fmt.Errorf("%w: keyless (a certificate), and no trusted root was given", errUnverified)
	}
	return readKeylessAttestation(env, m, o.Keyless)
}

// readAttestation verifies a DSSE envelope with the first key that verifies it, then reads
// the in-toto statement inside and validates its predicate. A statement that is not well
// formed is an error; a predicate that is not is reported on the attestation (Valid false).
func readAttestation(env []byte, ks []*keys.Verifier) (Attestation, error) {
	if len(env) > MaxEnvelope {
		return Attestation{}, fmt.Errorf("envelope of %d bytes is larger than %d", len(env), MaxEnvelope)
	}
	var body []byte // the payload exactly as verified
	k := firstVerifying(ks, func(k *keys.Verifier) error {
		body = nil
		return dsse.WrapVerifier(k.Verifier, dsse.WithDecodedPayload(&body)).VerifySignature(bytes.NewReader(env), nil)
	})
	if k == nil {
		return Attestation{}, errUnverified
	}
	return statementFacts(env, body, Attestation{KeyID: k.ID})
}

// readKeylessAttestation verifies a DSSE envelope made with a Fulcio certificate, then reads
// it as readAttestation does.
func readKeylessAttestation(env []byte, m keyless.Material, v *keyless.Verifier) (Attestation, error) {
	if len(env) > MaxEnvelope {
		return Attestation{}, fmt.Errorf("envelope of %d bytes is larger than %d", len(env), MaxEnvelope)
	}
	who, err := v.VerifyEnvelope(env, m)
	if err != nil {
		return Attestation{}, err
	}
	var e struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(env, &e); err != nil {
		return Attestation{}, fmt.Errorf("envelope: %w", err)
	}
	body, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return Attestation{}, fmt.Errorf("envelope payload: %w", err)
	}
	return statementFacts(env, body, Attestation{Identity: &who})
}

// statementFacts reads the statement of a verified envelope into fa.
func statementFacts(env, body []byte, fa Attestation) (Attestation, error) {
	st, err := parseStatement(env, body)
	if err != nil {
		return Attestation{}, err
	}
	fa.PredicateType, fa.Subjects = st.PredicateType, []Subject{}
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
	return fa, nil
}

var (
	digestAlgorithm = regexp.MustCompile(`^[a-z0-9]{1,32}$`)
	lowerHex        = regexp.MustCompile(`^[0-9a-f]{1,512}$`)
)

// parseStatement reads the in-toto statement of a DSSE envelope whose signature verified;
// body is the payload the signature covers. Both must be unambiguous JSON (two "payload"
// keys would let another verifier read another statement), the payload type in-toto's, the
// statement an in-toto statement with a predicate type, a predicate and well-formed subjects.
func parseStatement(env, body []byte) (*statement, error) {
	if err := predicate.Unambiguous(env); err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	var e envelope
	if err := json.Unmarshal(env, &e); err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	if e.PayloadType != types.IntotoPayloadType {
		return nil, fmt.Errorf("not an in-toto DSSE envelope (payloadType %q)", e.PayloadType)
	}
	if err := predicate.Unambiguous(body); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	var st statement
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	if !strings.HasPrefix(st.Type, "https://in-toto.io/Statement/") {
		return nil, fmt.Errorf("not an in-toto statement (_type %q)", st.Type)
	}
	if st.PredicateType == "" {
		return nil, errors.New("statement: no predicateType")
	}
	if len(st.Predicate) == 0 {
		return nil, errors.New("statement: no predicate")
	}
	if len(st.Subject) == 0 {
		return nil, errors.New("statement: no subject")
	}
	for i, s := range st.Subject {
		if len(s.Digest) == 0 {
			return nil, fmt.Errorf("statement: subject %d has no digest", i)
		}
		for algo, hex := range s.Digest {
			if !digestAlgorithm.MatchString(algo) || !lowerHex.MatchString(hex) || (algo == "sha256" && len(hex) != 64) {
				return nil, fmt.Errorf("statement: subject %d digest %q: %q is not a digest", i, algo, hex)
			}
		}
	}
	return &st, nil
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
		signers[s.signer()] = true
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
		return a.signer()+a.Digest+a.DockerReference < b.signer()+b.Digest+b.DockerReference
	})
	sort.SliceStable(f.Attestations, func(i, j int) bool {
		a, b := f.Attestations[i], f.Attestations[j]
		if a.PredicateType != b.PredicateType {
			return a.PredicateType < b.PredicateType
		}
		return a.KeyID+identityKey(a.Identity) < b.KeyID+identityKey(b.Identity)
	})
	sort.Strings(f.Problems)
}

// signer names who made a signature: its key id, or "keyless SUBJECT (ISSUER)".
func (s Signature) signer() string {
	if s.Identity != nil {
		return "keyless " + identityKey(s.Identity)
	}
	return s.KeyID
}

func identityKey(id *keyless.Signer) string {
	if id == nil {
		return ""
	}
	return id.Subject + " (" + id.Issuer + ")"
}

// Unpinned reports a reference that was not verified because it names no digest.
func Unpinned(ref string) bool {
	_, err := name.NewDigest(ref, name.StrictValidation)
	return err != nil
}
