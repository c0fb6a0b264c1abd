package predicate

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

const rev = "0123456789abcdef0123456789abcdef01234567"

func controls(body string) []byte {
	return []byte(`{"revision":"` + rev + `","model_digest":"sha256:` + strings.Repeat("ab", 32) + `","dirty":false,` + body + `}`)
}

func TestControlsPredicate(t *testing.T) {
	tests := []struct {
		name    string
		raw     []byte
		wantErr string
	}{
		{"passing", controls(`"passed":true,"controls":{"C-AUTHN-01":{"status":"pass","evidence":[{"id":"go:x.TestA","status":"pass"}]}}`), ""},
		{"failing is valid but not passed", controls(`"passed":false,"controls":{"C-AUTHN-01":{"status":"fail","reason":"x","evidence":[{"id":"go:x.TestA","status":"skip"}]}}`), ""},
		{"passed contradicts a failed control", controls(`"passed":true,"controls":{"C-AUTHN-01":{"status":"fail","evidence":[{"id":"go:x.TestA","status":"fail"}]}}`), "passed is true"},
		{"pass with failing evidence", controls(`"passed":true,"controls":{"C-AUTHN-01":{"status":"pass","evidence":[{"id":"go:x.TestA","status":"skip"}]}}`), "passes although"},
		{"no evidence", controls(`"passed":true,"controls":{"C-AUTHN-01":{"status":"pass","evidence":[]}}`), "no evidence"},
		{"no controls", controls(`"passed":true,"controls":{}`), "no controls"},
		{"C-CONTROLS-ATTESTED dirty flag is required", []byte(`{"revision":"` + rev + `","model_digest":"sha256:` + strings.Repeat("ab", 32) + `","passed":true,"controls":{"C-A-01":{"status":"pass","evidence":[{"id":"x","status":"pass"}]}}}`), "dirty is missing"},
		{"unknown field", controls(`"passed":true,"extra":1,"controls":{"C-A-01":{"status":"pass","evidence":[{"id":"x","status":"pass"}]}}`), "unknown field"},
		{"bad id", controls(`"passed":true,"controls":{"authn":{"status":"pass","evidence":[{"id":"x","status":"pass"}]}}`), "control id"},
		{"bad status", controls(`"passed":true,"controls":{"C-A-01":{"status":"ok","evidence":[{"id":"x","status":"pass"}]}}`), "status"},
		{"short revision", []byte(`{"revision":"abc","model_digest":"sha256:` + strings.Repeat("ab", 32) + `","passed":true,"controls":{"C-A-01":{"status":"pass","evidence":[{"id":"x","status":"pass"}]}}}`), "revision"},
		{"C-MANUAL-SIGNED a missing attestation, listed", controls(`"passed":false,"attestations_missing":["C-PENTEST"],"controls":{"C-PENTEST":{"status":"missing","kind":"manual","reason":"attestation missing: none","evidence":[{"id":"attestation:none","status":"missing"}]}}`), ""},
		{"C-MANUAL-SIGNED a missing platform setting, listed", controls(`"passed":false,"attestations_missing":["C-REPO-CODE-REVIEW"],"controls":{"C-REPO-CODE-REVIEW":{"status":"missing","kind":"platform","evidence":[{"id":"platform:github-code-review","status":"missing"}]}}`), ""},
		{"C-MANUAL-SIGNED a missing attestation, not listed", controls(`"passed":false,"controls":{"C-PENTEST":{"status":"missing","kind":"manual","evidence":[{"id":"attestation:none","status":"missing"}]}}`), "is not the controls with status missing"},
		{"C-MANUAL-SIGNED listed but not missing", controls(`"passed":false,"attestations_missing":["C-A-01"],"controls":{"C-A-01":{"status":"fail","kind":"manual","evidence":[{"id":"x","status":"fail"}]}}`), "is not the controls with status missing"},
		{"C-MANUAL-SIGNED passed with a missing attestation", controls(`"passed":true,"attestations_missing":["C-PENTEST"],"controls":{"C-PENTEST":{"status":"missing","kind":"manual","evidence":[{"id":"attestation:none","status":"missing"}]}}`), "passed is true although"},
		{"C-MANUAL-SIGNED a tested control cannot miss an attestation", controls(`"passed":false,"attestations_missing":["C-A-01"],"controls":{"C-A-01":{"status":"missing","kind":"tested","evidence":[{"id":"x","status":"missing"}]}}`), "needs kind manual or platform"},
		{"bad model digest", []byte(`{"revision":"` + rev + `","model_digest":"md5:x","passed":true,"controls":{"C-A-01":{"status":"pass","evidence":[{"id":"x","status":"pass"}]}}}`), "model_digest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Summarize(TypeControls, tc.raw)
			if tc.wantErr == "" {
				if err != nil || s.Controls == nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
			}
		})
	}
}

