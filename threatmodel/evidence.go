package threatmodel

import (
	"fmt"
	"regexp"
	"strings"
)

// Evidence kinds: the prefix of an evidence id.
const (
	EvidenceGo    = "go"    // go:<import path>.<TestName>[/<subtest>]
	EvidenceRego  = "rego"  // rego:<package>.<test rule>
	EvidenceCheck = "check" // check:<name>
)

// Evidence is a parsed evidence id.
type Evidence struct {
	ID   string // the id as written
	Kind string // EvidenceGo, EvidenceRego or EvidenceCheck

	// go: Package is the import path, Test the top-level test function, Sub the subtest path
	// as `go test -json` reports it ("" for the whole test).
	// rego: Package is the Rego package (without "data."), Test the test rule.
	// check: Test is the check's name.
	Package string
	Test    string
	Sub     string
}

// TestName is the test name as `go test -json` reports it: Test or Test/Sub.
func (e Evidence) TestName() string {
	if e.Sub == "" {
		return e.Test
	}
	return e.Test + "/" + e.Sub
}

var (
	goEvidence    = regexp.MustCompile(`^go:([a-zA-Z0-9._~-]+?(?:/[a-zA-Z0-9._~-]+?)*?)\.((?:Test|Fuzz|Example)[A-Za-z0-9_]*)(?:/(\S+))?$`)
	regoEvidence  = regexp.MustCompile(`^rego:([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\.(test_[A-Za-z0-9_]*)$`)
	checkEvidence = regexp.MustCompile(`^check:([a-z0-9]+(?:-[a-z0-9]+)*)$`)
)

// ParseEvidence parses an evidence id. Subtest names are written as `go test -json` reports
// them: spaces become underscores, so an id never holds white space.
func ParseEvidence(id string) (Evidence, error) {
	kind, _, _ := strings.Cut(id, ":")
	switch kind {
	case EvidenceGo:
		m := goEvidence.FindStringSubmatch(id)
		if m == nil {
			return Evidence{}, fmt.Errorf("evidence %q: want go:<import path>.<TestName>[/<subtest>]", id)
		}
		if m[3] != "" && (strings.HasSuffix(m[3], "/") || strings.Contains(m[3], "//")) {
			return Evidence{}, fmt.Errorf("evidence %q: empty subtest name", id)
		}
		return Evidence{ID: id, Kind: kind, Package: m[1], Test: m[2], Sub: m[3]}, nil
	case EvidenceRego:
		m := regoEvidence.FindStringSubmatch(id)
		if m == nil {
			return Evidence{}, fmt.Errorf("evidence %q: want rego:<package>.<test rule>", id)
		}
		return Evidence{ID: id, Kind: kind, Package: m[1], Test: m[2]}, nil
	case EvidenceCheck:
		m := checkEvidence.FindStringSubmatch(id)
		if m == nil {
			return Evidence{}, fmt.Errorf("evidence %q: want check:<name> (lowercase, dashes)", id)
		}
		return Evidence{ID: id, Kind: kind, Test: m[1]}, nil
	}
	return Evidence{}, fmt.Errorf("evidence %q: unknown kind (want go:, rego: or check:)", id)
}
