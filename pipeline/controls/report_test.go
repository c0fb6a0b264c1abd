package controls

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// TestPredicateMatchesTheAdmissionShape is evidence for C-CONTROLS-ATTESTED: the predicate
// pipeline controls writes is what pipeline/predicate (the parser verification and admission
// use) accepts, it passes only when every control held, it names every failed control, and it
// is refused when its revision is unknown or the work tree was dirty.
func TestPredicateMatchesTheAdmissionShape(t *testing.T) {
	attested := mustFixture(t)
	mustAttest(t, attested, mustKit(t).alice, fixedNow.Add(-time.Hour), "2027-01-01")
	pass := mustVerifyWith(t, attested, nil)
	unattested := mustVerifyWith(t, mustFixture(t), nil)
	failing := mustFixture(t)
	mustEdit(t, failing, "check_test.go", "func TestLimit(", "func TestLimitCaps(")
	fail := mustVerifyWith(t, failing, nil)

	for _, tc := range []struct {
		name    string
		r       *Report
		passed  bool
		failed  []string
		missing []string
	}{
		{"every control holds", pass, true, []string{}, []string{}},
		{"C-MANUAL-SIGNED an attestation is missing", unattested, false, []string{}, []string{"C-REVIEW"}},
		{"a control fails", fail, false, []string{"C-LIMIT"}, []string{"C-REVIEW"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.r.Predicate(false)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			typ, err := predicate.TypeFor(predicate.KindControls, raw)
			if err != nil {
				t.Fatal(err)
			}
			s, err := predicate.Summarize(typ, raw)
			if err != nil || s == nil || s.Controls == nil {
				t.Fatalf("pipeline/predicate refuses it: %v\n%s", err, raw)
			}
			c := s.Controls
			if c.Passed != tc.passed || !slices.Equal(c.Failed, tc.failed) || !slices.Equal(c.AttestationsMissing, tc.missing) || c.Total != 3 ||
				c.Revision != tc.r.Revision || c.ModelDigest != tc.r.ModelDigest || !strings.HasPrefix(c.ModelDigest, "sha256:") {
				t.Fatalf("summary %+v", c)
			}
			if p.Controls["C-REVIEW"].Kind != "manual" || p.Controls["C-LIMIT"].Kind != "tested" {
				t.Fatalf("kinds: %+v", p.Controls)
			}
		})
	}

	t.Run("a dirty work tree gives no predicate", func(t *testing.T) {
		r := *pass
		r.Dirty = true
		if _, err := r.Predicate(false); !errors.Is(err, ErrNoPredicate) {
			t.Fatalf("err = %v", err)
		}
		if _, err := r.Predicate(true); err != nil {
			t.Fatalf("with allowDirty: %v", err)
		}
	})
	t.Run("no revision gives no predicate", func(t *testing.T) {
		r := *pass
		r.Revision = ""
		if _, err := r.Predicate(true); !errors.Is(err, ErrNoPredicate) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestReports writes every report of a failing verification and checks each is well formed
// and says what failed.
func TestReports(t *testing.T) {
	dir := mustFixture(t)
	mustEdit(t, dir, "check_test.go", "func TestLimit(t *testing.T) {\n", "func TestLimit(t *testing.T) {\n\tt.Skip(\"flaky\")\n")
	mustAttest(t, dir, mustKit(t).alice, fixedNow.Add(-time.Hour), "2027-01-01")
	r := mustVerifyWith(t, dir, nil)
	out := t.TempDir()
	note, err := r.Write(out, false)
	if err != nil || note != "" {
		t.Fatalf("Write: %v %q", err, note)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	text := read(FileText)
	for _, want := range []string{
		"FAIL T-FLOOD  Flood", "  FAIL C-LIMIT", "SKIP go:example.com/fixture.TestLimit", "pass C-REVIEW  A person reviews  (manual, role: reviewer)",
		"attested by Alice Example (reviewer) on 2026-06-01, valid until 2027-01-01: https://tracker.example/REVIEW-1",
		"attestations missing: 0\n",
		"FAIL: controls 2/3 hold (tested 1/2, manual 1/1, platform 0/0); threats 1/2; evidence 2/3; 1 findings; 0 attestations missing",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report.txt lacks %q:\n%s", want, text)
		}
	}

	md := read(FileMarkdown)
	for _, want := range []string{
		"```mermaid\nflowchart LR\n", `subgraph TB_POD["TB-POD: Pod"]`, `CMP_API("API")`, `CMP_CLIENT -->|"DF-CLIENT-API: HTTPS"| CMP_API`,
		"## Traceability matrix", "| control | layer | kind | T-BAD-INPUT | T-FLOOD | evidence | status |",
		"| [C-LIMIT](#c-limit) Sizes are limited | runtime | tested | | ● | 0/1 evidence | ❌ fail |",
		"## Attested and platform controls", "| C-REVIEW A person reviews | manual | reviewer | Alice Example | 2026-06-01 | 2027-01-01 | https://tracker.example/REVIEW-1 | ✅ pass |",
		"### Attestations missing: 0",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}

	var back Report
	if err := json.Unmarshal([]byte(read(FileJSON)), &back); err != nil || back.Passed || len(back.Controls) != 3 || back.Findings[0].Control != "C-LIMIT" {
		t.Fatalf("report.json: %v %+v", err, back.Findings)
	}

	var sarif map[string]any
	if err := json.Unmarshal([]byte(read(FileSARIF)), &sarif); err != nil || sarif["version"] != "2.1.0" {
		t.Fatalf("controls.sarif: %v %v", err, sarif["version"])
	}
	res := sarif["runs"].([]any)[0].(map[string]any)["results"].([]any)
	if len(res) != 1 || res[0].(map[string]any)["ruleId"] != RuleEvidenceSkipped {
		t.Fatalf("SARIF results %v", res)
	}

	var junit junitSuites
	if err := xml.Unmarshal([]byte(read(FileJUnit)), &junit); err != nil || junit.Tests != 5 || junit.Failures != 2 {
		t.Fatalf("junit.xml: %v tests %d failures %d", err, junit.Tests, junit.Failures)
	}
	// Who attested and until when, in JUnit and JSON too.
	if j := read(FileJUnit); !strings.Contains(j, "attested by Alice Example (reviewer) on 2026-06-01, valid until 2027-01-01") {
		t.Errorf("junit.xml does not name the attester:\n%s", j)
	}
	if c, _ := back.control("C-REVIEW"); c.Attestation == nil || c.Attestation.Attester != "Alice Example" || c.Attestation.Expires != "2027-01-01" || c.Attestation.KeyID != mustKit(t).alice.Signer.ID {
		t.Errorf("report.json attestation %+v", c.Attestation)
	}

	var p predicate.Controls
	if err := json.Unmarshal([]byte(read(FilePredicate)), &p); err != nil || p.Passed || p.Controls["C-LIMIT"].Evidence[0].Status != StatusSkip {
		t.Fatalf("predicate.json: %v %+v", err, p)
	}
}

// TestReportsListMissingAttestations is evidence for C-MANUAL-SIGNED: a run whose tested
// controls hold passes, and every report (text, Markdown, JSON, JUnit, the predicate) names
// each attestation still missing and why.
func TestReportsListMissingAttestations(t *testing.T) {
	r := mustVerifyWith(t, mustFixture(t), nil)
	if !r.Passed || len(r.Findings) != 0 {
		t.Fatalf("tested controls hold, yet passed %v: %+v", r.Passed, r.Findings)
	}
	out := t.TempDir()
	if _, err := r.Write(out, false); err != nil {
		t.Fatal(err)
	}
	const why = `no signed attestation; a reviewer with role "reviewer" must attest it (pipeline controls attest --control C-REVIEW)`
	for file, wants := range map[string][]string{
		FileText:      {"attestations missing: 1\n  C-REVIEW (manual): " + why, "PASS (tested controls; attestations missing): controls 2/3 hold", "MISS C-REVIEW"},
		FileMarkdown:  {"### Attestations missing: 1\n\n- **C-REVIEW** (manual): " + why, "| attestations missing | 1: C-REVIEW |", "⏳ 1 attestations missing"},
		FileJSON:      {`"attestations_missing": [`, `"control": "C-REVIEW"`, `"reason": "` + strings.ReplaceAll(why, `"`, `\"`)},
		FileJUnit:     {"C-REVIEW does not hold", "attestation missing: " + strings.ReplaceAll(why, `"`, "&#34;")},
		FilePredicate: {`"attestations_missing": [` + "\n    \"C-REVIEW\"\n  ]", `"status": "missing"`},
	} {
		b, err := os.ReadFile(filepath.Join(out, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range wants {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %q:\n%s", file, want, b)
			}
		}
	}
}
