package vuln

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// The VEX parser reads documents anyone with write access to the repository (or a pull
// request) supplies, and the stream parser reads govulncheck's output about code and
// binaries an attacker may shape: neither may panic, and what they accept must be
// consistent.

const seedVEX = `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex/1","author":"sec",
"timestamp":"2026-11-01T00:00:00Z","version":1,"statements":[{"vulnerability":{"name":"GO-2026-0001","aliases":["CVE-2026-1"]},
"products":[{"@id":"pkg:golang/example.com/app"}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path",
"impact_statement":"never called","expires":"2027-01-31"}]}`

func FuzzParseVEX(f *testing.F) {
	f.Add([]byte(seedVEX))
	f.Add([]byte(strings.Replace(seedVEX, `"version":1,`, `"version":1,"version":2,`, 1)))
	f.Add([]byte(strings.Replace(seedVEX, `"expires":"2027-01-31"`, `"expires":"2027-01-31","x":1`, 1)))
	for _, s := range []string{"", "{}", "null", "[]", `{"@context":1}`, strings.Repeat("{", 300)} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		doc, err := ParseVEX(raw)
		if err != nil {
			return
		}
		if err := predicate.Unambiguous(raw); err != nil {
			t.Fatalf("accepted an ambiguous document: %v", err)
		}
		if doc.Context != VEXContext || len(doc.Statements) == 0 {
			t.Fatalf("accepted %+v", doc)
		}
		v := &VEX{}
		for _, st := range doc.Statements {
			if st.check(now) == nil {
				if st.Status != "not_affected" || st.ImpactStatement == "" || !contains(Justifications, st.Justification) || !now.Before(st.expires) {
					t.Fatalf("statement passed its check: %+v", st)
				}
				v.Statements = append(v.Statements, st)
			}
		}
		f := Finding{ID: "GO-2026-0001", Product: "example.com/app"}
		if w := v.Waive(f); w != nil && w.Expires == "" {
			t.Fatalf("waived without expiry: %+v", w)
		}
	})
}

func FuzzParseStream(f *testing.F) {
	var seed bytes.Buffer
	for _, m := range []any{
		map[string]any{"config": map[string]any{"protocol_version": "v1.0.0", "scanner_name": "govulncheck", "db": "file:///db"}},
		map[string]any{"SBOM": map[string]any{"modules": []any{map[string]any{"path": "example.com/app"}}}},
		map[string]any{"osv": map[string]any{"id": "GO-2026-0001", "aliases": []string{"CVE-2026-1"}}},
		map[string]any{"finding": map[string]any{"osv": "GO-2026-0001", "trace": []any{map[string]any{"module": "example.com/lib", "version": "v1.0.0"}}}},
		map[string]any{"finding": map[string]any{"osv": "GO-2026-0001", "fixed_version": "v1.0.1", "trace": []any{
			map[string]any{"module": "example.com/lib", "package": "example.com/lib", "function": "Parse"},
			map[string]any{"module": "example.com/app", "package": "main", "function": "main", "position": map[string]any{"filename": "main.go", "line": 9}},
		}}},
	} {
		b, _ := json.Marshal(m)
		seed.Write(b)
		seed.WriteByte('\n')
	}
	f.Add(seed.Bytes())
	f.Add(seed.Bytes()[:seed.Len()/2])
	for _, s := range []string{"", "{}", `{"finding":{}}`, `{"config":{"protocol_version":"v2"}}`, "[", strings.Repeat(`{"progress":{}}`, 50)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := parseStream(bytes.NewReader(raw), "t")
		if err != nil {
			return
		}
		if !strings.HasPrefix(s.Config.ProtocolVersion, "v1.") {
			t.Fatalf("accepted protocol %q", s.Config.ProtocolVersion)
		}
		seen := map[string]bool{}
		for _, fd := range s.Findings {
			if fd.ID == "" || fd.Module == "" || levelRank[fd.Level] == 0 || seen[fd.ID] {
				t.Fatalf("finding %+v", fd)
			}
			seen[fd.ID] = true
			if (fd.Level == predicate.LevelCalled) != (len(fd.Symbols) > 0) {
				t.Fatalf("level %s with symbols %v", fd.Level, fd.Symbols)
			}
		}
	})
}
