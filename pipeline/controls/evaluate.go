package controls

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/threatmodel"
)

// Finding rules: why a verification fails. They are the SARIF rule ids.
const (
	RuleModelInvalid       = "TM001" // the model is inconsistent (duplicate id, dangling reference, …)
	RuleThreatNoControl    = "TM002" // a threat names no control
	RuleControlNoThreat    = "TM003" // a control answers no threat
	RuleControlNoEvidence  = "TM004" // a tested control lists no evidence
	RuleEvidenceMissing    = "TM005" // an evidence id resolves to no test that ran, or to no check
	RuleEvidenceFailed     = "TM006" // a test or check failed
	RuleEvidenceSkipped    = "TM007" // a test was skipped
	RuleManualExpired      = "TM008" // a manual control's attestation expired
	RuleManualUnattested   = "TM009" // a manual control was never attested
	RuleImplementationGone = "TM010" // an implementation path does not exist
	RuleTrace              = "TM011" // a symbol is missing, or model and policy disagree on who implements a control
)

// Rules describes every rule, for SARIF and the Markdown report.
var Rules = []struct{ ID, Name, Text string }{
	{RuleModelInvalid, "model-invalid", "The threat model is inconsistent."},
	{RuleThreatNoControl, "threat-without-control", "A threat names no control."},
	{RuleControlNoThreat, "control-without-threat", "A control answers no threat."},
	{RuleControlNoEvidence, "control-without-evidence", "A tested control lists no evidence."},
	{RuleEvidenceMissing, "evidence-missing", "An evidence id resolves to no test that ran, or to no check the pipeline provides."},
	{RuleEvidenceFailed, "evidence-failed", "A test or check named as evidence failed."},
	{RuleEvidenceSkipped, "evidence-skipped", "A test named as evidence was skipped."},
	{RuleManualExpired, "manual-control-expired", "A manual control's attestation has expired."},
	{RuleManualUnattested, "manual-control-unattested", "A manual control has never been attested."},
	{RuleImplementationGone, "implementation-missing", "A path named as a control's implementation does not exist."},
	{RuleTrace, "traceability", "An implementation symbol (path#Symbol) does not exist, a control names no symbol, or a Rego rule's custom.controls and the model disagree."},
}

// Finding is one reason the verification fails.
type Finding struct {
	Rule     string `json:"rule"`
	Control  string `json:"control,omitempty"`
	Threat   string `json:"threat,omitempty"`
	Evidence string `json:"evidence,omitempty"`
	Line     int    `json:"line,omitempty"`
	Message  string `json:"message"`
}

func (f Finding) String() string {
	who := f.Control
	if who == "" {
		who = f.Threat
	}
	if who == "" {
		who = "model"
	}
	s := who + ": " + f.Message
	if f.Evidence != "" && !strings.Contains(f.Message, f.Evidence) {
		s += " [" + f.Evidence + "]"
	}
	return s
}

type evaluator struct {
	o       *Options
	claims  map[string]map[string][]string // control → Rego file → rules naming it (custom.controls)
	goRes   *goResults
	regoRes *regoResults
	checks  map[string]error
	now     time.Time
}

