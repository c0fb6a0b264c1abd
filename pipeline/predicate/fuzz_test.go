package predicate_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// Every predicate parser sees bytes signed by whoever holds a key given to verify: the
// fuzz targets below check that none of them panics, that whatever they accept is one
// unambiguous JSON value, and that an accepted summary is consistent with itself.
// Seeds: the testkit fixtures and the documents of a real `pipeline release` (testdata/).

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// addSeeds adds each seed and a few cut and doubled variants of it.
func addSeeds(f *testing.F, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)/2])
		f.Add(append(slices.Clone(s), s...))
	}
	for _, s := range []string{"", "null", "{}", "[]", "1", `"x"`, "{", `{"a":1,"a":2}`, strings.Repeat("[", 200)} {
		f.Add([]byte(s))
	}
}

// checkAccepted is what every accepted predicate must satisfy.
func checkAccepted(t *testing.T, raw []byte, s *predicate.Summary, err error, prefix string) {
	t.Helper()
	if err != nil {
		if s != nil {
			t.Fatalf("a summary came with the error %v", err)
		}
		if !strings.HasPrefix(err.Error(), prefix+": ") {
			t.Fatalf("error %q does not name the predicate (%s: …)", err, prefix)
		}
		return
	}
	if s == nil {
		t.Fatal("no error and no summary")
	}
	if !json.Valid(raw) {
		t.Fatalf("accepted bytes that are not one JSON value: %q", raw)
	}
	if err := predicate.Unambiguous(raw); err != nil {
		t.Fatalf("accepted an ambiguous document: %v", err)
	}
}

func FuzzSPDX(f *testing.F) {
	addSeeds(f, testkit.SPDX(), mustRead(f, "release.spdx.json"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := predicate.Summarize(predicate.TypeSPDX, raw)
		checkAccepted(t, raw, s, err, "spdx")
		if err == nil {
			if s.SBOM == nil || s.SBOM.Format != "spdx-2.3" || s.SBOM.GoModules == nil {
				t.Fatalf("summary %+v", s.SBOM)
			}
			if typ, err := predicate.TypeFor(predicate.KindSBOM, raw); err != nil || typ != predicate.TypeSPDX {
				t.Fatalf("an accepted SPDX document is typed %q (%v)", typ, err)
			}
		}
	})
}

func FuzzCycloneDX(f *testing.F) {
	addSeeds(f, testkit.CycloneDX(), mustRead(f, "release.cyclonedx.json"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := predicate.Summarize(predicate.TypeCycloneDX, raw)
		checkAccepted(t, raw, s, err, "cyclonedx")
		if err == nil && (s.SBOM == nil || !strings.HasPrefix(s.SBOM.Format, "cyclonedx-1.") || s.SBOM.GoModules == nil) {
			t.Fatalf("summary %+v", s.SBOM)
		}
		_, _ = predicate.TypeFor(predicate.KindSBOM, raw) // must not panic either
	})
}

func FuzzProvenance(f *testing.F) {
	addSeeds(f, testkit.Provenance(testkit.SourceRepository, testkit.Revision), mustRead(f, "release.provenance.json"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := predicate.Summarize(predicate.TypeProvenance, raw)
		checkAccepted(t, raw, s, err, "provenance")
		if err == nil {
			p := s.Provenance
			if p == nil || p.SourceRepository == "" || p.BuilderID == "" || p.BuildType == "" ||
				(len(p.SourceRevision) != 40 && len(p.SourceRevision) != 64) {
				t.Fatalf("summary %+v", p)
			}
		}
	})
}

func FuzzControls(f *testing.F) {
	addSeeds(f, testkit.Controls(testkit.Revision), testkit.Controls(testkit.Revision, "C-AUTHZ-01", "C-AUTHN-02"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := predicate.Summarize(predicate.TypeControls, raw)
		checkAccepted(t, raw, s, err, "controls")
		if err != nil {
			return
		}
		c := s.Controls
		if c == nil || c.Total == 0 || c.Total != len(c.Statuses) || !slices.IsSorted(c.Failed) {
			t.Fatalf("summary %+v", c)
		}
		// The property admission relies on: passed means every control passed.
		if c.Passed && len(c.Failed) > 0 {
			t.Fatalf("passed with failed controls %v", c.Failed)
		}
		for id, st := range c.Statuses {
			if (st != predicate.StatusPass) != slices.Contains(c.Failed, id) {
				t.Fatalf("status %s of %s disagrees with failed %v", st, id, c.Failed)
			}
		}
	})
}

func FuzzUnambiguous(f *testing.F) {
	addSeeds(f, testkit.SPDX(), []byte(`{"a":[1,{"b":null}],"c":"d"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := predicate.Unambiguous(raw)
		if err == nil && !json.Valid(raw) {
			t.Fatalf("invalid JSON accepted: %q", raw)
		}
	})
}

func FuzzVuln(f *testing.F) {
	seed := []byte(`{"invocation":{"parameters":null,"uri":"","event_id":"","builder.id":""},"scanner":{"uri":"pkg:golang/golang.org/x/vuln@v1.9.0","version":"v1.9.0",` +
		`"db":{"uri":"file:///db","version":"2026-11-05T23:49:57Z"},"result":{"mode":"binary","targets":["movies"],` +
		`"findings":[{"id":"GO-2026-0001","module":"stdlib","level":"called"}],"informational":[],` +
		`"waived":[{"id":"GO-2026-0002","module":"stdlib","level":"called","waived_by":"vex/a.json#0"}]}},` +
		`"metadata":{"scanStartedOn":"2026-11-30T01:00:00Z","scanFinishedOn":"2026-11-30T01:01:00Z"}}`)
	addSeeds(f, seed)
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := predicate.Summarize(predicate.TypeVuln, raw)
		checkAccepted(t, raw, s, err, "vuln")
		if err != nil {
			return
		}
		v := s.Vuln
		if v == nil || v.Scanner == "" || !slices.IsSorted(v.Findings) || !slices.IsSorted(v.Waived) || v.Finished.Before(v.Started) {
			t.Fatalf("summary %+v", v)
		}
		if _, err := time.Parse(time.RFC3339, v.DBModified); err != nil {
			t.Fatalf("db_modified %q", v.DBModified)
		}
	})
}
