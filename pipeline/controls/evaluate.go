package controls

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/pipeline/signoff"
	"github.com/secure-movie-service/sms/threatmodel"
)

// Finding rules: why a verification fails. They are the SARIF rule ids.
const (
	RuleModelInvalid        = "TM001" // the model is inconsistent (duplicate id, dangling reference, …)
	RuleThreatNoControl     = "TM002" // a threat names no control
	RuleControlNoThreat     = "TM003" // a control answers no threat
	RuleControlNoEvidence   = "TM004" // a tested control lists no evidence
	RuleEvidenceMissing     = "TM005" // an evidence id resolves to no test that ran, or to no check
	RuleEvidenceFailed      = "TM006" // a test or check failed
	RuleEvidenceSkipped     = "TM007" // a test was skipped
	RuleAttestationRejected = "TM008" // an attestation of a manual control is present and wrong
	RuleAttestationMissing  = "TM009" // with RequireAttestations: an attestation is missing
	RuleImplementationGone  = "TM010" // an implementation path does not exist
	RulePlatformFailed      = "TM011" // the platform says a platform control's setting is not there
	RuleTrace               = "TM012" // a symbol is missing, or model and policy disagree on who implements a control
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
	{RuleAttestationRejected, "attestation-rejected", "An attestation of a manual control is invalid: not signed by a reviewer key in policy/data, a role the reviewer does not hold, attested in the future, the control's text changed since, or malformed."},
	{RuleAttestationMissing, "attestation-missing", "Attestations are required and a manual control has no current signed attestation, or a platform control could not be verified here."},
	{RuleImplementationGone, "implementation-missing", "A path named as a control's implementation does not exist."},
	{RulePlatformFailed, "platform-setting-missing", "The platform (GitHub) shows that a setting a platform control requires is not there."},
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
	o         *Options
	goRes     *goResults
	regoRes   *regoResults
	checks    map[string]checkResult
	platform  map[string]platformResult
	reviewers *signoff.Reviewers
	now       time.Time
	claims    map[string]map[string][]string // control → Rego file → rules naming it (custom.controls)
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
		r.Controls = append(r.Controls, r.evalControl(m, c, problemsOf[c.ID], parsed, ev))
	}
	status := map[string]string{}
	for _, c := range r.Controls {
		status[c.ID] = c.Status
	}
	for _, t := range m.Threats {
		known[t.ID] = true
		r.Threats = append(r.Threats, r.evalThreat(t, problemsOf[t.ID], status))
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

// evalControl decides one control: fail when anything is wrong, missing when a manual
// control has no current attestation or a platform control is not verifiable here (a
// finding only with RequireAttestations), pass otherwise.
func (r *Report) evalControl(m *threatmodel.Model, c threatmodel.Control, problems []threatmodel.Problem,
	parsed map[string]threatmodel.Evidence, ev *evaluator) ControlResult {
	cr := ControlResult{ID: c.ID, Title: c.Title, Layer: c.Layer, Kind: c.Kind, Line: c.Line,
		Threats: m.ThreatsOf(c.ID), Pending: c.Pending, Check: c.Check}
	if c.Attestation != nil {
		cr.Role = c.Attestation.Role
	}
	fail := func(rule, evidence, msg string) {
		cr.Reasons = append(cr.Reasons, msg)
		r.Findings = append(r.Findings, Finding{Rule: rule, Control: c.ID, Evidence: evidence, Line: c.Line, Message: msg})
	}
	for _, p := range problems {
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
		ev.manual(c, &cr, fail)
	case threatmodel.ControlPlatform:
		ev.tested(c, &cr, parsed, fail)
		ev.platformCheck(c, &cr, fail)
	default:
		if len(c.Evidence) == 0 {
			fail(RuleControlNoEvidence, "", "has no evidence")
		}
		ev.tested(c, &cr, parsed, fail)
	}
	switch {
	case len(cr.Reasons) > 0:
		cr.Status = StatusFail
	case cr.Missing != "":
		cr.Status = StatusMissing
		if ev.o.RequireAttestations {
			fail(RuleAttestationMissing, "", "attestation missing: "+cr.Missing)
		} else {
			cr.Reasons = append(cr.Reasons, "attestation missing: "+cr.Missing) // said in every report; not a finding
		}
	default:
		cr.Status = StatusPass
	}
	return cr
}

// tested resolves a control's evidence ids.
func (ev *evaluator) tested(c threatmodel.Control, cr *ControlResult, parsed map[string]threatmodel.Evidence, fail func(rule, evidence, msg string)) {
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

// evalThreat decides one threat: it fails when it has no control, a control fails, no control
// holds at all, or (with RequireAttestations) an attestation is missing. Controls that only
// miss an attestation do not fail it otherwise: they are listed.
func (r *Report) evalThreat(t threatmodel.Threat, problems []threatmodel.Problem, status map[string]string) ThreatResult {
	tr := ThreatResult{ID: t.ID, Title: t.Title, Likelihood: t.Likelihood, Impact: t.Impact,
		STRIDE: t.STRIDE, CWE: t.CWE, Line: t.Line, Controls: t.Controls}
	fail := func(rule, msg string) {
		tr.Reasons = append(tr.Reasons, msg)
		r.Findings = append(r.Findings, Finding{Rule: rule, Threat: t.ID, Line: t.Line, Message: msg})
	}
	for _, p := range problems {
		fail(RuleModelInvalid, p.Msg)
	}
	if len(t.Controls) == 0 {
		fail(RuleThreatNoControl, "has no control")
	}
	var failing, missing []string
	holding := 0
	for _, c := range t.Controls {
		switch status[c] {
		case StatusPass:
			holding++
		case StatusMissing:
			missing = append(missing, c)
		default:
			failing = append(failing, c)
		}
	}
	bad := len(tr.Reasons) > 0 || len(failing) > 0
	if len(failing) > 0 {
		tr.Reasons = append(tr.Reasons, "failing controls: "+strings.Join(failing, ", "))
	}
	if len(missing) > 0 {
		tr.Reasons = append(tr.Reasons, "attestations missing: "+strings.Join(missing, ", "))
		bad = bad || r.requireAttestations
	}
	if len(t.Controls) > 0 && holding == 0 && len(failing) == 0 {
		fail(RuleThreatNoControl, "no control of it holds")
		bad = true
	}
	tr.Status = StatusPass
	if bad {
		tr.Status = StatusFail
	}
	return tr
}

func (r *Report) summarise() {
	s := Summary{Threats: len(r.Threats), Controls: len(r.Controls), Findings: len(r.Findings)}
	for _, t := range r.Threats {
		if t.Status == StatusPass {
			s.ThreatsPassing++
		}
	}
	failed := 0
	r.AttestationsMissing = []MissingAttestation{}
	for _, c := range r.Controls {
		pass := c.Status == StatusPass
		if pass {
			s.ControlsPassing++
		}
		switch c.Status {
		case StatusFail:
			failed++
		case StatusMissing:
			r.AttestationsMissing = append(r.AttestationsMissing, MissingAttestation{Control: c.ID, Kind: c.Kind, Reason: c.Missing})
		}
		switch c.Kind {
		case threatmodel.ControlManual:
			s.Manual++
			if pass {
				s.ManualPassing++
			}
			continue
		case threatmodel.ControlPlatform:
			s.Platform++
			if pass {
				s.PlatformPassing++
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
	s.AttestationsMissing = len(r.AttestationsMissing)
	r.Summary = s
	r.Passed = len(r.Findings) == 0 && failed == 0 && s.ThreatsPassing == s.Threats
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

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
		c, ran := ev.checks[e.Test]
		switch {
		case !ran:
			res.Status, res.Detail = StatusMissing, fmt.Sprintf("the pipeline provides no check %q", e.Test)
		case c.err != nil:
			res.Status, res.Detail = StatusFail, oneLine(c.err.Error())
		default:
			res.Status, res.Detail = StatusPass, oneLine(c.detail)
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
		names := append(sortedKeys(p.tests), p.listed...)
		slices.Sort(names)
		names = slices.Compact(names)
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

// manual judges a manual control by its signed attestations: a rejected one fails it, a
// current valid one makes it hold, none (or only expired ones) leaves it missing.
func (ev *evaluator) manual(c threatmodel.Control, cr *ControlResult, fail func(rule, evidence, msg string)) {
	out, err := signoff.Check(ev.o.path(ev.o.Attestations), c, ev.reviewers, ev.now)
	if err != nil {
		fail(RuleAttestationRejected, "", err.Error())
		return
	}
	for _, rej := range out.Rejected {
		id := "attestation:" + ev.rel(rej.File)
		cr.Evidence = append(cr.Evidence, EvidenceResult{ID: id, Kind: "attestation", Status: StatusFail, Detail: rej.Reason})
		fail(RuleAttestationRejected, id, fmt.Sprintf("attestation %s %s", ev.rel(rej.File), rej.Reason))
	}
	if a := out.Valid; a != nil {
		p := a.Predicate
		cr.Attestation = &Attested{File: ev.rel(a.File), KeyID: a.KeyID, Attester: p.Attester, Role: p.Role,
			AttestedAt: p.AttestedAt, Expires: p.Expires, Evidence: p.Evidence.String()}
		cr.Evidence = append(cr.Evidence, EvidenceResult{ID: "attestation:" + cr.Attestation.File, Kind: "attestation", Status: StatusPass,
			Detail: fmt.Sprintf("attested by %s (%s) on %s, valid until %s: %s", p.Attester, p.Role, p.AttestedAt.UTC().Format(signoff.DateLayout), p.Expires, cr.Attestation.Evidence)})
		return
	}
	cr.Missing = fmt.Sprintf("no signed attestation; a reviewer with role %q must attest it (pipeline controls attest --control %s)", roleOf(c), c.ID)
	if n := len(out.Expired); n > 0 {
		cr.Missing = fmt.Sprintf("the attestation %s; a reviewer with role %q must attest it again", out.Expired[n-1].Reason, roleOf(c))
	}
	cr.Evidence = append(cr.Evidence, EvidenceResult{ID: "attestation:none", Kind: "attestation", Status: StatusMissing, Detail: cr.Missing})
}

// platformCheck judges a platform control by what the platform says: the setting is there, it
// is not (a failure), or the platform could not be asked here (missing, never a pass).
func (ev *evaluator) platformCheck(c threatmodel.Control, cr *ControlResult, fail func(rule, evidence, msg string)) {
	id := "platform:" + c.Check
	res := ev.platform[c.Check]
	switch {
	case res.err != nil:
		cr.Missing = oneLine(res.err.Error())
		if !strings.HasPrefix(cr.Missing, "not verifiable here") {
			cr.Missing = "not verifiable here: " + cr.Missing
		}
		cr.Evidence = append(cr.Evidence, EvidenceResult{ID: id, Kind: "platform", Status: StatusMissing, Detail: cr.Missing})
	case !res.holds:
		cr.Evidence = append(cr.Evidence, EvidenceResult{ID: id, Kind: "platform", Status: StatusFail, Detail: res.detail})
		fail(RulePlatformFailed, id, fmt.Sprintf("platform check %s: %s", c.Check, res.detail))
	default:
		cr.Evidence = append(cr.Evidence, EvidenceResult{ID: id, Kind: "platform", Status: StatusPass, Detail: res.detail})
	}
}

// rel is a path as the model writes it: relative to the root, with forward slashes.
func (ev *evaluator) rel(p string) string { return filepath.ToSlash(relTo(ev.o.Root, p)) }

func roleOf(c threatmodel.Control) string {
	if c.Attestation == nil {
		return ""
	}
	return c.Attestation.Role
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
