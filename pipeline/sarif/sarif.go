// Package sarif is the one set of SARIF 2.1.0 types the pipeline writes (pipeline scan,
// pipeline controls, pipeline vuln), with a writer and a check of what GitHub code
// scanning requires: a driver with name, version and informationUri, and for every rule a
// result references, shortDescription, fullDescription and help. It imports only the
// standard library.
package sarif

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Schema and Version are the SARIF version written.
const (
	Schema  = "https://json.schemastore.org/sarif-2.1.0.json"
	Version = "2.1.0"
)

// SrcRoot is the uriBaseId of paths relative to the repository root.
const SrcRoot = "%SRCROOT%"

// Log is a SARIF log.
type Log struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []Run  `json:"runs"`
}

// Run is one tool's run.
type Run struct {
	Tool        Tool           `json:"tool"`
	Invocations []Invocation   `json:"invocations,omitempty"`
	Results     []Result       `json:"results"`
	Properties  map[string]any `json:"properties,omitempty"`
}

// Invocation says whether the tool ran to completion.
type Invocation struct {
	ExecutionSuccessful bool `json:"executionSuccessful"`
}

// Tool wraps the driver.
type Tool struct {
	Driver Driver `json:"driver"`
}

// Driver is the tool that produced the results.
type Driver struct {
	Name           string         `json:"name"`
	Version        string         `json:"version"`
	InformationURI string         `json:"informationUri"`
	Rules          []Rule         `json:"rules"`
	Properties     map[string]any `json:"properties,omitempty"`
}

// Message is plain text, and markdown where it helps.
type Message struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

// Rule is a reporting descriptor.
type Rule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     Message        `json:"shortDescription"`
	FullDescription      Message        `json:"fullDescription"`
	Help                 Message        `json:"help"`
	HelpURI              string         `json:"helpUri,omitempty"`
	DefaultConfiguration *Configuration `json:"defaultConfiguration,omitempty"`
	Properties           map[string]any `json:"properties,omitempty"`
}

// Configuration is a rule's default level.
type Configuration struct {
	Level string `json:"level"`
}

// Result is one finding.
type Result struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             Message           `json:"message"`
	Locations           []Location        `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
	Suppressions        []Suppression     `json:"suppressions,omitempty"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

// Location is where a result is.
type Location struct {
	PhysicalLocation PhysicalLocation `json:"physicalLocation"`
}

// PhysicalLocation is a file and, when known, a region in it.
type PhysicalLocation struct {
	ArtifactLocation ArtifactLocation `json:"artifactLocation"`
	Region           *Region          `json:"region,omitempty"`
}

// ArtifactLocation is a path relative to a base id.
type ArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

// Region is a line (and column) in a file.
type Region struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

// Suppression marks a result as suppressed (in source, or externally).
type Suppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification,omitempty"`
}

// At is a location in a file relative to the repository root; line 0 means unknown.
func At(file string, line, column int) Location {
	l := Location{PhysicalLocation: PhysicalLocation{ArtifactLocation: ArtifactLocation{URI: file, URIBaseID: SrcRoot}}}
	if line > 0 {
		l.PhysicalLocation.Region = &Region{StartLine: line, StartColumn: column}
	}
	return l
}

// New returns a log of one run of driver with results; nil slices become empty ones and
// each result's RuleIndex is set from its RuleID.
func New(driver Driver, results []Result) *Log {
	if driver.Rules == nil {
		driver.Rules = []Rule{}
	}
	if results == nil {
		results = []Result{}
	}
	index := map[string]int{}
	for i, r := range driver.Rules {
		index[r.ID] = i
	}
	for i := range results {
		results[i].RuleIndex = index[results[i].RuleID]
	}
	return &Log{Schema: Schema, Version: Version, Runs: []Run{{Tool: Tool{Driver: driver}, Results: results}}}
}

// Write renders the log as indented JSON.
func (l *Log) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(l)
}

// Marshal renders the log as indented JSON.
func (l *Log) Marshal() ([]byte, error) {
	var b strings.Builder
	if err := l.Write(&b); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// Check reports what GitHub's SARIF ingestion would refuse: a driver without name, version
// or informationUri; a result whose rule is not in the driver or has no shortDescription,
// fullDescription or help text; a result without a location.
func (l *Log) Check() error {
	var problems []string
	if l.Version != Version || len(l.Runs) == 0 {
		problems = append(problems, "not a SARIF 2.1.0 log with a run")
	}
	for ri, run := range l.Runs {
		d := run.Tool.Driver
		if d.Name == "" || d.Version == "" || d.InformationURI == "" {
			problems = append(problems, fmt.Sprintf("run %d: driver name, version or informationUri missing", ri))
		}
		rules := map[string]Rule{}
		for _, r := range d.Rules {
			rules[r.ID] = r
		}
		for i, res := range run.Results {
			r, ok := rules[res.RuleID]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("run %d result %d: rule %q not in the driver", ri, i, res.RuleID))
			case r.ShortDescription.Text == "" || r.FullDescription.Text == "" || r.Help.Text == "":
				problems = append(problems, fmt.Sprintf("rule %q: shortDescription, fullDescription or help missing", r.ID))
			case res.RuleIndex < 0 || res.RuleIndex >= len(d.Rules) || d.Rules[res.RuleIndex].ID != res.RuleID:
				problems = append(problems, fmt.Sprintf("run %d result %d: ruleIndex %d is not rule %q", ri, i, res.RuleIndex, res.RuleID))
			}
			if len(res.Locations) == 0 || res.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" {
				problems = append(problems, fmt.Sprintf("run %d result %d: no location", ri, i))
			}
			if res.Message.Text == "" {
				problems = append(problems, fmt.Sprintf("run %d result %d: no message", ri, i))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New("sarif: " + strings.Join(problems, "; "))
	}
	return nil
}
