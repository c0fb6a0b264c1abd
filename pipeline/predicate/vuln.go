package predicate

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Vuln is cosign's vulnerability-scan predicate (type TypeVuln, cosign's
// attestation.CosignVulnPredicate), as `pipeline vuln` writes it for one image:
//
//	{
//	  "invocation": {"parameters": […], "uri": "…", "event_id": "…", "builder.id": "…"},
//	  "scanner": {
//	    "uri": "pkg:golang/golang.org/x/vuln@v1.9.0", "version": "v1.9.0",
//	    "db": {"uri": "file:///…/v0.0.0-2026…", "version": "<RFC 3339 date of the database>"},
//	    "result": {"mode": "binary", "findings": […], "informational": […], "waived": […]}
//	  },
//	  "metadata": {"scanStartedOn": "…", "scanFinishedOn": "…"}
//	}
//
// scanner.db.version carries the database's modification time so that stock
// `cosign verify-attestation --type vuln` and policy can judge its age. result.findings are
// the vulnerable symbols the scanned code calls (or the binary contains) that no OpenVEX
// statement waived; informational ones are required or imported but not called; waived
// ones name the statement that waived them.
type Vuln struct {
	Invocation VulnInvocation `json:"invocation"`
	Scanner    VulnScanner    `json:"scanner"`
	Metadata   VulnMetadata   `json:"metadata"`
}

// VulnInvocation is cosign's invocation block.
type VulnInvocation struct {
	Parameters any    `json:"parameters"`
	URI        string `json:"uri"`
	EventID    string `json:"event_id"`
	BuilderID  string `json:"builder.id"`
}

// VulnScanner names the scanner, its database and its result.
type VulnScanner struct {
	URI     string     `json:"uri"`
	Version string     `json:"version"`
	DB      VulnDB     `json:"db"`
	Result  VulnResult `json:"result"`
}

// VulnDB names the vulnerability database; Version is its modification time (RFC 3339).
type VulnDB struct {
	URI     string `json:"uri"`
	Version string `json:"version"`
}

// VulnResult is what the scan found.
type VulnResult struct {
	Mode          string        `json:"mode"` // "source" or "binary"
	Targets       []string      `json:"targets"`
	GoVersion     string        `json:"go_version,omitempty"`
	DBSnapshot    string        `json:"db_snapshot,omitempty"` // the golang.org/x/vulndb module version
	Findings      []VulnFinding `json:"findings"`
	Informational []VulnFinding `json:"informational"`
	Waived        []VulnFinding `json:"waived"`
}

// VulnFinding is one vulnerability in one scanned target.
type VulnFinding struct {
	ID           string   `json:"id"`
	Aliases      []string `json:"aliases,omitempty"`
	Module       string   `json:"module"`
	Version      string   `json:"version,omitempty"`
	FixedVersion string   `json:"fixed_version,omitempty"`
	Level        string   `json:"level"` // "called", "imported" or "required"
	Symbols      []string `json:"symbols,omitempty"`
	Target       string   `json:"target,omitempty"`
	WaivedBy     string   `json:"waived_by,omitempty"` // "<vex file>#<statement index>: <justification>"
}

// VulnMetadata is when the scan ran.
type VulnMetadata struct {
	ScanStartedOn  time.Time `json:"scanStartedOn"`
	ScanFinishedOn time.Time `json:"scanFinishedOn"`
}

// Finding levels.
const (
	LevelCalled   = "called"
	LevelImported = "imported"
	LevelRequired = "required"
)

// VulnSummary is the verified summary of a vulnerability predicate: the scanner, the
// database's date, the ids of unwaived called vulnerabilities and of waived ones.
type VulnSummary struct {
	Scanner    string    `json:"scanner"` // uri@version
	DBURI      string    `json:"db_uri"`
	DBModified string    `json:"db_modified"` // RFC 3339
	Mode       string    `json:"mode"`
	Findings   []string  `json:"findings"`
	Waived     []string  `json:"waived"`
	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished"`
}

var vulnID = regexp.MustCompile(`^[A-Z][A-Z0-9]*-[A-Za-z0-9._:-]{1,64}$`)

