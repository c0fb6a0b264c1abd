package vuln

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// ErrVulnerable is wrapped by Report.Err when the scanned code calls (or the binary
// contains) a vulnerable symbol that no OpenVEX statement waives.
var ErrVulnerable = errors.New("vulnerable code is reachable")

// Finding is one vulnerability found in one scanned target.
type Finding struct {
	ID           string     `json:"id"` // GO-YYYY-NNNN
	Aliases      []string   `json:"aliases,omitempty"`
	Summary      string     `json:"summary,omitempty"`
	Module       string     `json:"module"` // "stdlib" for the standard library
	Version      string     `json:"version,omitempty"`
	FixedVersion string     `json:"fixed_version,omitempty"`
	Level        string     `json:"level"` // predicate.LevelCalled, LevelImported or LevelRequired
	Symbols      []string   `json:"symbols,omitempty"`
	CallSites    []CallSite `json:"call_sites,omitempty"`
	Target       string     `json:"target"`              // module directory (relative to Options.Dir) or binary
	Product      string     `json:"product"`             // the module path VEX products name
	WaivedBy     *Waiver    `json:"waived_by,omitempty"` // set on Report.Waived
	traces       [][]*frame // while parsing only
}

// CallSite is a position in the scanned code on a path to a vulnerable symbol.
type CallSite struct {
	File     string `json:"file"` // relative to the module's directory
	Line     int    `json:"line"`
	Function string `json:"function,omitempty"`
}

// Scanner identifies govulncheck.
type Scanner struct {
	URI     string `json:"uri"` // pkg:golang/golang.org/x/vuln@VERSION
	Version string `json:"version"`
}

