package vuln

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// OpenVEX (https://github.com/openvex/spec, v0.2.0) is the only way to waive a finding. The
// repository keeps documents in vex/*.json; every statement there must say
//
//	"vulnerability": {"name": "GO-2026-0001", "aliases": ["CVE-…"]},
//	"products": [{"@id": "pkg:golang/github.com/secure-movie-service/sms/service"}],
//	"status": "not_affected",
//	"justification": "<one of OpenVEX's justifications>",
//	"impact_statement": "why the vulnerable code cannot be reached or exploited",
//	"expires": "2027-01-31"
//
// "expires" is this project's extension to OpenVEX (the last day, UTC, the statement
// holds). A statement that has expired, lacks a justification or an impact statement, has
// another status, or carries a field OpenVEX does not define, is an error: the scan fails
// naming the document and the statement.

// ErrVEX is wrapped by LoadVEX when a document or statement is not acceptable.
var ErrVEX = errors.New("openvex")

// Limits on the VEX documents read.
const (
	MaxVEXDocument   = 1 << 20
	maxVEXDocuments  = 256
	maxVEXStatements = 1000
)

// VEXContext is the OpenVEX context this project writes and reads.
const VEXContext = "https://openvex.dev/ns/v0.2.0"

// Justifications are OpenVEX's justifications for status not_affected.
var Justifications = []string{
	"component_not_present",
	"vulnerable_code_not_present",
	"vulnerable_code_not_in_execute_path",
	"vulnerable_code_cannot_be_controlled_by_adversary",
	"inline_mitigations_already_exist",
}

// VEXDocument is an OpenVEX document.
type VEXDocument struct {
	Context     string         `json:"@context"`
	ID          string         `json:"@id"`
	Author      string         `json:"author"`
	Role        string         `json:"role,omitempty"`
	Timestamp   string         `json:"timestamp"`
	LastUpdated string         `json:"last_updated,omitempty"`
	Version     int            `json:"version"`
	Tooling     string         `json:"tooling,omitempty"`
	Statements  []VEXStatement `json:"statements"`
}

// VEXStatement is an OpenVEX statement, with this project's "expires" extension.
type VEXStatement struct {
	ID                       string       `json:"@id,omitempty"`
	Version                  int          `json:"version,omitempty"`
	Vulnerability            VEXVuln      `json:"vulnerability"`
	Timestamp                string       `json:"timestamp,omitempty"`
	LastUpdated              string       `json:"last_updated,omitempty"`
	Products                 []VEXProduct `json:"products"`
	Status                   string       `json:"status"`
	Supplier                 string       `json:"supplier,omitempty"`
	StatusNotes              string       `json:"status_notes,omitempty"`
	Justification            string       `json:"justification,omitempty"`
	ImpactStatement          string       `json:"impact_statement,omitempty"`
	ActionStatement          string       `json:"action_statement,omitempty"`
	ActionStatementTimestamp string       `json:"action_statement_timestamp,omitempty"`
	Expires                  string       `json:"expires,omitempty"`
	expires                  time.Time    // parsed Expires: the first instant it no longer holds
	source                   string       // file#index
}

