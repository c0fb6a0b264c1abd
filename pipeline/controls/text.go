package controls

import (
	"fmt"
	"io"
	"strings"

	"github.com/secure-movie-service/sms/threatmodel"
)

func mark(status string) string {
	switch status {
	case StatusPass:
		return "pass"
	case StatusSkip:
		return "SKIP"
	case StatusMissing:
		return "MISS"
	}
	return "FAIL"
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func (r *Report) evidenceCount(c ControlResult) string {
	switch c.Kind {
	case threatmodel.ControlManual:
		return "manual"
	case threatmodel.ControlPlatform:
		return "platform"
	}
	n := 0
	for _, e := range c.Evidence {
		if e.Status == StatusPass {
			n++
		}
	}
	return fmt.Sprintf("%d/%d evidence", n, len(c.Evidence))
}

func (r *Report) control(id string) (ControlResult, bool) {
	for _, c := range r.Controls {
		if c.ID == id {
			return c, true
		}
	}
	return ControlResult{}, false
}

// WriteText writes the terminal matrix: threat → controls → evidence → status. With
// verbose, every evidence id of every control is listed; otherwise only failing ones.
func (r *Report) WriteText(w io.Writer, verbose bool) {
	r.writeHeader(w)
	r.writeThreats(w)
	r.writeTested(w, verbose)
	r.writeChecks(w)
	r.writeAttested(w)
	r.writeModelProblems(w)
	r.writeVerdict(w)
}

// writeHeader names the model, the revision and the run.
func (r *Report) writeHeader(w io.Writer) {
	rev := r.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		rev = "(no git revision)"
	}
	if r.Dirty {
		rev += " with uncommitted changes"
	}
	fmt.Fprintf(w, "threat model %s (%s) at %s\n", r.Model, short(r.ModelDigest, 19), rev)
	fmt.Fprintf(w, "go test: %d packages in %.1fs; rego: %d packages in %.1fs\n\n",
		len(r.GoPackages), r.GoSeconds, len(r.RegoPackages), r.RegoSeconds)
}

// writeThreats writes each threat with its controls and their evidence counts.
func (r *Report) writeThreats(w io.Writer) {
	for _, t := range r.Threats {
		fmt.Fprintf(w, "%s %s  %s  [likelihood %s; %s; %s]\n", mark(t.Status), t.ID, t.Title, t.Likelihood,
			strings.Join(t.STRIDE, ", "), strings.Join(t.CWE, ", "))
		if len(t.Controls) == 0 {
			fmt.Fprintf(w, "       FAIL no control answers this threat\n")
		}
		for _, id := range t.Controls {
			c, ok := r.control(id)
			if !ok {
				fmt.Fprintf(w, "  FAIL %-26s does not exist in the model\n", id)
				continue
			}
			fmt.Fprintf(w, "  %s %-26s %-58s %s\n", mark(c.Status), c.ID, short(c.Title, 58), r.evidenceCount(c))
		}
		for _, reason := range t.Reasons {
			if !strings.HasPrefix(reason, "failing controls: ") {
				fmt.Fprintf(w, "       %s\n", reason)
			}
		}
	}
}

// writeChecks writes each check:<name> evidence once, with what it checked or why it failed
// (the vulnerability scans name their database's date here).
func (r *Report) writeChecks(w io.Writer) {
	seen := map[string]bool{}
	for _, c := range r.Controls {
		for _, e := range c.Evidence {
			if e.Kind != threatmodel.EvidenceCheck || seen[e.ID] {
				continue
			}
			if len(seen) == 0 {
				fmt.Fprintf(w, "\nchecks\n")
			}
			seen[e.ID] = true
			fmt.Fprintf(w, "  %s %-28s %s\n", mark(e.Status), e.ID, short(e.Detail, 300))
		}
	}
}

