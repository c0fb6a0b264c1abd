package vuln

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// Limits on a govulncheck JSON stream.
const (
	MaxStream   = 256 << 20 // bytes
	maxMessages = 1_000_000
	maxFrames   = 10_000 // per finding trace
)

// The govulncheck JSON protocol (golang.org/x/vuln/internal/govulncheck, v1.0.0): a stream of
// messages, each with exactly one field set.
type message struct {
	Config   *streamConfig   `json:"config,omitempty"`
	Progress json.RawMessage `json:"progress,omitempty"`
	SBOM     *sbom           `json:"SBOM,omitempty"`
	OSV      *osvEntry       `json:"osv,omitempty"`
	Finding  *streamFinding  `json:"finding,omitempty"`
}

type streamConfig struct {
	ProtocolVersion string     `json:"protocol_version"`
	ScannerName     string     `json:"scanner_name,omitempty"`
	ScannerVersion  string     `json:"scanner_version,omitempty"`
	DB              string     `json:"db,omitempty"`
	DBLastModified  *time.Time `json:"db_last_modified,omitempty"`
	GoVersion       string     `json:"go_version,omitempty"`
	ScanLevel       string     `json:"scan_level,omitempty"`
	ScanMode        string     `json:"scan_mode,omitempty"`
}

type sbom struct {
	GoVersion string `json:"go_version,omitempty"`
	Modules   []struct {
		Path    string `json:"path,omitempty"`
		Version string `json:"version,omitempty"`
	} `json:"modules,omitempty"`
	Roots []string `json:"roots,omitempty"`
}

type osvEntry struct {
	ID      string   `json:"id"`
	Aliases []string `json:"aliases,omitempty"`
	Summary string   `json:"summary,omitempty"`
}

type streamFinding struct {
	OSV          string   `json:"osv"`
	FixedVersion string   `json:"fixed_version,omitempty"`
	Trace        []*frame `json:"trace,omitempty"`
}

type frame struct {
	Module   string    `json:"module"`
	Version  string    `json:"version,omitempty"`
	Package  string    `json:"package,omitempty"`
	Function string    `json:"function,omitempty"`
	Receiver string    `json:"receiver,omitempty"`
	Position *position `json:"position,omitempty"`
}

type position struct {
	Filename string `json:"filename,omitempty"`
	Line     int    `json:"line"`
}

// stream is what one govulncheck run reported.
type stream struct {
	Config   streamConfig
	Main     string // the main module's path, from the SBOM message
	OSV      map[string]*osvEntry
	Findings []Finding // one per vulnerability, at its deepest level
}

// ErrStream marks a govulncheck output that is not a well-formed JSON stream.
var ErrStream = errors.New("govulncheck output")

// parseStream reads a govulncheck -json stream; target names what was scanned (a module
// directory or a binary). Findings of one vulnerability are merged into one, at the deepest
// level seen (called > imported > required), with every called symbol and call site.
func parseStream(r io.Reader, target string) (*stream, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxStream+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStream, err)
	}
	if len(raw) > MaxStream {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrStream, MaxStream)
	}
	// Unknown fields are allowed: the protocol grows (OSV entries carry many more).
	dec := json.NewDecoder(bytes.NewReader(raw))
	s := &stream{OSV: map[string]*osvEntry{}}
	byID := map[string]*Finding{}
	for n := 0; ; n++ {
		if n >= maxMessages {
			return nil, fmt.Errorf("%w: more than %d messages", ErrStream, maxMessages)
		}
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%w: message %d: %v", ErrStream, n, err)
		}
		if err := s.add(&m, n, target, byID); err != nil {
			return nil, err
		}
	}
	if s.Config.ProtocolVersion == "" {
		return nil, fmt.Errorf("%w: no config message", ErrStream)
	}
	for _, f := range byID {
		if e := s.OSV[f.ID]; e != nil {
			f.Aliases, f.Summary = e.Aliases, e.Summary
		}
		sort.Strings(f.Symbols)
		for _, tr := range f.traces {
			if site := callSite(tr, s.Main); site != nil && !containsSite(f.CallSites, *site) {
				f.CallSites = append(f.CallSites, *site)
			}
		}
		f.traces = nil
		s.Findings = append(s.Findings, *f)
	}
	sortFindings(s.Findings)
	return s, nil
}