// Report is the outcome of one Scan.
type Report struct {
	Scanner       Scanner   `json:"scanner"`
	DB            DB        `json:"db"`
	Mode          string    `json:"mode"`
	Targets       []string  `json:"targets"`
	Cached        []string  `json:"cached,omitempty"` // targets whose findings came from Options.ResultCache
	GoVersion     string    `json:"go_version,omitempty"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
	Findings      []Finding `json:"findings"`      // called and not waived: these fail
	Informational []Finding `json:"informational"` // required or imported only
	Waived        []Finding `json:"waived"`        // called, waived by a VEX statement
	Warnings      []string  `json:"warnings"`
	// Invocation is what Predicate writes as cosign's invocation (uri, event_id,
	// builder.id of the CI run); its parameters default to the mode and targets.
	Invocation predicate.VulnInvocation `json:"-"`
}

// Err is nil when no unwaived vulnerable symbol is called; otherwise it names the database
// date and every such finding.
func (r *Report) Err() error {
	if len(r.Findings) == 0 {
		return nil
	}
	var parts []string
	for _, f := range r.Findings {
		parts = append(parts, f.Line())
	}
	return fmt.Errorf("%w: %d called vulnerabilit%s (database %s of %s): %s", ErrVulnerable, len(r.Findings),
		plural(len(r.Findings), "y", "ies"), r.DB.Version, r.DB.Modified.Format(time.DateOnly), strings.Join(parts, "; "))
}

// Line is the finding on one line: id, module@version, fixed version, symbols, target.
func (f Finding) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s@%s", f.ID, f.Module, orDash(f.Version))
	if f.FixedVersion != "" {
		fmt.Fprintf(&b, " (fixed in %s)", f.FixedVersion)
	} else {
		b.WriteString(" (no fix)")
	}
	if len(f.Symbols) > 0 {
		syms := f.Symbols
		if len(syms) > 3 {
			syms = append(append([]string{}, syms[:3]...), fmt.Sprintf("+%d more", len(f.Symbols)-3))
		}
		fmt.Fprintf(&b, " %s", strings.Join(syms, ", "))
	}
	fmt.Fprintf(&b, " in %s", f.Target)
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Summary is the report in one line: scanner, the database's date, the counts and any
// warning (a database past MaxDBAge).
func (r *Report) Summary() string {
	s := fmt.Sprintf("govulncheck %s, database of %s: %d called, %d waived, %d informational", r.Scanner.Version,
		r.DB.Modified.Format(time.DateOnly), len(r.Findings), len(r.Waived), len(r.Informational))
	for _, w := range r.Warnings {
		s += "; warning: " + w
	}
	return s
}

// WriteText writes the report for a person.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "govulncheck %s, %s scan of %s\n", r.Scanner.Version, r.Mode, strings.Join(r.Targets, ", "))
	fmt.Fprintf(w, "database %s (%s), modified %s\n", r.DB.URI, r.DB.Version, r.DB.Modified.Format(time.RFC3339))
	if len(r.Cached) > 0 {
		fmt.Fprintf(w, "unchanged since their last scan (findings from the cache): %s\n", strings.Join(r.Cached, ", "))
	}
	section := func(title string, fs []Finding) {
		if len(fs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s (%d):\n", title, len(fs))
		for _, f := range fs {
			fmt.Fprintf(w, "  %s\n", f.Line())
			if f.Summary != "" {
				fmt.Fprintf(w, "      %s\n", f.Summary)
			}
			for _, c := range f.CallSites {
				fmt.Fprintf(w, "      called at %s:%d (%s)\n", c.File, c.Line, c.Function)
			}
			if f.WaivedBy != nil {
				fmt.Fprintf(w, "      waived by %s\n", f.WaivedBy)
			}
		}
	}
	section("FAIL: vulnerable symbols called", r.Findings)
	section("waived by OpenVEX", r.Waived)
	section("informational: required or imported, not called", r.Informational)
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "\nwarning: %s\n", warn)
	}
	verdict := "PASS"
	if r.Err() != nil {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\n%s: %d called, %d waived, %d informational (%.1fs)\n", verdict, len(r.Findings), len(r.Waived),
		len(r.Informational), r.Finished.Sub(r.Started).Seconds())
}

// sortFindings orders findings by target, then id.
func sortFindings(fs []Finding) {
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].Target != fs[j].Target {
			return fs[i].Target < fs[j].Target
		}
		return fs[i].ID < fs[j].ID
	})
}

// Predicate renders the report as cosign's vulnerability predicate
// (predicate.TypeVuln), the database's date in scanner.db.version.
func (r *Report) Predicate() ([]byte, error) {
	conv := func(fs []Finding) []predicate.VulnFinding {
		out := []predicate.VulnFinding{}
		for _, f := range fs {
			pf := predicate.VulnFinding{ID: f.ID, Aliases: f.Aliases, Module: f.Module, Version: f.Version,
				FixedVersion: f.FixedVersion, Level: f.Level, Symbols: f.Symbols, Target: f.Target}
			if f.WaivedBy != nil {
				pf.WaivedBy = f.WaivedBy.String()
			}
			out = append(out, pf)
		}
		return out
	}
	inv := r.Invocation
	if inv.Parameters == nil {
		inv.Parameters = map[string]any{"mode": r.Mode, "targets": r.Targets}
	}
	v := &predicate.Vuln{
		Invocation: inv,
		Scanner: predicate.VulnScanner{
			URI: r.Scanner.URI, Version: r.Scanner.Version,
			DB: predicate.VulnDB{URI: r.DB.URI, Version: r.DB.Modified.UTC().Format(time.RFC3339)},
			Result: predicate.VulnResult{Mode: r.Mode, Targets: r.Targets, GoVersion: r.GoVersion, DBSnapshot: r.DB.Version,
				Findings: conv(r.Findings), Informational: conv(r.Informational), Waived: conv(r.Waived)},
		},
		Metadata: predicate.VulnMetadata{ScanStartedOn: r.Started.UTC(), ScanFinishedOn: r.Finished.UTC()},
	}
	return predicate.MarshalVuln(v)
}