// VEXVuln names a vulnerability.
type VEXVuln struct {
	ID          string   `json:"@id,omitempty"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Aliases     []string `json:"aliases,omitempty"`
}

// VEXProduct is a product a statement is about: "pkg:golang/<module path>[@version]".
type VEXProduct struct {
	ID            string            `json:"@id"`
	Identifiers   map[string]string `json:"identifiers,omitempty"`
	Hashes        map[string]string `json:"hashes,omitempty"`
	Subcomponents []VEXProduct      `json:"subcomponents,omitempty"`
}

// Waiver is the statement that waived a finding.
type Waiver struct {
	Source          string `json:"source"` // file#statement index
	Vulnerability   string `json:"vulnerability"`
	Justification   string `json:"justification"`
	ImpactStatement string `json:"impact_statement"`
	Expires         string `json:"expires"`
}

func (w *Waiver) String() string {
	return fmt.Sprintf("%s: %s until %s", w.Source, w.Justification, w.Expires)
}

// VEX is the set of statements read from a directory.
type VEX struct {
	Statements []VEXStatement
}

// LoadVEX reads every *.json in dir as an OpenVEX document and checks every statement at
// now. A missing directory holds no statements. Any problem is an error wrapping ErrVEX
// that names each bad document or statement.
func LoadVEX(dir string, now time.Time) (*VEX, error) {
	v := &VEX{}
	if dir == "" {
		return v, nil
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrVEX, err)
	}
	if len(names) > maxVEXDocuments {
		return nil, fmt.Errorf("%w: %d documents in %s (limit %d)", ErrVEX, len(names), dir, maxVEXDocuments)
	}
	sort.Strings(names)
	var problems []string
	for _, name := range names {
		raw, err := readBounded(name, MaxVEXDocument)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		doc, err := ParseVEX(raw)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		for i := range doc.Statements {
			st := doc.Statements[i]
			st.source = fmt.Sprintf("%s#%d", filepath.ToSlash(name), i)
			if err := st.check(now); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", st.source, err))
				continue
			}
			v.Statements = append(v.Statements, st)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrVEX, strings.Join(problems, "; "))
	}
	return v, nil
}

func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name) // #nosec G304 -- a document of the repository's vex directory
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	return raw, nil
}

// ParseVEX decodes one OpenVEX document strictly: one unambiguous JSON value (no
// duplicate keys), no field OpenVEX does not define, the v0.2.0 context, at least one
// statement. Statements are checked by LoadVEX, which knows the time.
func ParseVEX(raw []byte) (*VEXDocument, error) {
	if len(raw) > MaxVEXDocument {
		return nil, fmt.Errorf("larger than %d bytes", MaxVEXDocument)
	}
	if err := predicate.Unambiguous(raw); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var doc VEXDocument
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	switch {
	case doc.Context != VEXContext:
		return nil, fmt.Errorf("@context %q (want %s)", doc.Context, VEXContext)
	case doc.ID == "" || doc.Author == "":
		return nil, errors.New("@id and author are required")
	case len(doc.Statements) == 0:
		return nil, errors.New("no statements")
	case len(doc.Statements) > maxVEXStatements:
		return nil, fmt.Errorf("%d statements (limit %d)", len(doc.Statements), maxVEXStatements)
	}
	if _, err := time.Parse(time.RFC3339, doc.Timestamp); err != nil {
		return nil, fmt.Errorf("timestamp %q is not RFC 3339", doc.Timestamp)
	}
	return &doc, nil
}

// check applies this project's rules to one statement at now and parses its expiry.
func (st *VEXStatement) check(now time.Time) error {
	name := st.Vulnerability.Name
	if name == "" {
		return errors.New("statement without vulnerability name")
	}
	if len(st.Products) == 0 {
		return fmt.Errorf("%s: no products", name)
	}
	for _, p := range st.Products {
		if !strings.HasPrefix(p.ID, "pkg:golang/") {
			return fmt.Errorf("%s: product %q is not pkg:golang/<module path>", name, p.ID)
		}
	}
	if st.Status != "not_affected" {
		return fmt.Errorf("%s: status %q cannot waive a finding (only not_affected)", name, st.Status)
	}
	if !contains(Justifications, st.Justification) {
		return fmt.Errorf("%s: unjustified: justification %q is not one of %s", name, st.Justification, strings.Join(Justifications, ", "))
	}
	if strings.TrimSpace(st.ImpactStatement) == "" {
		return fmt.Errorf("%s: unjustified: no impact_statement", name)
	}
	day, err := time.Parse(time.DateOnly, st.Expires)
	if err != nil {
		return fmt.Errorf("%s: expires %q is not a date (YYYY-MM-DD)", name, st.Expires)
	}
	st.expires = day.AddDate(0, 0, 1)
	if !now.Before(st.expires) {
		return fmt.Errorf("%s: expired on %s", name, st.Expires)
	}
	return nil
}

// Waive returns the statement that waives f, if any: the vulnerability's name (or one of
// its aliases) is f's id or one of f's aliases, and a product is f's module (product).
func (v *VEX) Waive(f Finding) *Waiver {
	for i := range v.Statements {
		st := &v.Statements[i]
		if st.names(f) && st.covers(f.Product) {
			return &Waiver{Source: st.source, Vulnerability: st.Vulnerability.Name, Justification: st.Justification,
				ImpactStatement: st.ImpactStatement, Expires: st.Expires}
		}
	}
	return nil
}

func (st *VEXStatement) names(f Finding) bool {
	ids := append([]string{f.ID}, f.Aliases...)
	for _, n := range append([]string{st.Vulnerability.Name}, st.Vulnerability.Aliases...) {
		if contains(ids, n) {
			return true
		}
	}
	return false
}

func (st *VEXStatement) covers(product string) bool {
	for _, p := range st.Products {
		id := strings.TrimPrefix(p.ID, "pkg:golang/")
		if i := strings.LastIndex(id, "@"); i > 0 {
			id = id[:i]
		}
		if product != "" && id == product {
			return true
		}
	}
	return false
}
