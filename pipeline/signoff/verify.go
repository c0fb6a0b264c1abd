package signoff

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/threatmodel"
)

// Errors of verification. Every reason an attestation does not count wraps one of them.
var (
	// ErrRejected: the attestation is wrong (not a reviewer's signature, role not held,
	// attested in the future, the control's text changed, malformed). It always fails.
	ErrRejected = errors.New("rejected")
	// ErrExpired: the attestation was valid and has expired; the control needs a new one.
	ErrExpired = errors.New("expired")
)

// MaxFiles bounds the attestation files read for one control.
const MaxFiles = 64

// Attestation is a verified attestation.
type Attestation struct {
	File      string    `json:"file,omitempty"`
	KeyID     string    `json:"key_id"`
	Predicate Predicate `json:"predicate"`
}

// ParseEnvelope decodes an attestation file strictly: at most MaxEnvelopeSize bytes, one
// unambiguous JSON object with only the DSSE fields, a base64 payload, 1..MaxSignatures
// signatures.
func ParseEnvelope(raw []byte) (*Envelope, []byte, error) {
	if len(raw) > MaxEnvelopeSize {
		return nil, nil, fmt.Errorf("envelope: larger than %d bytes", MaxEnvelopeSize)
	}
	var env Envelope
	if err := predicate.Strict(raw, &env); err != nil {
		return nil, nil, fmt.Errorf("envelope: %w", err)
	}
	if env.PayloadType != PayloadType {
		return nil, nil, fmt.Errorf("envelope: payload type %q, want %s", env.PayloadType, PayloadType)
	}
	if len(env.Signatures) == 0 || len(env.Signatures) > MaxSignatures {
		return nil, nil, fmt.Errorf("envelope: %d signatures (want 1 to %d)", len(env.Signatures), MaxSignatures)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("envelope: payload: %w", err)
	}
	return &env, payload, nil
}

// ParseStatement decodes a statement strictly and checks its types and single subject.
func ParseStatement(payload []byte) (*Statement, error) {
	var st Statement
	if err := predicate.Strict(payload, &st); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	switch {
	case st.Type != StatementType:
		return nil, fmt.Errorf("statement: _type %q, want %s", st.Type, StatementType)
	case st.PredicateType != PredicateType:
		return nil, fmt.Errorf("statement: predicateType %q, want %s", st.PredicateType, PredicateType)
	case len(st.Subject) != 1 || len(st.Subject[0].Digest) != 1 || st.Subject[0].Digest["sha256"] == "":
		return nil, errors.New("statement: want one subject with only a sha256 digest")
	}
	return &st, nil
}

// Verify checks one attestation of control c at now: a DSSE signature by a reviewer key, the
// statement's shape, the subject (the control's current text), the role, the dates. It
// returns the attestation, or an error wrapping ErrRejected or ErrExpired that says why.
func Verify(raw []byte, c threatmodel.Control, reviewers *Reviewers, now time.Time) (*Attestation, error) {
	env, payload, err := ParseEnvelope(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	keyID, err := reviewers.signer(env, payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	st, err := ParseStatement(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	sub := st.Subject[0]
	if sub.Name != c.ID {
		return nil, fmt.Errorf("%w: the subject is %q, not %s", ErrRejected, sub.Name, c.ID)
	}
	if want := Digest(c); sub.Digest["sha256"] != want {
		return nil, fmt.Errorf("%w: the control's text changed since it was attested (subject sha256:%.12s…, now sha256:%.12s…); attest it again", ErrRejected, sub.Digest["sha256"], want)
	}
	r, _ := reviewers.Lookup(keyID)
	if err := checkPredicate(&st.Predicate, c, r, now); err != nil {
		return nil, err
	}
	return &Attestation{KeyID: keyID, Predicate: st.Predicate}, nil
}

// signer returns the id of the reviewer key that signed the envelope. A signature's keyid is
// only a hint: with a known keyid that key alone is tried, otherwise every reviewer key.
func (rs *Reviewers) signer(env *Envelope, payload []byte) (string, error) {
	pae := PAE(env.PayloadType, payload)
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			continue
		}
		ids := rs.ids
		if _, ok := rs.byID[s.KeyID]; ok {
			ids = []string{s.KeyID}
		}
		for _, id := range ids {
			if rs.byID[id].verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(pae)) == nil {
				return id, nil
			}
		}
	}
	return "", errors.New("not signed by a reviewer key in policy/data")
}

// Result is the outcome of one attestation file.
type Result struct {
	File        string       `json:"file"`
	Attestation *Attestation `json:"attestation,omitempty"`
	Err         error        `json:"-"`
	Reason      string       `json:"reason,omitempty"`
}

// Outcome is what the attestations of one control add up to.
type Outcome struct {
	Valid    *Attestation // the current attestation that holds longest; nil if none
	Expired  []Result     // were valid, have expired
	Rejected []Result     // wrong: always a failure
}

// Check verifies every attestation file of control c under dir/<c.ID>/ (dir is usually
// threatmodel/attestations). A missing directory means no attestation.
func Check(dir string, c threatmodel.Control, reviewers *Reviewers, now time.Time) (Outcome, error) {
	var out Outcome
	sub := filepath.Join(dir, c.ID)
	entries, err := os.ReadDir(sub)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("read attestations of %s: %w", c.ID, err)
	}
	if len(entries) > MaxFiles {
		return out, fmt.Errorf("read attestations of %s: more than %d files", c.ID, MaxFiles)
	}
	for _, e := range entries {
		p := filepath.Join(sub, e.Name())
		res := Result{File: filepath.ToSlash(p)}
		switch {
		case e.IsDir() || !strings.HasSuffix(e.Name(), ".json"):
			res.Err = fmt.Errorf("%w: not an attestation file (want <name>.json)", ErrRejected)
		default:
			res.Attestation, res.Err = verifyFile(p, c, reviewers, now)
		}
		switch {
		case res.Err == nil:
			res.Attestation.File = res.File
			if out.Valid == nil || res.Attestation.Predicate.Expires > out.Valid.Predicate.Expires {
				out.Valid = res.Attestation
			}
		case errors.Is(res.Err, ErrExpired):
			res.Reason = res.Err.Error()
			out.Expired = append(out.Expired, res)
		default:
			res.Reason = res.Err.Error()
			out.Rejected = append(out.Rejected, res)
		}
	}
	sort.Slice(out.Rejected, func(i, j int) bool { return out.Rejected[i].File < out.Rejected[j].File })
	return out, nil
}

func verifyFile(p string, c threatmodel.Control, reviewers *Reviewers, now time.Time) (*Attestation, error) {
	f, err := os.Open(p) // #nosec G304 -- a file under the model's attestation directory
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxEnvelopeSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read: %w", ErrRejected, err)
	}
	return Verify(raw, c, reviewers, now)
}