func TestSBOMAndProvenanceShapes(t *testing.T) {
	if _, err := Summarize(TypeSPDX, []byte(`{"spdxVersion":"SPDX-2.2"}`)); err == nil {
		t.Error("SPDX 2.2 accepted")
	}
	if _, err := Summarize(TypeCycloneDX, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6"}`)); err == nil {
		t.Error("CycloneDX without metadata accepted")
	}
	if _, err := Summarize(TypeProvenance, []byte(`{"buildDefinition":{"buildType":"x","externalParameters":{"source":{"repository":"r","revision":"`+rev+`"}}},"runDetails":{"builder":{"id":""}}}`)); err == nil {
		t.Error("provenance without builder accepted")
	}
	if s, err := Summarize("https://example.invalid/unknown", []byte(`{}`)); s != nil || err != nil {
		t.Error("an unknown type must give no summary")
	}
	for kind, want := range map[string]string{"provenance": TypeProvenance, "controls": TypeControls, "vuln": TypeVuln} {
		if got, _ := TypeFor(kind, []byte(`{}`)); got != want {
			t.Errorf("TypeFor(%s) = %s", kind, got)
		}
	}
	if got, _ := TypeFor("sbom", []byte(`{"bomFormat":"CycloneDX"}`)); got != TypeCycloneDX {
		t.Errorf("CycloneDX sbom type %s", got)
	}
	if _, err := TypeFor("vex", nil); err == nil {
		t.Error("unknown kind accepted")
	}
}

func vulnPredicate(edit func(*Vuln)) []byte {
	v := Vuln{
		Invocation: VulnInvocation{Parameters: map[string]any{"mode": "binary"}},
		Scanner: VulnScanner{URI: "pkg:golang/golang.org/x/vuln@v1.9.0", Version: "v1.9.0",
			DB: VulnDB{URI: "file:///db", Version: "2026-11-05T23:49:57Z"},
			Result: VulnResult{Mode: "binary", Targets: []string{"movies"},
				Findings:      []VulnFinding{{ID: "GO-2026-0002", Module: "stdlib", Level: LevelCalled}, {ID: "GO-2026-0001", Module: "stdlib", Level: LevelCalled}},
				Informational: []VulnFinding{{ID: "GO-2026-0003", Module: "example.com/m", Level: LevelRequired}},
				Waived:        []VulnFinding{{ID: "GO-2026-0004", Module: "stdlib", Level: LevelCalled, WaivedBy: "vex/a.json#0: x until 2027-01-31"}}}},
		Metadata: VulnMetadata{ScanStartedOn: time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC), ScanFinishedOn: time.Date(2026, 11, 30, 1, 1, 0, 0, time.UTC)},
	}
	if edit != nil {
		edit(&v)
	}
	b, _ := json.Marshal(v)
	return b
}

func TestVulnPredicate(t *testing.T) {
	s, err := Summarize(TypeVuln, vulnPredicate(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := VulnSummary{Scanner: "pkg:golang/golang.org/x/vuln@v1.9.0", DBURI: "file:///db", DBModified: "2026-11-05T23:49:57Z", Mode: "binary",
		Findings: []string{"GO-2026-0001", "GO-2026-0002"}, Waived: []string{"GO-2026-0004"},
		Started: time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC), Finished: time.Date(2026, 11, 30, 1, 1, 0, 0, time.UTC)}
	if !reflect.DeepEqual(*s.Vuln, want) {
		t.Fatalf("summary %+v", *s.Vuln)
	}
	for name, edit := range map[string]func(*Vuln){
		"no database date":             func(v *Vuln) { v.Scanner.DB.Version = "" },
		"a database version, no date":  func(v *Vuln) { v.Scanner.DB.Version = "v0.0.0-2026" },
		"no scanner":                   func(v *Vuln) { v.Scanner.URI = "" },
		"finished before started":      func(v *Vuln) { v.Metadata.ScanFinishedOn = v.Metadata.ScanStartedOn.Add(-time.Second) },
		"a waived finding in findings": func(v *Vuln) { v.Scanner.Result.Findings[0].WaivedBy = "x" },
		"a waiver without statement":   func(v *Vuln) { v.Scanner.Result.Waived[0].WaivedBy = "" },
		"an informational called one":  func(v *Vuln) { v.Scanner.Result.Informational[0].Level = LevelCalled },
		"no findings list":             func(v *Vuln) { v.Scanner.Result.Findings = nil },
		"a bad id":                     func(v *Vuln) { v.Scanner.Result.Findings[0].ID = "x" },
		"a bad mode":                   func(v *Vuln) { v.Scanner.Result.Mode = "image" },
	} {
		if _, err := Summarize(TypeVuln, vulnPredicate(edit)); err == nil || !strings.HasPrefix(err.Error(), "vuln: ") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := Summarize(TypeVuln, []byte(strings.Replace(string(vulnPredicate(nil)), `"invocation"`, `"extra":1,"invocation"`, 1))); err == nil {
		t.Error("unknown field accepted")
	}
}
