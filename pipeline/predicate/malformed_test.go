package predicate_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// TestMalformedPredicatesAreRejected: every parser refuses each malformed document with an
// error that names the predicate and says what is wrong.
func TestMalformedPredicatesAreRejected(t *testing.T) {
	spdx, cdx := string(testkit.SPDX()), string(testkit.CycloneDX())
	prov := string(testkit.Provenance(testkit.SourceRepository, testkit.Revision))
	ctl := string(testkit.Controls(testkit.Revision))
	huge := append(append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), predicate.MaxSize)...), `"}`...)
	tests := []struct {
		name    string
		typ     string
		raw     string
		wantErr string
	}{
		// Shared by every type: the bytes are not one unambiguous JSON value.
		{"empty", predicate.TypeSPDX, "", "spdx: not a JSON value"},
		{"not JSON", predicate.TypeProvenance, "provenance?", "provenance: invalid character"},
		{"truncated", predicate.TypeControls, ctl[:len(ctl)/2], "controls: unexpected EOF"},
		{"two values", predicate.TypeCycloneDX, cdx + cdx, "cyclonedx: trailing data"},
		{"trailing bracket", predicate.TypeControls, ctl + "]", "controls: invalid character ']'"},
		{"duplicate key", predicate.TypeProvenance, strings.Replace(prov, `{`, `{"runDetails":{},`, 1), `provenance: duplicate key "runDetails"`},
		{"duplicate key by case", predicate.TypeSPDX, strings.Replace(spdx, `{`, `{"SPDXVERSION":"SPDX-2.2",`, 1), `spdx: duplicate key "spdxVersion"`},
		{"duplicate key by Unicode folding", predicate.TypeControls, strings.Replace(ctl, `{`, `{"pa`+"\u017f"+`sed":false,`, 1), "controls: duplicate key"},
		{"nested too deep", predicate.TypeCycloneDX, `{"x":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, "cyclonedx: nested deeper than 128"},
		{"oversized", predicate.TypeSPDX, string(huge), "spdx: larger than"},
		// SPDX.
		{"spdx: null", predicate.TypeSPDX, "null", "spdx: spdxVersion"},
		{"spdx: array", predicate.TypeSPDX, "[]", "spdx: json: cannot unmarshal array"},
		{"spdx: version 2.2", predicate.TypeSPDX, strings.Replace(spdx, "SPDX-2.3", "SPDX-2.2", 1), `spdxVersion "SPDX-2.2" is not SPDX-2.3`},
		{"spdx: packages not a list", predicate.TypeSPDX, `{"spdxVersion":"SPDX-2.3","packages":"none"}`, "spdx: json: cannot unmarshal string"},
		{"spdx: no creation info", predicate.TypeSPDX, strings.Replace(spdx, `"creationInfo"`, `"creationInfoX"`, 1), "creationInfo missing"},
		{"spdx: packages missing", predicate.TypeSPDX, strings.Replace(spdx, `"packages"`, `"packagesX"`, 1), "packages missing"},
		{"spdx: data license", predicate.TypeSPDX, strings.Replace(spdx, "CC0-1.0", "MIT", 1), "dataLicense is not CC0-1.0"},
		// CycloneDX.
		{"cyclonedx: null", predicate.TypeCycloneDX, "null", `cyclonedx: bomFormat ""`},
		{"cyclonedx: spec 2", predicate.TypeCycloneDX, strings.Replace(cdx, `"1.6"`, `"2.0"`, 1), `specVersion "2.0"`},
		{"cyclonedx: spec not a version", predicate.TypeCycloneDX, strings.Replace(cdx, `"1.6"`, `"1.6 and more"`, 1), `specVersion "1.6 and more"`},
		{"cyclonedx: no metadata", predicate.TypeCycloneDX, `{"bomFormat":"CycloneDX","specVersion":"1.6"}`, "cyclonedx: metadata missing"},
		{"cyclonedx: components not a list", predicate.TypeCycloneDX, strings.Replace(cdx, `"components":[]`, `"components":{}`, 1), "cyclonedx: json: cannot unmarshal object"},
		// Provenance.
		{"provenance: null", predicate.TypeProvenance, "null", "provenance: missing buildDefinition.buildType"},
		{"provenance: unknown field", predicate.TypeProvenance, strings.Replace(prov, `{`, `{"extra":1,`, 1), `provenance: json: unknown field "extra"`},
		{"provenance: short revision", predicate.TypeProvenance, strings.Replace(prov, testkit.Revision, "0123abc", 1), "externalParameters.source.revision"},
		{"provenance: no source", predicate.TypeProvenance, strings.Replace(prov, `"repository":"`+testkit.SourceRepository+`"`, `"repository":""`, 1), "externalParameters.source.repository"},
		{"provenance: revision is a number", predicate.TypeProvenance, strings.Replace(prov, `"`+testkit.Revision+`"`, "1", 1), "provenance: json: cannot unmarshal number"},
		// Controls.
		{"controls: null", predicate.TypeControls, "null", "controls: revision is not a full commit id"},
		{"controls: passed is a string", predicate.TypeControls, strings.Replace(ctl, `"passed":true`, `"passed":"true"`, 1), "controls: json: cannot unmarshal string"},
		{"controls: statuses uppercase", predicate.TypeControls, strings.ReplaceAll(ctl, `"pass"`, `"PASS"`), `status "PASS" is not pass, fail or missing`},
		{"controls: passed with a failure", predicate.TypeControls, strings.Replace(string(testkit.Controls(testkit.Revision, "C-AUTHZ-01")), `"passed":false`, `"passed":true`, 1), "passed is true although a control failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := predicate.Summarize(tc.typ, []byte(tc.raw))
			if err == nil {
				t.Fatalf("accepted: %+v", s)
			}
			if s != nil {
				t.Fatalf("a summary came with the error: %+v", s)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
	t.Run("the fixtures themselves are accepted", func(t *testing.T) {
		for typ, raw := range map[string]string{predicate.TypeSPDX: spdx, predicate.TypeCycloneDX: cdx, predicate.TypeProvenance: prov, predicate.TypeControls: ctl} {
			if _, err := predicate.Summarize(typ, []byte(raw)); err != nil {
				t.Errorf("%s: %v", typ, err)
			}
		}
	})
}