// evaluate fills the report's threats, controls, findings and summary.
func (r *Report) evaluate(m *threatmodel.Model, parsed map[string]threatmodel.Evidence, ev *evaluator) {
	problemsOf := map[string][]threatmodel.Problem{}
	for _, p := range r.Problems {
		problemsOf[p.ID] = append(problemsOf[p.ID], p)
	}
	known := map[string]bool{}

	for _, c := range m.Controls {
		known[c.ID] = true
		cr := ControlResult{ID: c.ID, Title: c.Title, Layer: c.Layer, Kind: c.Kind, Line: c.Line,
			Threats: m.ThreatsOf(c.ID), Pending: c.Pending, Attestation: c.Attestation}
		fail := func(rule, evidence, msg string) {
			cr.Reasons = append(cr.Reasons, msg)
			r.Findings = append(r.Findings, Finding{Rule: rule, Control: c.ID, Evidence: evidence, Line: c.Line, Message: msg})
		}
		for _, p := range problemsOf[c.ID] {
			fail(RuleModelInvalid, "", p.Msg)
		}
		if len(cr.Threats) == 0 {
			fail(RuleControlNoThreat, "", "answers no threat (no threat lists it)")
		}
		gone := false
		for _, entry := range c.Implementation {
			if p, _ := splitImpl(entry); !exists(ev.o.path(p)) {
				gone = true
				fail(RuleImplementationGone, "", fmt.Sprintf("implementation path %s does not exist", p))
			}
		}
		if !gone {
			for _, msg := range ev.traceFindings(c, ev.claims, ev.rel) {
				fail(RuleTrace, "", msg)
			}
		}
		switch c.Kind {
		case threatmodel.ControlManual:
			e := ev.manual(c)
			cr.Evidence = []EvidenceResult{e}
			switch e.Status {
			case StatusMissing:
				fail(RuleManualUnattested, "", e.Detail)
			case StatusFail:
				fail(RuleManualExpired, "", e.Detail)
			}
		default:
			if len(c.Evidence) == 0 {
				fail(RuleControlNoEvidence, "", "has no evidence")
			}
			for _, id := range c.Evidence {
				e, ok := parsed[id]
				var res EvidenceResult
				if !ok {
					res = EvidenceResult{ID: id, Status: StatusMissing, Detail: "malformed evidence id"}
				} else {
					res = ev.evidence(e)
				}
				cr.Evidence = append(cr.Evidence, res)
				switch res.Status {
				case StatusMissing:
					fail(RuleEvidenceMissing, id, fmt.Sprintf("evidence %s: %s", id, res.Detail))
				case StatusFail:
					fail(RuleEvidenceFailed, id, fmt.Sprintf("evidence %s failed: %s", id, res.Detail))
				case StatusSkip:
					fail(RuleEvidenceSkipped, id, fmt.Sprintf("evidence %s was skipped: %s", id, res.Detail))
				}
			}
		}
		cr.Status = StatusPass
		if len(cr.Reasons) > 0 {
			cr.Status = StatusFail
		}
		r.Controls = append(r.Controls, cr)
	}
	status := map[string]string{}
	for _, c := range r.Controls {
		status[c.ID] = c.Status
	}

	for _, t := range m.Threats {
		known[t.ID] = true
		tr := ThreatResult{ID: t.ID, Title: t.Title, Likelihood: t.Likelihood, Impact: t.Impact,
			STRIDE: t.STRIDE, CWE: t.CWE, Line: t.Line, Controls: t.Controls}
		fail := func(rule, msg string) {
			tr.Reasons = append(tr.Reasons, msg)
			r.Findings = append(r.Findings, Finding{Rule: rule, Threat: t.ID, Line: t.Line, Message: msg})
		}
		for _, p := range problemsOf[t.ID] {
			fail(RuleModelInvalid, p.Msg)
		}
		if len(t.Controls) == 0 {
			fail(RuleThreatNoControl, "has no control")
		}
		var failing []string
		for _, c := range t.Controls {
			if status[c] == StatusFail {
				failing = append(failing, c)
			}
		}
		if len(failing) > 0 {
			tr.Reasons = append(tr.Reasons, "failing controls: "+strings.Join(failing, ", "))
		}
		tr.Status = StatusPass
		if len(tr.Reasons) > 0 {
			tr.Status = StatusFail
		}
		r.Threats = append(r.Threats, tr)
	}
	for _, id := range sortedKeys(ev.claims) {
		if !known[id] {
			r.Findings = append(r.Findings, Finding{Rule: RuleTrace, Message: fmt.Sprintf("policy rules name %s in custom.controls, which the model does not define", id)})
		}
	}
	for _, p := range r.Problems {
		if !known[p.ID] {
			r.Findings = append(r.Findings, Finding{Rule: RuleModelInvalid, Line: p.Line, Message: p.String()})
		}
	}
	r.summarise()
}

