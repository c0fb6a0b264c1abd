package keyless

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Reasons a keyless signature or attestation did not verify; facts carry them and
// policy/admission maps each to a deny code of its own.
const (
	ReasonCAUntrusted      = "CA_UNTRUSTED"      // the certificate chains to no Fulcio CA of the trusted root
	ReasonCertExpired      = "CERT_EXPIRED"      // the certificate was not valid when the entry was logged
	ReasonTlogMissing      = "TLOG_MISSING"      // no Rekor bundle, so no proof the signature was logged
	ReasonTlogInvalid      = "TLOG_INVALID"      // the Rekor entry's signed timestamp or proof does not verify
	ReasonTlogMismatch     = "TLOG_MISMATCH"     // the Rekor entry is about another signature, key or payload
	ReasonSCTInvalid       = "SCT_INVALID"       // no SCT from a CT log of the trusted root verifies
	ReasonSignatureInvalid = "SIGNATURE_INVALID" // the signature does not cover the payload
	ReasonMalformed        = "MALFORMED"         // the material cannot be read
)

// Error is a keyless verification failure with its reason.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string { return strings.ToLower(e.Reason) + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Signer is who made a verified keyless signature.
type Signer struct {
	Issuer  string `json:"issuer"`
	Subject string `json:"subject"`
	GitHub  GitHub `json:"github"`
	// Tlog is true when a Rekor entry of the trusted root proved the signature was logged;
	// false only under the development switch that ignores the transparency log.
	Tlog bool `json:"tlog"`
}

// Verifier verifies keyless material against one trusted root.
type Verifier struct {
	root       root.TrustedMaterial
	ignoreTlog bool
}

// New returns a verifier over the trusted root. ignoreTlog is the development-only switch:
// no Rekor entry is required, and the certificate is checked at the time of a signed
// timestamp of the root's timestamp authorities, or at the current time.
func New(tr root.TrustedMaterial, ignoreTlog bool) *Verifier {
	return &Verifier{root: tr, ignoreTlog: ignoreTlog}
}

// IgnoresTlog reports whether the development switch is on.
func (v *Verifier) IgnoresTlog() bool { return v.ignoreTlog }

// Material is one cosign .sig or .att layer's keyless parts, as read from its annotations.
type Material struct {
	Cert      *x509.Certificate
	Bundle    *cbundle.RekorBundle // dev.sigstore.cosign/bundle, nil when absent
	Timestamp []byte               // RFC 3161 signed timestamp, nil when absent
}

// VerifySignature verifies a cosign simple-signing signature (raw bytes) over payload.
func (v *Verifier) VerifySignature(payload, sig []byte, m Material) (Signer, error) {
	digest := sha256.Sum256(payload)
	content := bundle.NewMessageSignature(digest[:], "SHA2_256", sig)
	return v.verify(content, m, verify.WithArtifact(bytes.NewReader(payload)))
}

// VerifyEnvelope verifies a DSSE envelope (JSON). The caller reads the statement from the
// envelope's payload only after this returns without error.
func (v *Verifier) VerifyEnvelope(env []byte, m Material) (Signer, error) {
	var e ssldsse.Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		return Signer{}, &Error{ReasonMalformed, fmt.Errorf("envelope: %w", err)}
	}
	if len(e.Signatures) != 1 {
		return Signer{}, &Error{ReasonMalformed, fmt.Errorf("envelope has %d signatures, want 1", len(e.Signatures))}
	}
	return v.verify(&bundle.Envelope{Envelope: &e}, m, verify.WithoutArtifactUnsafe())
}

