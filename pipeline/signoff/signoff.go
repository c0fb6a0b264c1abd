// Package signoff is the signed, role-scoped, expiring attestation of a manual control (an
// organisational control such as a penetration test or an access review). A reviewer signs an
// in-toto v1 statement in a DSSE envelope: its subject is the SHA-256 of the control's
// canonical text (id, title, description), its predicate (PredicateType) names the control,
// the role the reviewer attests in, the evidence (a file's digest or a URL), when it was
// attested and until when it holds. Verification trusts only the reviewer keys of
// policy/data/reviewers.json, each with the roles it may attest; changing the control's text
// voids every attestation of it.
//
// The package must not import pipeline/controls (which imports it) nor anything that talks to
// a registry: an attestation is a file in the repository, checked offline.
package signoff

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/secure-movie-service/sms/threatmodel"
)

// Types and limits of an attestation.
const (
	// PredicateType is the in-toto predicate type of a control review.
	PredicateType = "https://github.com/secure-movie-service/sms/attestation/control-review/v1"
	// PayloadType is the DSSE payload type: an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
	// StatementType is the in-toto statement version.
	StatementType = "https://in-toto.io/Statement/v1"
	// MaxEnvelopeSize bounds an attestation file.
	MaxEnvelopeSize = 64 << 10
	// MaxSignatures bounds the signatures of one envelope that verification tries.
	MaxSignatures = 4
	// MaxValidity is the longest an attestation may hold: a review is renewed at least yearly.
	MaxValidity = 366 * 24 * time.Hour
	// MaxSkew is how far in the future an attestation's time may be (clock skew).
	MaxSkew = 5 * time.Minute
	// DateLayout is the layout of the expiry date (valid through the end of that day, UTC).
	DateLayout = "2006-01-02"
)

// Text is the part of a control an attestation covers. Its canonical encoding is JSON with the
// keys in this (sorted) order, no white space, and no HTML escaping.
type Text struct {
	Description string `json:"description"`
	ID          string `json:"id"`
	Title       string `json:"title"`
}

// Canonical returns the canonical encoding of the control's text: the bytes its digest is of.
func Canonical(c threatmodel.Control) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(Text{Description: c.Description, ID: c.ID, Title: c.Title}) // strings always encode
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Digest returns the lowercase hex SHA-256 of Canonical(c): the attestation's subject digest.
func Digest(c threatmodel.Control) string {
	sum := sha256.Sum256(Canonical(c))
	return hex.EncodeToString(sum[:])
}

// Evidence is what the reviewer looked at: a file (Name and its sha256 Digest) or a URL (URI).
type Evidence struct {
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest,omitempty"`
	URI    string            `json:"uri,omitempty"`
}

// String says what the evidence is, for reports.
func (e Evidence) String() string {
	if e.URI != "" {
		return e.URI
	}
	return fmt.Sprintf("%s (sha256:%s)", e.Name, e.Digest["sha256"])
}

// Predicate is the control-review predicate.
//
//	{
//	  "control": "C-PENTEST",
//	  "role": "security lead (external tester)",
//	  "attester": "Alice Example",
//	  "attested_at": "2026-11-30T18:00:00Z",
//	  "expires": "2027-11-30",
//	  "evidence": {"name": "pentest-2026.pdf", "digest": {"sha256": "<64 hex>"}}
//	}
//
// evidence is either {"name", "digest": {"sha256"}} or {"uri": "https://…"}. attester is the
// reviewer's name as policy/data lists it for the signing key; role is the control's
// attestation.role, which that key must hold.
type Predicate struct {
	Control    string    `json:"control"`
	Role       string    `json:"role"`
	Attester   string    `json:"attester"`
	AttestedAt time.Time `json:"attested_at"`
	Expires    string    `json:"expires"`
	Evidence   Evidence  `json:"evidence"`
}

// Subject is an in-toto subject: the control id and the digest of its canonical text.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Statement is the in-toto v1 statement an attestation signs.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// Signature is one DSSE signature; KeyID is the reviewer key id (pipeline/keys.ID), a hint.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// Envelope is a DSSE envelope; Payload is the base64 statement.
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     string      `json:"payload"`
	Signatures  []Signature `json:"signatures"`
}

// PAE is DSSE's pre-authentication encoding: what is signed.
func PAE(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
}
