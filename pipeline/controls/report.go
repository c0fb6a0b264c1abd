package controls

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/threatmodel"
)

// Report is the outcome of a verification.
type Report struct {
	Model       string    `json:"model"`        // the model's path relative to the root
	ModelDigest string    `json:"model_digest"` // sha256:<hex> of the model's bytes
	Revision    string    `json:"revision"`     // git HEAD ("" outside git)
	Dirty       bool      `json:"dirty"`        // the work tree had uncommitted changes
	Started     time.Time `json:"started"`
	Seconds     float64   `json:"seconds"`
	// Passed: every tested control holds, no control failed (a rejected attestation, a
	// platform setting shown missing), every threat holds; with RequireAttestations also no
	// attestation is missing.
	Passed  bool    `json:"passed"`
	Summary Summary `json:"summary"`
	// Reviewers says how many reviewer keys manual controls were judged with, and from where.
	Reviewers string `json:"reviewers"`
	// AttestationsMissing lists, in model order, the manual controls without a current signed
	// attestation and the platform controls not verifiable here. They do not fail a run
	// unless attestations are required; every report names them.
	AttestationsMissing []MissingAttestation `json:"attestations_missing"`

	Problems []threatmodel.Problem `json:"problems"` // the model's own inconsistencies
	Findings []Finding             `json:"findings"` // every reason the verification fails
	Threats  []ThreatResult        `json:"threats"`
	Controls []ControlResult       `json:"controls"`

	GoPackages   []string `json:"go_packages"` // packages `go test -json` ran (once each)
	GoSeconds    float64  `json:"go_seconds"`
	RegoPackages []string `json:"rego_packages"`
	RegoSeconds  float64  `json:"rego_seconds"`

	model               *threatmodel.Model
	requireAttestations bool
}

// MissingAttestation is a control that holds only once attested or verified on the platform.
type MissingAttestation struct {
	Control string `json:"control"`
	Kind    string `json:"kind"` // manual or platform
	Reason  string `json:"reason"`
}

// Attested is the valid attestation a manual control holds by.
type Attested struct {
	File       string    `json:"file"`
	KeyID      string    `json:"key_id"`
	Attester   string    `json:"attester"`
	Role       string    `json:"role"`
	AttestedAt time.Time `json:"attested_at"`
	Expires    string    `json:"expires"`
	Evidence   string    `json:"evidence"`
}

// Summary counts.
type Summary struct {
	Threats         int `json:"threats"`
	ThreatsPassing  int `json:"threats_passing"`
	Controls        int `json:"controls"`
	ControlsPassing int `json:"controls_passing"`
	Tested          int `json:"tested"`
	TestedPassing   int `json:"tested_passing"`
	Manual          int `json:"manual"`
	ManualPassing   int `json:"manual_passing"`
	Platform        int `json:"platform"`
	PlatformPassing int `json:"platform_passing"`
	// AttestationsMissing counts manual controls without a current attestation and platform
	// controls not verifiable here.
	AttestationsMissing int `json:"attestations_missing"`
	Evidence            int `json:"evidence"`
	EvidencePassing     int `json:"evidence_passing"`
	Findings            int `json:"findings"`
}

// ThreatResult is one threat's outcome: it holds when it has controls and all of them hold.
type ThreatResult struct {
	ID         string   `json:"id"`
	Title      string   `json:"title"`
	Likelihood string   `json:"likelihood"`
	Impact     string   `json:"impact"`
	STRIDE     []string `json:"stride"`
	CWE        []string `json:"cwe"`
	Line       int      `json:"line"`
	Controls   []string `json:"controls"`
	Status     string   `json:"status"`
	Reasons    []string `json:"reasons,omitempty"`
}

