package controls

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/secure-movie-service/sms/threatmodel"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
	Properties  map[string]any    `json:"properties,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool `json:"executionSuccessful"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string            `json:"id"`
	Name                 string            `json:"name"`
	ShortDescription     sarifText         `json:"shortDescription"`
	DefaultConfiguration map[string]string `json:"defaultConfiguration"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

// SARIF renders every finding as a SARIF 2.1.0 result at the line of its control (or
// threat) in the model, so code scanning annotates threatmodel.yaml.
func (r *Report) SARIF() ([]byte, error) {
	driver := sarifDriver{Name: "pipeline controls",
		InformationURI: "https://github.com/secure-movie-service/sms/tree/main/threatmodel"}
	index := map[string]int{}
	for i, rule := range Rules {
		index[rule.ID] = i
		driver.Rules = append(driver.Rules, sarifRule{ID: rule.ID, Name: rule.Name,
			ShortDescription: sarifText{rule.Text}, DefaultConfiguration: map[string]string{"level": "error"}})
	}
	run := sarifRun{Tool: sarifTool{driver}, Invocations: []sarifInvocation{{ExecutionSuccessful: true}},
		Results: []sarifResult{}, Properties: map[string]any{"revision": r.Revision, "modelDigest": r.ModelDigest}}
	for _, f := range r.Findings {
		line := f.Line
		if line < 1 {
			line = 1
		}
		subject := f.Control
		if subject == "" {
			subject = f.Threat
		}
		run.Results = append(run.Results, sarifResult{
			RuleID: f.Rule, RuleIndex: index[f.Rule], Level: "error",
			Message: sarifText{f.String()},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: r.Model, URIBaseID: "%SRCROOT%"},
				Region:           sarifRegion{StartLine: line},
			}}},
			PartialFingerprints: map[string]string{"controlFinding/v1": f.Rule + "|" + subject + "|" + f.Evidence},
		})
	}
	b, err := json.MarshalIndent(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}, "", "  ")
	return append(b, '\n'), err
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