func (v *Verifier) verify(content verify.SignatureContent, m Material, artifact verify.ArtifactPolicyOption) (Signer, error) {
	if m.Cert == nil {
		return Signer{}, &Error{ReasonMalformed, errors.New("no certificate")}
	}
	e := &entity{cert: m.Cert, content: content}
	if m.Timestamp != nil {
		e.timestamps = [][]byte{m.Timestamp}
	}
	if m.Bundle != nil {
		entry, err := tlogEntry(m.Bundle)
		if err != nil {
			return Signer{}, &Error{ReasonTlogInvalid, err}
		}
		e.entries = []*tlog.Entry{entry}
	} else if !v.ignoreTlog {
		return Signer{}, &Error{ReasonTlogMissing, errors.New("no Rekor bundle: nothing proves the signature was logged")}
	}
	sv, err := verify.NewVerifier(v.root, v.options(len(e.timestamps) > 0)...)
	if err != nil {
		return Signer{}, err
	}
	res, err := sv.Verify(e, verify.NewPolicy(artifact, verify.WithoutIdentitiesUnsafe()))
	if err != nil {
		return Signer{}, classify(err)
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		return Signer{}, &Error{ReasonMalformed, errors.New("verified without a certificate")}
	}
	return signer(*res.Signature.Certificate, !v.ignoreTlog), nil
}