// ControlResult is one control's outcome.
type ControlResult struct {
	ID       string           `json:"id"`
	Title    string           `json:"title"`
	Layer    string           `json:"layer"`
	Kind     string           `json:"kind"`
	Line     int              `json:"line"`
	Threats  []string         `json:"threats"`
	Status   string           `json:"status"` // pass, fail, or missing (an attestation)
	Reasons  []string         `json:"reasons,omitempty"`
	Pending  string           `json:"pending,omitempty"`
	Evidence []EvidenceResult `json:"evidence"`
	// Role is the role that may attest a manual control; Attestation the valid attestation it
	// holds by; Check a platform control's check; Missing says why its attestation is missing.
	Role        string    `json:"role,omitempty"`
	Attestation *Attested `json:"attestation,omitempty"`
	Check       string    `json:"check,omitempty"`
	Missing     string    `json:"missing,omitempty"`
}

// EvidenceResult is one evidence id's outcome.
type EvidenceResult struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Files the report writes into its directory.
const (
	FileJSON      = "report.json"
	FileMarkdown  = "report.md"
	FileSARIF     = "controls.sarif"
	FileJUnit     = "junit.xml"
	FilePredicate = "predicate.json"
	FileText      = "report.txt"
)

// ErrNoPredicate says why predicate.json was not written.
var ErrNoPredicate = errors.New("no control-results predicate")

// Predicate returns the control-results predicate (pipeline/predicate.Controls, the shape
// `pipeline attest --type controls` signs and policy/admission reads). It refuses a report
// without a full revision, and one from a dirty work tree unless allowDirty: the predicate
// says "these results are revision R", which is false when the tree differs from R.
func (r *Report) Predicate(allowDirty bool) (*predicate.Controls, error) {
	if len(r.Revision) != 40 && len(r.Revision) != 64 {
		return nil, fmt.Errorf("%w: the source revision is unknown (not a git work tree?)", ErrNoPredicate)
	}
	if r.Dirty && !allowDirty {
		return nil, fmt.Errorf("%w: the work tree has uncommitted changes, so the results are not those of %s", ErrNoPredicate, r.Revision)
	}
	dirty := r.Dirty
	p := &predicate.Controls{Revision: r.Revision, ModelDigest: r.ModelDigest, Dirty: &dirty,
		Passed:   r.Passed && len(r.AttestationsMissing) == 0,
		Controls: map[string]predicate.ControlResult{}, AttestationsMissing: []string{}}
	for _, m := range r.AttestationsMissing {
		p.AttestationsMissing = append(p.AttestationsMissing, m.Control)
	}
	sort.Strings(p.AttestationsMissing)
	for _, c := range r.Controls {
		cr := predicate.ControlResult{Status: c.Status, Kind: c.Kind, Reason: strings.Join(c.Reasons, "; ")}
		for _, e := range c.Evidence {
			cr.Evidence = append(cr.Evidence, predicate.Evidence{ID: e.ID, Status: e.Status})
		}
		if len(cr.Evidence) == 0 {
			cr.Evidence = []predicate.Evidence{{ID: "none", Status: StatusMissing}}
		}
		p.Controls[c.ID] = cr
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoPredicate, err)
	}
	return p, nil
}

// Write writes every report into dir: report.txt (the terminal matrix), report.md, report.json,
// controls.sarif, junit.xml and predicate.json. When the predicate cannot be written the
// other files still are, and the returned note says why.
func (r *Report) Write(dir string, allowDirty bool) (note string, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	var text bytes.Buffer
	r.WriteText(&text, true)
	files := map[string][]byte{FileText: text.Bytes()}
	if files[FileJSON], err = jsonBytes(r); err != nil {
		return "", err
	}
	files[FileMarkdown] = r.Markdown()
	if files[FileSARIF], err = r.SARIF(); err != nil {
		return "", err
	}
	if files[FileJUnit], err = r.JUnit(); err != nil {
		return "", err
	}
	os.Remove(filepath.Join(dir, FilePredicate)) // never leave a stale one behind
	if p, perr := r.Predicate(allowDirty); perr != nil {
		note = perr.Error()
	} else if files[FilePredicate], err = jsonBytes(p); err != nil {
		return "", err
	}
	for name, b := range files {
		if err := writeFile(filepath.Join(dir, name), b); err != nil {
			return "", err
		}
	}
	return note, nil
}

func jsonBytes(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// writeFile writes through a temporary file so a reader never sees half a report.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