// add takes one message into the stream.
func (s *stream) add(m *message, n int, target string, byID map[string]*Finding) error {
	switch {
	case m.Config != nil:
		if n != 0 {
			return fmt.Errorf("%w: config is message %d, not the first", ErrStream, n)
		}
		if !strings.HasPrefix(m.Config.ProtocolVersion, "v1.") {
			return fmt.Errorf("%w: protocol version %q (want v1.x)", ErrStream, m.Config.ProtocolVersion)
		}
		s.Config = *m.Config
	case n == 0:
		return fmt.Errorf("%w: the first message is not the config", ErrStream)
	case m.SBOM != nil:
		if len(m.SBOM.Modules) > 0 {
			s.Main = m.SBOM.Modules[0].Path
		}
	case m.OSV != nil:
		if m.OSV.ID == "" {
			return fmt.Errorf("%w: message %d: osv entry without id", ErrStream, n)
		}
		s.OSV[m.OSV.ID] = m.OSV
	case m.Finding != nil:
		f, err := fromStream(m.Finding, target)
		if err != nil {
			return fmt.Errorf("%w: message %d: %v", ErrStream, n, err)
		}
		merge(byID, f)
	}
	return nil
}

// fromStream turns one finding message into a Finding.
func fromStream(sf *streamFinding, target string) (*Finding, error) {
	if sf.OSV == "" {
		return nil, errors.New("finding without osv id")
	}
	if len(sf.Trace) == 0 || sf.Trace[0] == nil || sf.Trace[0].Module == "" {
		return nil, fmt.Errorf("finding %s without a trace naming its module", sf.OSV)
	}
	if len(sf.Trace) > maxFrames {
		return nil, fmt.Errorf("finding %s: trace of %d frames", sf.OSV, len(sf.Trace))
	}
	top := sf.Trace[0]
	f := &Finding{ID: sf.OSV, Module: top.Module, Version: top.Version, FixedVersion: sf.FixedVersion, Target: target}
	switch {
	case top.Function != "":
		f.Level = predicate.LevelCalled
		f.Symbols = []string{symbol(top)}
		f.traces = [][]*frame{sf.Trace}
	case top.Package != "":
		f.Level = predicate.LevelImported
	default:
		f.Level = predicate.LevelRequired
	}
	return f, nil
}

// symbol is pkg.Func or pkg.Recv.Method.
func symbol(fr *frame) string {
	name := fr.Function
	if fr.Receiver != "" {
		name = strings.TrimPrefix(fr.Receiver, "*") + "." + name
	}
	if fr.Package == "" {
		return name
	}
	return fr.Package + "." + name
}

// callSite is where the scanned code calls towards the vulnerable symbol: the frame of the
// main module nearest the symbol, or else the outermost frame with a position. File names
// are relative to the directory of the frame's module.
func callSite(trace []*frame, main string) *CallSite {
	var outer *CallSite
	for _, fr := range trace[1:] {
		if fr == nil || fr.Position == nil || fr.Position.Line <= 0 || fr.Position.Filename == "" {
			continue
		}
		site := &CallSite{File: fr.Position.Filename, Line: fr.Position.Line, Function: symbol(fr)}
		if main != "" && fr.Module == main {
			return site
		}
		outer = site
	}
	return outer
}

var levelRank = map[string]int{predicate.LevelRequired: 1, predicate.LevelImported: 2, predicate.LevelCalled: 3}

// merge adds f into byID, keeping the deepest level and every symbol and call site.
func merge(byID map[string]*Finding, f *Finding) {
	old := byID[f.ID]
	if old == nil {
		byID[f.ID] = f
		return
	}
	if levelRank[f.Level] > levelRank[old.Level] {
		old.Level = f.Level
	}
	if old.FixedVersion == "" {
		old.FixedVersion = f.FixedVersion
	}
	for _, s := range f.Symbols {
		if !contains(old.Symbols, s) {
			old.Symbols = append(old.Symbols, s)
		}
	}
	if len(old.traces) < maxCallSites {
		old.traces = append(old.traces, f.traces...)
	}
}

// maxCallSites bounds the call sites kept per finding.
const maxCallSites = 20

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsSite(list []CallSite, c CallSite) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}