// Validate checks the shape of a vulnerability predicate.
func (v *Vuln) Validate() error {
	var problems []string
	s := v.Scanner
	if s.URI == "" || s.Version == "" {
		problems = append(problems, "scanner.uri or scanner.version missing")
	}
	if s.DB.URI == "" {
		problems = append(problems, "scanner.db.uri missing")
	}
	if _, err := time.Parse(time.RFC3339, s.DB.Version); err != nil {
		problems = append(problems, fmt.Sprintf("scanner.db.version %q is not an RFC 3339 date", s.DB.Version))
	}
	if s.Result.Mode != "source" && s.Result.Mode != "binary" {
		problems = append(problems, fmt.Sprintf("result.mode %q is not source or binary", s.Result.Mode))
	}
	m := v.Metadata
	if m.ScanStartedOn.IsZero() || m.ScanFinishedOn.IsZero() || m.ScanFinishedOn.Before(m.ScanStartedOn) {
		problems = append(problems, "metadata: scan start and finish missing or out of order")
	}
	problems = append(problems, checkFindings("findings", s.Result.Findings, LevelCalled)...)
	problems = append(problems, checkFindings("informational", s.Result.Informational, LevelImported, LevelRequired)...)
	problems = append(problems, checkFindings("waived", s.Result.Waived, LevelCalled)...)
	for i, f := range s.Result.Findings {
		if f.WaivedBy != "" {
			problems = append(problems, fmt.Sprintf("findings[%d]: waived_by set on an unwaived finding", i))
		}
	}
	for i, f := range s.Result.Waived {
		if f.WaivedBy == "" {
			problems = append(problems, fmt.Sprintf("waived[%d]: no waived_by", i))
		}
	}
	if len(problems) > 0 {
		return errors.New("vuln: " + strings.Join(problems, "; "))
	}
	return nil
}

func checkFindings(list string, fs []VulnFinding, levels ...string) []string {
	var problems []string
	if fs == nil {
		return []string{"result." + list + " missing"}
	}
	for i, f := range fs {
		if !vulnID.MatchString(f.ID) {
			problems = append(problems, fmt.Sprintf("%s[%d]: id %q", list, i, f.ID))
		}
		if f.Module == "" {
			problems = append(problems, fmt.Sprintf("%s[%d]: no module", list, i))
		}
		ok := false
		for _, l := range levels {
			ok = ok || f.Level == l
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("%s[%d]: level %q (want %s)", list, i, f.Level, strings.Join(levels, " or ")))
		}
	}
	return problems
}

// Summary returns the verified summary of a valid predicate.
func (v *Vuln) Summary() *VulnSummary {
	s := &VulnSummary{
		Scanner: v.Scanner.URI, DBURI: v.Scanner.DB.URI, DBModified: v.Scanner.DB.Version,
		Mode: v.Scanner.Result.Mode, Findings: ids(v.Scanner.Result.Findings), Waived: ids(v.Scanner.Result.Waived),
		Started: v.Metadata.ScanStartedOn, Finished: v.Metadata.ScanFinishedOn,
	}
	if !strings.Contains(s.Scanner, "@") {
		s.Scanner += "@" + v.Scanner.Version
	}
	if t, err := time.Parse(time.RFC3339, s.DBModified); err == nil {
		s.DBModified = t.UTC().Format(time.RFC3339)
	}
	return s
}

// ids returns the sorted, distinct ids of fs.
func ids(fs []VulnFinding) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, f := range fs {
		if !seen[f.ID] {
			seen[f.ID] = true
			out = append(out, f.ID)
		}
	}
	sort.Strings(out)
	return out
}

func summarizeVuln(raw []byte) (*VulnSummary, error) {
	var v Vuln
	if err := strict(raw, &v); err != nil {
		return nil, fmt.Errorf("vuln: %w", err)
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v.Summary(), nil
}

// MarshalVuln validates v and renders it as the predicate's JSON.
func MarshalVuln(v *Vuln) ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("vuln: %w", err)
	}
	return append(b, '\n'), nil
}
