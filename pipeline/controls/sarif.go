package controls

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/secure-movie-service/sms/pipeline/buildinfo"
	"github.com/secure-movie-service/sms/pipeline/sarif"
	"github.com/secure-movie-service/sms/threatmodel"
)

// ruleHelp is the full description and help of each finding rule, for code scanning. A
// rule without an entry here gets its short text and a pointer to the model.
var ruleHelp = map[string]struct{ Full, Help string }{
	RuleModelInvalid: {"The threat model does not load or is inconsistent: a duplicate id, a dangling reference between threats and controls, or a field outside the schema.",
		"Run `go test ./threatmodel/` and fix threatmodel/threatmodel.yaml at the line the finding names."},
	RuleThreatNoControl: {"Every threat must name at least one control that answers it.",
		"Add the control ids that mitigate the threat to its `controls:` list, or add a control."},
	RuleControlNoThreat: {"Every control must answer at least one threat; a control no threat names is dead weight or a missing link.",
		"Name the control in the `controls:` list of the threats it answers."},
	RuleControlNoEvidence: {"A tested control must list evidence: go:, rego: or check: ids that prove it holds.",
		"Add evidence ids (`go:<import path>.<TestName>[/<subtest>]`, `rego:<package>.<rule>`, `check:<name>`) to the control."},
	RuleEvidenceMissing: {"An evidence id names a test that did not run, or a check the pipeline does not provide, so nothing proves the control.",
		"Check the spelling of the evidence id against `go test -list`, the Rego test names, or `pipeline controls` checks."},
	RuleEvidenceFailed: {"A test or check named as evidence failed, so the control does not hold.",
		"Run the named test (`go test -run 'TestName/subtest' ./pkg/`) or check and fix the code or the control."},
	RuleEvidenceSkipped: {"A test named as evidence was skipped; a skipped test proves nothing.",
		"Make the test run in CI (no t.Skip on a missing tool: install the tool through the Makefile)."},
	RuleAttestationRejected: {"A manual control's attestation is present but does not verify: not signed by a reviewer key of policy/data, a reviewer without the control's role, expired, dated in the future, or over another text of the control.",
		"Record a new attestation with `pipeline controls attest` by a reviewer who holds the role, or remove the rejected file."},
	RuleAttestationMissing: {"With --require-attestations every manual control needs a current signed attestation and every platform control a verified platform setting; this one has neither.",
		"A reviewer with the control's role runs `pipeline controls attest`; platform controls need GITHUB_TOKEN and GITHUB_REPOSITORY."},
	RulePlatformFailed: {"The platform (GitHub) shows that a setting a platform control requires is not there.",
		"Fix the repository's branch protection or rulesets as the finding says."},
	RuleTrace: {"A control's implementation names a symbol (path#Symbol) that does not exist, names no symbol though it points at code, or a Rego rule's custom.controls and the model disagree.",
		"Point the implementation at the function, type or rule that answers the control, and name the control in the rule's METADATA custom.controls."},
	RuleImplementationGone: {"A path named as a control's implementation does not exist, so the model points at nothing.",
		"Correct the `implementation:` path of the control, or restore the file."},
}

// SARIF renders every finding as a SARIF 2.1.0 result at the line of its control (or
// threat) in the model, so code scanning annotates threatmodel.yaml.
func (r *Report) SARIF() ([]byte, error) {
	driver := sarif.Driver{Name: "pipeline controls", Version: buildinfo.Version(),
		InformationURI: "https://github.com/secure-movie-service/sms/tree/main/threatmodel"}
	for _, rule := range Rules {
		h, ok := ruleHelp[rule.ID]
		if !ok {
			h.Full, h.Help = rule.Text, "See the control or threat at the line named in "+r.Model+"."
		}
		driver.Rules = append(driver.Rules, sarif.Rule{ID: rule.ID, Name: rule.Name,
			ShortDescription: sarif.Message{Text: rule.Text}, FullDescription: sarif.Message{Text: h.Full},
			Help:                 sarif.Message{Text: h.Help, Markdown: h.Help},
			DefaultConfiguration: &sarif.Configuration{Level: "error"}})
	}
	results := []sarif.Result{}
	for _, f := range r.Findings {
		subject := f.Control
		if subject == "" {
			subject = f.Threat
		}
		results = append(results, sarif.Result{
			RuleID: f.Rule, Level: "error", Message: sarif.Message{Text: f.String()},
			Locations:           []sarif.Location{sarif.At(r.Model, max(f.Line, 1), 0)},
			PartialFingerprints: map[string]string{"controlFinding/v1": f.Rule + "|" + subject + "|" + f.Evidence},
		})
	}
	log := sarif.New(driver, results)
	log.Runs[0].Invocations = []sarif.Invocation{{ExecutionSuccessful: true}}
	log.Runs[0].Properties = map[string]any{"revision": r.Revision, "modelDigest": r.ModelDigest}
	return log.Marshal()
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders threats, tested controls and manual controls as three test suites.
func (r *Report) JUnit() ([]byte, error) {
	threats := junitSuite{Name: "threats"}
	for _, t := range r.Threats {
		c := junitCase{Classname: "threatmodel.threats", Name: t.ID + " " + t.Title,
			SystemOut: "controls: " + strings.Join(t.Controls, ", ")}
		if t.Status != StatusPass {
			c.Failure = &junitFailure{Message: strings.Join(t.Reasons, "; "), Type: "threat"}
		}
		threats.add(c)
	}
	tested := junitSuite{Name: "controls"}
	manual := junitSuite{Name: "controls (manual)"}
	for _, cr := range r.Controls {
		var out []string
		for _, e := range cr.Evidence {
			line := mark(e.Status) + " " + e.ID
			if e.Detail != "" {
				line += ": " + e.Detail
			}
			out = append(out, line)
		}
		c := junitCase{Classname: "threatmodel.controls." + cr.Layer, Name: cr.ID + " " + cr.Title,
			SystemOut: strings.Join(out, "\n")}
		if cr.Status != StatusPass {
			text := strings.Join(cr.Reasons, "\n")
			if cr.Pending != "" {
				text += "\npending: " + cr.Pending
			}
			c.Failure = &junitFailure{Message: fmt.Sprintf("%s does not hold (line %d)", cr.ID, cr.Line), Type: "control", Text: text}
		}
		if cr.Kind == threatmodel.ControlManual {
			manual.add(c)
		} else {
			tested.add(c)
		}
	}
	all := junitSuites{Name: "pipeline controls", Time: fmt.Sprintf("%.3f", r.Seconds), Suites: []junitSuite{threats, tested, manual}}
	for _, s := range all.Suites {
		all.Tests += s.Tests
		all.Failures += s.Failures
	}
	b, err := xml.MarshalIndent(all, "", "  ")
	return append([]byte(xml.Header), append(b, '\n')...), err
}

func (s *junitSuite) add(c junitCase) {
	s.Cases = append(s.Cases, c)
	s.Tests++
	if c.Failure != nil {
		s.Failures++
	}
}