// options: by default a Rekor entry of the root (its signed entry timestamp is the time the
// certificate must be valid at) and an SCT; the development switch drops the entry.
func (v *Verifier) options(timestamped bool) []verify.VerifierOption {
	opts := []verify.VerifierOption{verify.WithSignedCertificateTimestamps(1)}
	switch {
	case !v.ignoreTlog:
		return append(opts, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	case timestamped:
		return append(opts, verify.WithSignedTimestamps(1))
	default:
		return append(opts, verify.WithCurrentTime())
	}
}

// classify maps sigstore-go's error (wrapped by the step that failed) to a reason.
func classify(err error) error {
	msg := err.Error()
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	reason := ReasonMalformed
	switch {
	case strings.Contains(msg, "integrated time outside certificate validity"):
		reason = ReasonCertExpired
	case strings.Contains(msg, "failed to verify log inclusion") && strings.Contains(msg, "does not match"):
		reason = ReasonTlogMismatch
	case strings.Contains(msg, "failed to verify log inclusion"), strings.Contains(msg, "failed to verify timestamps"):
		reason = ReasonTlogInvalid
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		reason = ReasonCertExpired
	case errors.As(err, &unknown), strings.Contains(msg, "failed to verify leaf certificate"):
		reason = ReasonCAUntrusted
	case strings.Contains(msg, "signed certificate timestamp"):
		reason = ReasonSCTInvalid
	case strings.Contains(msg, "failed to verify signature"):
		reason = ReasonSignatureInvalid
	}
	return &Error{reason, err}
}

// tlogEntry reads cosign's Rekor bundle annotation: the canonical entry body (base64), its
// integrated time, index, log id (hex) and the log's signed entry timestamp.
func tlogEntry(b *cbundle.RekorBundle) (*tlog.Entry, error) {
	body, ok := b.Payload.Body.(string)
	if !ok {
		return nil, errors.New("rekor bundle: body is not a string")
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("rekor bundle: body: %w", err)
	}
	logID, err := hex.DecodeString(b.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("rekor bundle: log id: %w", err)
	}
	e, err := tlog.NewEntry(raw, b.Payload.IntegratedTime, b.Payload.LogIndex, logID, b.SignedEntryTimestamp, nil) //nolint:staticcheck // cosign's bundle is a Rekor v1 entry
	if err != nil {
		return nil, fmt.Errorf("rekor bundle: %w", err)
	}
	return e, nil
}

// signer reads who signed from a verified certificate: the v2 GitHub extensions, else the
// deprecated v1 ones.
func signer(s certificate.Summary, tlogged bool) Signer {
	x := s.Extensions
	first := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	legacyRepo := ""
	if x.GithubWorkflowRepository != "" {
		legacyRepo = "https://github.com/" + x.GithubWorkflowRepository
	}
	return Signer{
		Issuer: x.Issuer, Subject: s.SubjectAlternativeName, Tlog: tlogged,
		GitHub: GitHub{
			Repository:  first(x.SourceRepositoryURI, legacyRepo),
			Ref:         first(x.SourceRepositoryRef, x.GithubWorkflowRef),
			Trigger:     first(x.BuildTrigger, x.GithubWorkflowTrigger),
			WorkflowSHA: first(x.SourceRepositoryDigest, x.GithubWorkflowSHA),
		},
	}
}

// entity is cosign's tag-based material as sigstore-go's SignedEntity: the certificate from
// the layer's annotation (never its chain: intermediates and roots come from the trusted
// root), the signature, the Rekor entry and any signed timestamp.
type entity struct {
	cert       *x509.Certificate
	content    verify.SignatureContent
	entries    []*tlog.Entry
	timestamps [][]byte
}

func (e *entity) HasInclusionPromise() bool {
	for _, t := range e.entries {
		if t.HasInclusionPromise() {
			return true
		}
	}
	return false
}

func (e *entity) HasInclusionProof() bool {
	for _, t := range e.entries {
		if t.HasInclusionProof() {
			return true
		}
	}
	return false
}

func (e *entity) SignatureContent() (verify.SignatureContent, error) { return e.content, nil }
func (e *entity) Timestamps() ([][]byte, error)                      { return e.timestamps, nil }
func (e *entity) TlogEntries() ([]*tlog.Entry, error)                { return e.entries, nil }
func (e *entity) Version() (string, error)                           { return "v0.3", nil }

func (e *entity) VerificationContent() (verify.VerificationContent, error) {
	return bundle.NewCertificate(e.cert), nil
}

// MaxBundle bounds a Sigstore bundle read from a registry.
const MaxBundle = 16 << 20

// VerifyBundle verifies a Sigstore bundle (v0.3, as cosign attaches them as OCI 1.1
// referrers) whose content is a DSSE envelope, and returns who signed and the envelope. The
// caller reads the statement from the envelope only after this returns without error.
func (v *Verifier) VerifyBundle(raw []byte) (Signer, *ssldsse.Envelope, error) {
	if len(raw) > MaxBundle {
		return Signer{}, nil, &Error{ReasonMalformed, fmt.Errorf("bundle of %d bytes is larger than %d", len(raw), MaxBundle)}
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return Signer{}, nil, &Error{ReasonMalformed, fmt.Errorf("bundle: %w", err)}
	}
	if !b.MinVersion("v0.3") {
		return Signer{}, nil, &Error{ReasonMalformed, errors.New("bundle: older than v0.3")}
	}
	env := b.GetDsseEnvelope()
	if env == nil {
		return Signer{}, nil, &Error{ReasonMalformed, errors.New("bundle: not a DSSE envelope (a message signature names no image)")}
	}
	if b.GetVerificationMaterial().GetCertificate() == nil && len(b.GetVerificationMaterial().GetX509CertificateChain().GetCertificates()) == 0 {
		return Signer{}, nil, &Error{ReasonMalformed, errors.New("bundle: no certificate")}
	}
	if !v.ignoreTlog && len(b.GetVerificationMaterial().GetTlogEntries()) == 0 {
		return Signer{}, nil, &Error{ReasonTlogMissing, errors.New("bundle has no Rekor entry")}
	}
	ts, err := b.Timestamps()
	if err != nil {
		return Signer{}, nil, &Error{ReasonMalformed, err}
	}
	sv, err := verify.NewVerifier(v.root, v.options(len(ts) > 0)...)
	if err != nil {
		return Signer{}, nil, err
	}
	res, err := sv.Verify(&b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithoutIdentitiesUnsafe()))
	if err != nil {
		return Signer{}, nil, classify(err)
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		return Signer{}, nil, &Error{ReasonMalformed, errors.New("verified without a certificate")}
	}
	out := &ssldsse.Envelope{PayloadType: env.GetPayloadType(), Payload: base64.StdEncoding.EncodeToString(env.GetPayload())}
	for _, s := range env.GetSignatures() {
		out.Signatures = append(out.Signatures, ssldsse.Signature{KeyID: s.GetKeyid(), Sig: base64.StdEncoding.EncodeToString(s.GetSig())})
	}
	return signer(*res.Signature.Certificate, !v.ignoreTlog), out, nil
}