// writeTested writes the tested controls (only failing ones unless verbose) and their evidence.
func (r *Report) writeTested(w io.Writer, verbose bool) {
	fmt.Fprintf(w, "\ntested controls\n")
	for _, c := range r.Controls {
		if c.Kind != threatmodel.ControlTested || (!verbose && c.Status == StatusPass) {
			continue
		}
		fmt.Fprintf(w, "%s %s  %s  (%s; line %d)\n", mark(c.Status), c.ID, c.Title, r.evidenceCount(c), c.Line)
		for _, e := range c.Evidence {
			if !verbose && e.Status == StatusPass {
				continue
			}
			fmt.Fprintf(w, "    %s %s\n", mark(e.Status), e.ID)
			if e.Detail != "" {
				fmt.Fprintf(w, "         %s\n", short(e.Detail, 300))
			}
		}
		for _, reason := range c.Reasons {
			if !strings.HasPrefix(reason, "evidence ") {
				fmt.Fprintf(w, "    %s\n", reason)
			}
		}
		if c.Pending != "" && c.Status != StatusPass {
			fmt.Fprintf(w, "    pending: %s\n", c.Pending)
		}
	}
	if !verbose && r.Summary.TestedPassing == r.Summary.Tested {
		fmt.Fprintf(w, "  all %d hold\n", r.Summary.Tested)
	}
}

// writeModelProblems lists the findings about the model itself.
func (r *Report) writeModelProblems(w io.Writer) {
	var other []Finding
	for _, f := range r.Findings {
		if f.Control == "" && f.Threat == "" {
			other = append(other, f)
		}
	}
	if len(other) > 0 {
		fmt.Fprintf(w, "\nmodel problems\n")
		for _, f := range other {
			fmt.Fprintf(w, "  %s\n", f.Message)
		}
	}
}

// writeVerdict writes the one-line summary.
func (r *Report) writeVerdict(w io.Writer) {
	s := r.Summary
	verdict := "PASS"
	if r.Passed && s.AttestationsMissing > 0 {
		verdict = "PASS (tested controls; attestations missing)"
	}
	if !r.Passed {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\n%s: controls %d/%d hold (tested %d/%d, manual %d/%d, platform %d/%d); threats %d/%d; evidence %d/%d; %d findings; %d attestations missing\n",
		verdict, s.ControlsPassing, s.Controls, s.TestedPassing, s.Tested, s.ManualPassing, s.Manual, s.PlatformPassing, s.Platform,
		s.ThreatsPassing, s.Threats, s.EvidencePassing, s.Evidence, s.Findings, s.AttestationsMissing)
}

// writeAttested writes the manual and platform controls — who attested and until when, what
// the platform showed, which attestation was rejected and why — and then, plainly, every
// attestation still missing.
func (r *Report) writeAttested(w io.Writer) {
	fmt.Fprintf(w, "\nattested and platform controls (reported apart, never counted as tested; %s)\n", r.Reviewers)
	for _, c := range r.Controls {
		if c.Kind == threatmodel.ControlTested {
			continue
		}
		scope := "role: " + c.Role
		if c.Kind == threatmodel.ControlPlatform {
			scope = "check: " + c.Check
		}
		fmt.Fprintf(w, "%s %s  %s  (%s, %s)\n", mark(c.Status), c.ID, c.Title, c.Kind, scope)
		for _, e := range c.Evidence {
			if e.Kind == "attestation" || e.Kind == "platform" || e.Status != StatusPass {
				fmt.Fprintf(w, "    %s %s\n         %s\n", mark(e.Status), e.ID, short(e.Detail, 300))
			}
		}
		for _, reason := range c.Reasons {
			if !strings.HasPrefix(reason, "evidence ") && !strings.HasPrefix(reason, "attestation ") && !strings.HasPrefix(reason, "platform check ") {
				fmt.Fprintf(w, "    %s\n", reason)
			}
		}
	}
	fmt.Fprintf(w, "\nattestations missing: %d\n", len(r.AttestationsMissing))
	for _, m := range r.AttestationsMissing {
		fmt.Fprintf(w, "  %s (%s): %s\n", m.Control, m.Kind, m.Reason)
	}
}
