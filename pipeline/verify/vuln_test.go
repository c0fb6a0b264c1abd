package verify_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/sign"
	"github.com/secure-movie-service/sms/pipeline/vuln"
)

// TestCheckSummarisesTheVulnerabilityAttestation: a signed cosign vuln predicate becomes
// summary.vuln in the facts (scanner, database date, unwaived and waived ids); one whose
// database date is not a date is reported invalid, as every predicate type is.
func TestCheckSummarisesTheVulnerabilityAttestation(t *testing.T) {
	w := mustWorld(t)
	ref, _ := w.publish(t, w.key)
	started := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	r := &vuln.Report{
		Scanner: vuln.Scanner{URI: "pkg:golang/golang.org/x/vuln@v1.9.0", Version: "v1.9.0"},
		DB:      vuln.DB{URI: "file:///cache/v0.0.0-20261105234957-e22db6528018", Modified: time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC), Version: "v0.0.0-20261105234957-e22db6528018"},
		Mode:    vuln.ModeBinary, Targets: []string{"movies"}, Started: started, Finished: started.Add(time.Minute),
		Findings:      []vuln.Finding{{ID: "GO-2026-6603", Module: "stdlib", Version: "v1.26.8", Level: predicate.LevelCalled, Target: "movies"}},
		Informational: []vuln.Finding{},
		Waived: []vuln.Finding{{ID: "GO-2026-6905", Module: "github.com/blakesmith/ar", Level: predicate.LevelCalled, Target: "movies",
			WaivedBy: &vuln.Waiver{Source: "vex/toolkit.json#0", Justification: "vulnerable_code_cannot_be_controlled_by_adversary", Expires: "2027-01-31"}}},
	}
	raw, err := r.Predicate()
	testkit.Must(t, err)
	testkit.Must(t, sign.Attest(context.Background(), ref, w.key.Signer, predicate.TypeVuln, raw))
	f, err := w.check(ref.String())
	testkit.Must(t, err)
	if !slices.Contains(f.PredicateTypes, predicate.TypeVuln) {
		t.Fatalf("predicate types %v", f.PredicateTypes)
	}
	var sum *predicate.VulnSummary
	for _, a := range f.Attestations {
		if a.PredicateType == predicate.TypeVuln && a.Valid && a.Summary != nil {
			sum = a.Summary.Vuln
		}
	}
	if sum == nil || sum.DBModified != "2026-11-05T23:49:57Z" || !slices.Equal(sum.Findings, []string{"GO-2026-6603"}) ||
		!slices.Equal(sum.Waived, []string{"GO-2026-6905"}) || sum.Scanner != "pkg:golang/golang.org/x/vuln@v1.9.0" {
		t.Fatalf("summary %+v", sum)
	}
	b, _ := json.Marshal(f)
	if !strings.Contains(string(b), `"vuln":{"scanner":"pkg:golang/golang.org/x/vuln@v1.9.0"`) {
		t.Fatalf("facts do not carry summary.vuln: %s", b)
	}

	bad := strings.Replace(string(raw), `"version": "2026-11-05T23:49:57Z"`, `"version": "v0.0.0-20261105234957-e22db6528018"`, 1)
	if bad == string(raw) {
		t.Fatal("the database date is not where the test expects it")
	}
	ref2, _ := w.publish(t, w.key)
	testkit.Must(t, sign.Attest(context.Background(), ref2, w.key.Signer, predicate.TypeVuln, []byte(bad)))
	f2, err := w.check(ref2.String())
	mustFail(t, f2, err, "scanner.db.version")
}
