package controls

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/signoff"
	policydata "github.com/secure-movie-service/sms/policy/data"
	"github.com/secure-movie-service/sms/threatmodel"
)

// ReviewersFile is where a repository keeps its reviewer keys, relative to its root.
const ReviewersFile = "policy/data/reviewers.json"

// loadReviewers returns the reviewers document and where it came from: o.Reviewers if set,
// else Root's policy/data/reviewers.json, else the one embedded in this binary (policy/data).
func loadReviewers(root string, given []byte) ([]byte, string, error) {
	if given != nil {
		return given, "given", nil
	}
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(ReviewersFile))) // #nosec G304 -- under the repository root the operator names
	if errors.Is(err, os.ErrNotExist) {
		return policydata.Reviewers, "embedded " + ReviewersFile, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrReviewers, err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, signoff.MaxReviewersSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("%w: read %s: %w", ErrReviewers, ReviewersFile, err)
	}
	return raw, ReviewersFile, nil
}

// AttestOptions say what a reviewer attests.
type AttestOptions struct {
	Root     string // repository root; default "."
	Model    string // relative to Root; default threatmodel/threatmodel.yaml
	Dir      string // attestation directory relative to Root; default threatmodel/attestations
	Control  string // the manual control's id
	Evidence string // a file or an https URL
	Expires  string // YYYY-MM-DD
	Signer   *keys.Signer
	Now      time.Time // default time.Now
}

// Attest signs the attestation of a manual control with the reviewer's key and writes it under
// Dir/<control id>/. The key must be a reviewer key of the repository's policy/data that
// holds the control's role; the attestation is verified as verify-controls would before it is
// written. It returns the file written (relative to Root) and the predicate.
func Attest(o AttestOptions) (string, *signoff.Predicate, error) {
	if o.Root == "" {
		o.Root = "."
	}
	if o.Model == "" {
		o.Model = filepath.Join("threatmodel", "threatmodel.yaml")
	}
	if o.Dir == "" {
		o.Dir = filepath.Join("threatmodel", "attestations")
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	m, _, err := threatmodel.Load(filepath.Join(o.Root, o.Model))
	if err != nil {
		return "", nil, fmt.Errorf("attest: %w", err)
	}
	c, ok := m.Control(o.Control)
	if !ok {
		return "", nil, fmt.Errorf("attest: no control %s in %s", o.Control, o.Model)
	}
	raw, _, err := loadReviewers(o.Root, nil)
	if err != nil {
		return "", nil, fmt.Errorf("attest: %w", err)
	}
	reviewers, err := signoff.ParseReviewers(raw)
	if err != nil {
		return "", nil, fmt.Errorf("attest: %w", err)
	}
	ev, err := signoff.EvidenceOf(o.Evidence)
	if err != nil {
		return "", nil, fmt.Errorf("attest: %w", err)
	}
	env, p, err := signoff.Sign(o.Signer, reviewers, signoff.Request{Control: *c, Evidence: ev, Expires: o.Expires, Now: o.Now})
	if err != nil {
		return "", nil, err
	}
	if _, err := signoff.Verify(env, *c, reviewers, o.Now); err != nil {
		return "", nil, fmt.Errorf("attest %s: the new attestation does not verify: %w", c.ID, err)
	}
	path, err := signoff.Write(filepath.Join(o.Root, o.Dir), c.ID, env, o.Now)
	if err != nil {
		return "", nil, err
	}
	return filepath.ToSlash(relTo(o.Root, path)), p, nil
}
