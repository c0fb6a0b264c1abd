package signoff

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/threatmodel"
)

// MaxEvidenceSize bounds an evidence file that is hashed.
const MaxEvidenceSize = 1 << 30

// EvidenceOf returns the evidence for ref: an https URL as it is, or a file's base name and
// SHA-256.
func EvidenceOf(ref string) (Evidence, error) {
	if strings.Contains(ref, "://") {
		u, err := url.Parse(ref)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return Evidence{}, fmt.Errorf("evidence %q: want an https URL or a file", ref)
		}
		return Evidence{URI: u.String()}, nil
	}
	f, err := os.Open(ref) // #nosec G304 -- the reviewer names the evidence file
	if err != nil {
		return Evidence{}, fmt.Errorf("evidence: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, MaxEvidenceSize+1))
	if err != nil {
		return Evidence{}, fmt.Errorf("evidence %s: %w", ref, err)
	}
	if n > MaxEvidenceSize {
		return Evidence{}, fmt.Errorf("evidence %s: larger than %d bytes", ref, MaxEvidenceSize)
	}
	return Evidence{Name: filepath.Base(ref), Digest: map[string]string{"sha256": hex.EncodeToString(h.Sum(nil))}}, nil
}

// Request is what a reviewer attests.
type Request struct {
	Control  threatmodel.Control
	Evidence Evidence
	Expires  string    // YYYY-MM-DD
	Now      time.Time // the attestation's time
}

// Sign makes the signed attestation (a DSSE envelope, indented JSON) of req with the
// reviewer's key. It refuses, with an error wrapping ErrRejected, what verification would
// refuse: a control that is not manual,
// a key that is not a reviewer's or whose reviewer does not hold the control's role, an expiry
// not after today or more than MaxValidity ahead, malformed evidence.
func Sign(s *keys.Signer, reviewers *Reviewers, req Request) ([]byte, *Predicate, error) {
	c := req.Control
	if c.Kind != threatmodel.ControlManual || c.Attestation == nil {
		return nil, nil, fmt.Errorf("attest %s: %w: not a manual control", c.ID, ErrRejected)
	}
	r, ok := reviewers.Lookup(s.ID)
	if !ok {
		return nil, nil, fmt.Errorf("attest %s: %w: key %s is not a reviewer key in policy/data", c.ID, ErrRejected, s.ID)
	}
	p := &Predicate{Control: c.ID, Role: c.Attestation.Role, Attester: r.Name,
		AttestedAt: req.Now.UTC().Truncate(time.Second), Expires: req.Expires, Evidence: req.Evidence}
	if err := checkPredicate(p, c, r, req.Now); err != nil {
		return nil, nil, fmt.Errorf("attest %s: %w", c.ID, err)
	}
	st := Statement{Type: StatementType, PredicateType: PredicateType, Predicate: *p,
		Subject: []Subject{{Name: c.ID, Digest: map[string]string{"sha256": Digest(c)}}}}
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, nil, fmt.Errorf("attest %s: %w", c.ID, err)
	}
	sig, err := s.SignMessage(bytes.NewReader(PAE(PayloadType, payload)))
	if err != nil {
		return nil, nil, fmt.Errorf("attest %s: sign: %w", c.ID, err)
	}
	env := Envelope{PayloadType: PayloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []Signature{{KeyID: s.ID, Sig: base64.StdEncoding.EncodeToString(sig)}}}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, nil, fmt.Errorf("attest %s: %w", c.ID, err)
	}
	return append(out, '\n'), p, nil
}

// Write stores an envelope as dir/<control id>/<UTC time>-<12 hex of its SHA-256>.json and
// returns the path. It never overwrites a file.
func Write(dir, controlID string, envelope []byte, now time.Time) (string, error) {
	sum := sha256.Sum256(envelope)
	sub := filepath.Join(dir, controlID)
	if err := os.MkdirAll(sub, 0o750); err != nil {
		return "", fmt.Errorf("write attestation: %w", err)
	}
	p := filepath.Join(sub, now.UTC().Format("20060102T150405Z")+"-"+hex.EncodeToString(sum[:6])+".json")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644) // #nosec G302 G304 -- attestations are public and committed
	if err != nil {
		return "", fmt.Errorf("write attestation: %w", err)
	}
	if _, err := f.Write(envelope); err != nil {
		f.Close()
		return "", fmt.Errorf("write attestation %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write attestation %s: %w", p, err)
	}
	return p, nil
}

// checkPredicate checks a predicate against the control and the reviewer who signed it, at
// now. An expired predicate returns an error wrapping ErrExpired; every other error means the
// attestation is wrong.
func checkPredicate(p *Predicate, c threatmodel.Control, r Reviewer, now time.Time) error {
	switch {
	case p.Control != c.ID:
		return fmt.Errorf("%w: the predicate names control %q", ErrRejected, p.Control)
	case c.Attestation == nil || p.Role != c.Attestation.Role:
		return fmt.Errorf("%w: attests role %q; the control needs %q", ErrRejected, p.Role, roleOf(c))
	case !r.Holds(p.Role):
		return fmt.Errorf("%w: reviewer %s does not hold role %q (holds %s)", ErrRejected, r.Name, p.Role, strings.Join(r.Roles, ", "))
	case p.Attester != r.Name:
		return fmt.Errorf("%w: attester %q is not the key's reviewer %q", ErrRejected, p.Attester, r.Name)
	}
	if err := checkEvidence(p.Evidence); err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	exp, err := time.Parse(DateLayout, p.Expires)
	if err != nil {
		return fmt.Errorf("%w: expires %q is not YYYY-MM-DD", ErrRejected, p.Expires)
	}
	end := exp.Add(24 * time.Hour) // valid through the expiry day, UTC
	switch {
	case p.AttestedAt.IsZero():
		return fmt.Errorf("%w: no attested_at", ErrRejected)
	case p.AttestedAt.After(now.Add(MaxSkew)):
		return fmt.Errorf("%w: attested in the future (%s)", ErrRejected, p.AttestedAt.UTC().Format(time.RFC3339))
	case !end.After(p.AttestedAt):
		return fmt.Errorf("%w: expires %s, before it was attested", ErrRejected, p.Expires)
	case end.Sub(p.AttestedAt) > MaxValidity+24*time.Hour:
		return fmt.Errorf("%w: expires %s, more than %d days after it was attested", ErrRejected, p.Expires, int(MaxValidity.Hours()/24))
	case !now.Before(end):
		return fmt.Errorf("%w on %s (attested by %s on %s)", ErrExpired, p.Expires, p.Attester, p.AttestedAt.UTC().Format(DateLayout))
	}
	return nil
}

func checkEvidence(e Evidence) error {
	if e.URI != "" {
		u, err := url.Parse(e.URI)
		if err != nil || u.Scheme != "https" || u.Host == "" || e.Name != "" || e.Digest != nil {
			return errors.New("evidence: a URI must be https and stand alone")
		}
		return nil
	}
	h, ok := e.Digest["sha256"]
	b, err := hex.DecodeString(h)
	if strings.TrimSpace(e.Name) == "" || len(e.Digest) != 1 || !ok || err != nil || len(b) != sha256.Size || h != strings.ToLower(h) {
		return errors.New("evidence: want a file name and its sha256 (64 lowercase hex), or an https uri")
	}
	return nil
}

func roleOf(c threatmodel.Control) string {
	if c.Attestation == nil {
		return ""
	}
	return c.Attestation.Role
}
