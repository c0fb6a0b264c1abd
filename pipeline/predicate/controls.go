package predicate

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Controls is the control-results predicate (type TypeControls): the outcome of running the
// threat model's evidence (`make verify-controls`) at one source revision. It is signed onto
// the image with `pipeline attest --type controls`, and admission requires it to pass for the
// same revision as the image's provenance.
//
//	{
//	  "revision": "<40-hex commit the evidence ran at>",
//	  "model_digest": "sha256:<hex SHA-256 of threatmodel/threatmodel.yaml>",
//	  "dirty": false,
//	  "passed": false,
//	  "attestations_missing": ["C-PENTEST"],
//	  "controls": {
//	    "C-AUTHN-01": {
//	      "status": "pass",
//	      "kind": "tested",
//	      "evidence": [{"id": "go:…/auth.TestVerify/C-AUTHN-01_rejects_alg_none", "status": "pass"}]
//	    },
//	    "C-PENTEST": {
//	      "status": "missing",
//	      "kind": "manual",
//	      "reason": "attestation missing: no signed attestation; …",
//	      "evidence": [{"id": "attestation:none", "status": "missing"}]
//	    }
//	  }
//	}
//
// "dirty" says whether the work tree differed from revision when the evidence ran; it is
// required, and admission never admits results from a dirty tree.
// A control's status is "pass", "fail", or "missing": a manual control without a current
// signed attestation (pipeline/signoff), or a platform control that could not be verified
// here. Evidence items are "pass", "fail", "skip" or "missing"; a manual control's evidence
// ids are "attestation:<file>" (or "attestation:none"), a platform control's
// "platform:<check>". "attestations_missing" lists, sorted, exactly the controls whose status
// is "missing" (so policy can name each, and treat them apart from failures). "passed" is
// true exactly when every control passed: a predicate with a missing attestation never has
// passed true. Optional fields: "reason" on a control (why it failed or what is missing) and
// "kind" ("tested", "manual" or "platform"; "missing" requires manual or platform).
type Controls struct {
	Revision    string `json:"revision"`
	ModelDigest string `json:"model_digest"`
	Dirty       *bool  `json:"dirty"`
	Passed      bool   `json:"passed"`
	// AttestationsMissing lists, sorted, the controls whose status is StatusMissing (absent: none).
	AttestationsMissing []string                 `json:"attestations_missing,omitempty"`
	Controls            map[string]ControlResult `json:"controls"`
}

// ControlResult is one control's outcome.
type ControlResult struct {
	Status   string     `json:"status"`
	Kind     string     `json:"kind,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	Evidence []Evidence `json:"evidence"`
}

// Evidence is one evidence id and its outcome.
type Evidence struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// Control kinds in a controls predicate (threatmodel's kinds).
const (
	ControlKindTested   = "tested"
	ControlKindManual   = "manual"
	ControlKindPlatform = "platform"
)

// Status values.
const (
	StatusPass    = "pass"
	StatusFail    = "fail"
	StatusSkip    = "skip"
	StatusMissing = "missing"
)

// ControlsSummary is the verified summary of a controls predicate. Statuses keeps every
// control's status so that policy can name the ones that failed; Failed lists the controls
// whose status is "fail", AttestationsMissing those whose status is "missing" (never both).
type ControlsSummary struct {
	Revision            string            `json:"revision"`
	ModelDigest         string            `json:"model_digest"`
	Dirty               bool              `json:"dirty"`
	Passed              bool              `json:"passed"`
	Total               int               `json:"total"`
	Failed              []string          `json:"failed"`
	AttestationsMissing []string          `json:"attestations_missing,omitempty"`
	Statuses            map[string]string `json:"statuses"`
}

var (
	controlID   = regexp.MustCompile(`^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$`)
	modelDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// Validate checks the shape and the internal consistency of a controls predicate.
func (c *Controls) Validate() error {
	var problems []string
	if !isHex(c.Revision, 40) && !isHex(c.Revision, 64) {
		problems = append(problems, "revision is not a full commit id")
	}
	if !modelDigest.MatchString(c.ModelDigest) {
		problems = append(problems, "model_digest is not sha256:<64 hex>")
	}
	if c.Dirty == nil {
		problems = append(problems, "dirty is missing")
	}
	if len(c.Controls) == 0 {
		problems = append(problems, "no controls")
	}
	allPass := true
	var missing []string
	ids := make([]string, 0, len(c.Controls))
	for id := range c.Controls {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := c.Controls[id]
		if !controlID.MatchString(id) {
			problems = append(problems, fmt.Sprintf("control id %q is not like C-AREA-01", id))
		}
		switch {
		case r.Status != StatusPass && r.Status != StatusFail && r.Status != StatusMissing:
			problems = append(problems, fmt.Sprintf("%s: status %q is not pass, fail or missing", id, r.Status))
		case r.Status == StatusMissing && r.Kind != ControlKindManual && r.Kind != ControlKindPlatform:
			problems = append(problems, fmt.Sprintf("%s: status missing (an attestation) needs kind manual or platform", id))
		}
		if r.Status == StatusMissing {
			missing = append(missing, id)
		}
		if r.Kind != "" && r.Kind != ControlKindTested && r.Kind != ControlKindManual && r.Kind != ControlKindPlatform {
			problems = append(problems, fmt.Sprintf("%s: kind %q is not tested, manual or platform", id, r.Kind))
		}
		if len(r.Evidence) == 0 {
			problems = append(problems, id+": no evidence")
		}
		for _, e := range r.Evidence {
			switch e.Status {
			case StatusPass, StatusFail, StatusSkip, StatusMissing:
			default:
				problems = append(problems, fmt.Sprintf("%s: evidence %q status %q", id, e.ID, e.Status))
			}
			if e.ID == "" {
				problems = append(problems, id+": evidence without id")
			}
			if r.Status == StatusPass && e.Status != StatusPass {
				problems = append(problems, fmt.Sprintf("%s: passes although evidence %q is %s", id, e.ID, e.Status))
			}
		}
		if r.Status != StatusPass {
			allPass = false
		}
	}
	if c.Passed && !allPass {
		problems = append(problems, "passed is true although a control failed or misses an attestation")
	}
	if !slices.Equal(missing, c.AttestationsMissing) && (len(missing) > 0 || len(c.AttestationsMissing) > 0) {
		problems = append(problems, fmt.Sprintf("attestations_missing %v is not the controls with status missing %v", c.AttestationsMissing, missing))
	}
	if len(problems) > 0 {
		return errors.New("controls: " + strings.Join(problems, "; "))
	}
	return nil
}

func summarizeControls(raw []byte) (*ControlsSummary, error) {
	var c Controls
	if err := strict(raw, &c); err != nil {
		return nil, fmt.Errorf("controls: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &ControlsSummary{Revision: c.Revision, ModelDigest: c.ModelDigest, Dirty: *c.Dirty, Passed: c.Passed, Total: len(c.Controls),
		Failed: []string{}, AttestationsMissing: []string{}, Statuses: map[string]string{}}
	for id, r := range c.Controls {
		s.Statuses[id] = r.Status
		switch r.Status {
		case StatusFail:
			s.Failed = append(s.Failed, id)
		case StatusMissing:
			s.AttestationsMissing = append(s.AttestationsMissing, id)
		}
	}
	sort.Strings(s.Failed)
	sort.Strings(s.AttestationsMissing)
	return s, nil
}