func (r *Report) summarise() {
	s := Summary{Threats: len(r.Threats), Controls: len(r.Controls), Findings: len(r.Findings)}
	for _, t := range r.Threats {
		if t.Status == StatusPass {
			s.ThreatsPassing++
		}
	}
	for _, c := range r.Controls {
		pass := c.Status == StatusPass
		if pass {
			s.ControlsPassing++
		}
		if c.Kind == threatmodel.ControlManual {
			s.Manual++
			if pass {
				s.ManualPassing++
			}
			continue
		}
		s.Tested++
		if pass {
			s.TestedPassing++
		}
		for _, e := range c.Evidence {
			s.Evidence++
			if e.Status == StatusPass {
				s.EvidencePassing++
			}
		}
	}
	r.Summary = s
	r.Passed = len(r.Findings) == 0 && s.ControlsPassing == s.Controls && s.ThreatsPassing == s.Threats
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// rel is a path as the model writes it: relative to the root, with forward slashes.
func (ev *evaluator) rel(p string) string { return filepath.ToSlash(relTo(ev.o.Root, p)) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// evidence resolves one evidence id against what ran.
func (ev *evaluator) evidence(e threatmodel.Evidence) EvidenceResult {
	res := EvidenceResult{ID: e.ID, Kind: e.Kind}
	switch e.Kind {
	case threatmodel.EvidenceGo:
		res.Status, res.Detail = ev.goEvidence(e)
	case threatmodel.EvidenceRego:
		res.Status, res.Detail = ev.regoEvidence(e)
	case threatmodel.EvidenceCheck:
		err, ran := ev.checks[e.Test]
		switch {
		case !ran:
			res.Status, res.Detail = StatusMissing, fmt.Sprintf("the pipeline provides no check %q", e.Test)
		case err != nil:
			res.Status, res.Detail = StatusFail, oneLine(err.Error())
		default:
			res.Status = StatusPass
		}
	}
	return res
}

func (ev *evaluator) goEvidence(e threatmodel.Evidence) (string, string) {
	p, ok := ev.goRes.pkgs[e.Package]
	if !ok {
		return StatusMissing, fmt.Sprintf("package %s did not run", e.Package)
	}
	if p.buildErr != "" {
		return StatusMissing, fmt.Sprintf("package %s did not build: %s", e.Package, oneLine(p.buildErr))
	}
	name := e.TestName()
	st, detail, found := p.outcome(name)
	if !found {
		msg := fmt.Sprintf("no test %s ran in %s", name, e.Package)
		if p.result == "" {
			msg += " (the package reported no result)"
		}
		names := make([]string, 0, len(p.tests))
		for t := range p.tests {
			names = append(names, t)
		}
		if s := suggest(name, names); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return StatusMissing, msg
	}
	if st == "pass" {
		return StatusPass, ""
	}
	return st, detail
}

func (ev *evaluator) regoEvidence(e threatmodel.Evidence) (string, string) {
	if msg, bad := ev.regoRes.pkgErr[e.Package]; bad {
		return StatusMissing, msg
	}
	key := e.Package + "." + e.Test
	st, ok := ev.regoRes.tests[key]
	if !ok {
		if ev.regoRes.tests[e.Package+".todo_"+e.Test] == "skip" {
			return StatusSkip, "renamed todo_" + e.Test + " (skipped by opa test)"
		}
		var names []string
		for k := range ev.regoRes.tests {
			if strings.HasPrefix(k, e.Package+".") {
				names = append(names, k)
			}
		}
		msg := fmt.Sprintf("no test rule %s in package %s", e.Test, e.Package)
		if s := suggest(key, names); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return StatusMissing, msg
	}
	if st == "pass" {
		return StatusPass, ""
	}
	return st, ev.regoRes.details[key]
}

// manual evaluates a manual control's attestation.
func (ev *evaluator) manual(c threatmodel.Control) EvidenceResult {
	a := c.Attestation
	res := EvidenceResult{Kind: "manual", ID: "manual:never-attested", Status: StatusMissing}
	if a == nil || a.When == "" {
		role := "its owner"
		if a != nil && a.Role != "" {
			role = "the " + a.Role
		}
		res.Detail = fmt.Sprintf("never attested: %s must verify it and record who, when and expires", role)
		return res
	}
	res.ID = fmt.Sprintf("manual:%s %s..%s", a.Who, a.When, a.Expires)
	when, err1 := time.Parse(threatmodel.DateLayout, a.When)
	exp, err2 := time.Parse(threatmodel.DateLayout, a.Expires)
	today, _ := time.Parse(threatmodel.DateLayout, ev.now.UTC().Format(threatmodel.DateLayout))
	switch {
	case err1 != nil || err2 != nil:
		res.Status, res.Detail = StatusFail, "attestation dates are not YYYY-MM-DD"
	case when.After(today):
		res.Status, res.Detail = StatusFail, fmt.Sprintf("attested in the future (%s)", a.When)
	case today.After(exp):
		res.Status, res.Detail = StatusFail, fmt.Sprintf("attestation by %s on %s expired on %s; the %s must verify it again", a.Who, a.When, a.Expires, a.Role)
	default:
		res.Status, res.Detail = StatusPass, fmt.Sprintf("attested by %s (%s) on %s, valid until %s: %s", a.Who, a.Role, a.When, a.Expires, a.Record)
	}
	return res
}

// suggest returns up to three names close to want (a likely typo or rename).
func suggest(want string, names []string) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	depth := strings.Count(want, "/")
	for _, n := range names {
		if strings.Count(n, "/") != depth {
			continue
		}
		d := distance(strings.ToLower(want), strings.ToLower(n))
		if d <= len(want)/4+1 || strings.Contains(n, want) || strings.Contains(want, n) {
			cs = append(cs, cand{n, d})
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].d < cs[j].d || cs[i].d == cs[j].d && cs[i].name < cs[j].name })
	var out []string
	for i := 0; i < len(cs) && i < 3; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// distance is the Levenshtein distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func sortedFirst(s []string, n int) []string {
	sort.Strings(s)
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}
