package controls

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixedNow is the time of every fixture run.
var fixedNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const fixtureModel = "threatmodel/threatmodel.yaml"

// mustFixture copies testdata/drift (a model, a Go module and a Rego package) to a
// temporary directory.
func mustFixture(tb testing.TB) string {
	tb.Helper()
	dst := tb.TempDir()
	err := filepath.WalkDir("testdata/drift", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/drift", p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return dst
}

// mustEdit replaces the first old in file with new; old must be there.
func mustEdit(tb testing.TB, dir, file, old, new string) {
	tb.Helper()
	p := filepath.Join(dir, file)
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		tb.Fatalf("%s lacks %q", file, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func fixtureOptions(dir string) Options {
	clean := false
	return Options{
		Root: dir, Model: fixtureModel, GoEnv: []string{"GOWORK=off", "GOFLAGS=-mod=mod"}, GoFlags: []string{"-count=1"},
		PolicyRoot: "policy", PolicyData: []string{}, Now: func() time.Time { return fixedNow },
		Revision: strings.Repeat("ab", 20), Dirty: &clean, Reviewers: []byte(`{"reviewers": {}}`),
	}
}

func mustVerify(tb testing.TB, dir string) *Report {
	tb.Helper()
	r, err := Run(context.Background(), fixtureOptions(dir))
	if err != nil {
		tb.Fatalf("Run: %v", err)
	}
	return r
}

func TestFixturePasses(t *testing.T) {
	r := mustVerify(t, mustFixture(t))
	if !r.Passed || len(r.Findings) != 0 {
		var b strings.Builder
		r.WriteText(&b, true)
		t.Fatalf("the pristine fixture does not pass:\n%s", b.String())
	}
	s := r.Summary
	if s.Threats != 2 || s.Tested != 2 || s.Manual != 1 || s.Evidence != 3 || s.EvidencePassing != 3 {
		t.Fatalf("summary %+v", s)
	}
	if len(r.GoPackages) != 1 || len(r.RegoPackages) != 1 {
		t.Fatalf("go %v rego %v", r.GoPackages, r.RegoPackages)
	}
}

// TestDriftGuard: each way the model and the tests can drift apart makes the verification
// fail, with a finding that names the control (or the threat) and says what is wrong.
func TestDriftGuard(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(tb testing.TB, dir string)
		rule    string
		subject string // the control or threat the finding is about
		say     string // what its message says
	}{
		{"deleting a control's only test", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, "check_test.go", "func TestLimit(t *testing.T) {\n\tif Limit(11) != 10 {\n\t\tt.Fatal(\"no limit\")\n\t}\n}\n", "")
		}, RuleEvidenceMissing, "C-LIMIT", "no test TestLimit ran in example.com/fixture"},
		{"t.Skip in it", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, "check_test.go", "func TestLimit(t *testing.T) {\n", "func TestLimit(t *testing.T) {\n\tt.Skip(\"flaky\")\n")
		}, RuleEvidenceSkipped, "C-LIMIT", "go:example.com/fixture.TestLimit was skipped"},
		{"t.Skip in the evidence subtest", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, "check_test.go", "\t\tif Check(\"\") == nil {", "\t\tt.Skip(\"later\")\n\t\tif Check(\"\") == nil {")
		}, RuleEvidenceSkipped, "C-CHECK", "TestCheck/C-CHECK_rejects_bad_input was skipped"},
		{"t.Skip in a subtest of a whole-test evidence", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, fixtureModel, "go:example.com/fixture.TestCheck/C-CHECK_rejects_bad_input", "go:example.com/fixture.TestCheck")
			mustEdit(tb, dir, "check_test.go", "\t\tif err := Check(\"x\")", "\t\tt.SkipNow()\n\t\tif err := Check(\"x\")")
		}, RuleEvidenceSkipped, "C-CHECK", "skipped subtests: TestCheck/accepts_good_input"},
		{"renaming it", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, "check_test.go", "func TestLimit(", "func TestLimitCaps(")
		}, RuleEvidenceMissing, "C-LIMIT", "did you mean TestLimitCaps?"},
		{"renaming the evidence subtest", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, "check_test.go", `"C-CHECK rejects bad input"`, `"rejects bad input"`)
		}, RuleEvidenceMissing, "C-CHECK", "no test TestCheck/C-CHECK_rejects_bad_input ran"},
		{"the test fails", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, "check.go", "return min(n, 10)", "return n")
		}, RuleEvidenceFailed, "C-LIMIT", "go:example.com/fixture.TestLimit failed: "},
		{"the package no longer builds", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, "check.go", "return min(n, 10)", "return min(n, 10) +")
		}, RuleEvidenceMissing, "C-LIMIT", "did not build"},
		{"removing a control that a threat still names", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, fixtureModel, "  - id: C-LIMIT\n    title: Sizes are limited\n    description: Limit caps its input.\n    layer: runtime\n    kind: tested\n    source: [fixture]\n    implementation: [check.go#Limit]\n    evidence:\n      - go:example.com/fixture.TestLimit\n", "")
		}, RuleModelInvalid, "T-FLOOD", "controls names C-LIMIT, which does not exist"},
		{"adding a threat without a control", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, fixtureModel, "controls:\n  - id: C-CHECK\n", "  - {id: T-NEW, title: New, description: d, impact: i, likelihood: low, mitigation: m, stride: [spoofing], cwe: [CWE-287]}\ncontrols:\n  - id: C-CHECK\n")
		}, RuleThreatNoControl, "T-NEW", "has no control"},
		{"a control that answers no threat", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, fixtureModel, "controls: [C-LIMIT]", "controls: [C-CHECK]")
		}, RuleControlNoThreat, "C-LIMIT", "answers no threat"},
		{"a control without evidence", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, fixtureModel, "    evidence:\n      - go:example.com/fixture.TestLimit\n", "")
		}, RuleControlNoEvidence, "C-LIMIT", "has no evidence"},
		{"an evidence id with a typo in the test name", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, fixtureModel, "fixture.TestLimit", "fixture.TestLimt")
		}, RuleEvidenceMissing, "C-LIMIT", "no test TestLimt ran in example.com/fixture; did you mean TestLimit?"},
		{"an evidence id with a typo in the package", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, fixtureModel, "go:example.com/fixture.TestLimit", "go:example.com/fixtur.TestLimit")
		}, RuleEvidenceMissing, "C-LIMIT", "package example.com/fixtur did not build"},
		{"an evidence id with a typo in the rego rule", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, fixtureModel, "test_denies_bad_input", "test_denies_bad_inptu")
		}, RuleEvidenceMissing, "C-CHECK", "did you mean fixture.policy_test.test_denies_bad_input"},
		{"an evidence id with a typo in the rego package", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, fixtureModel, "rego:fixture.policy_test.", "rego:fixture.polcy_test.")
		}, RuleEvidenceMissing, "C-CHECK", "declares package fixture.polcy_test"},
		{"a malformed evidence id", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, fixtureModel, "go:example.com/fixture.TestLimit", "go:example.com/fixture TestLimit")
		}, RuleModelInvalid, "C-LIMIT", "want go:<import path>.<TestName>"},
		{"the rego test renamed todo_", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, "policy/fixture/policy_test.rego", "test_denies_bad_input if", "todo_test_denies_bad_input if")
		}, RuleEvidenceSkipped, "C-CHECK", "renamed todo_test_denies_bad_input"},
		{"the rego test fails", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, "policy/fixture/policy.rego", `allow if input.value != ""`, "allow := true")
		}, RuleEvidenceFailed, "C-CHECK", "rego:fixture.policy_test.test_denies_bad_input failed"},
		{"the policy does not compile", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, "policy/fixture/policy.rego", `allow if input.value != ""`, `allow if input.value !=`)
		}, RuleEvidenceMissing, "C-CHECK", "load "},
		{"an implementation file is gone", func(tb testing.TB, dir string) {
			if err := os.Remove(filepath.Join(dir, "policy/fixture/policy.rego")); err != nil {
				tb.Fatal(err)
			}
		}, RuleImplementationGone, "C-CHECK", "implementation path policy/fixture/policy.rego does not exist"},
		{"C-CONTROLS-ATTESTED a symbol the code does not declare", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, fixtureModel, "check.go#Limit", "check.go#Limt")
		}, RuleTrace, "C-LIMIT", "check.go declares no Limt"},
		{"a control that names no symbol", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, fixtureModel, "check.go#Limit", "check.go")
		}, RuleTrace, "C-LIMIT", "names no symbol"},
		{"a rule the model names whose METADATA names another control", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, "policy/fixture/policy.rego", "controls: [C-CHECK]", "controls: [C-LIMIT]")
		}, RuleTrace, "C-CHECK", "does not name C-CHECK in custom.controls"},
		{"a rule claims a control whose implementation does not list its file", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, "policy/fixture/policy.rego", "controls: [C-CHECK]", "controls: [C-CHECK, C-LIMIT]")
		}, RuleTrace, "C-LIMIT", "does not list policy/fixture/policy.rego"},
		{"a rule claims a control the model lacks", func(tb testing.TB, dir string) {
			mustEdit(tb, dir, "policy/fixture/policy.rego", "controls: [C-CHECK]", "controls: [C-CHECK, C-GHOST]")
		}, RuleTrace, "", "rules name C-GHOST in custom.controls, which the model does not define"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := mustFixture(t)
			tc.mutate(t, dir)
			r := mustVerify(t, dir)
			if r.Passed {
				t.Fatal("the verification passed")
			}
			var all []string
			for _, f := range r.Findings {
				all = append(all, f.Rule+" "+f.String())
				if f.Rule == tc.rule && (f.Control == tc.subject || f.Threat == tc.subject) && strings.Contains(f.String(), tc.say) {
					return
				}
			}
			t.Fatalf("no %s finding about %s saying %q; findings:\n%s", tc.rule, tc.subject, tc.say, strings.Join(all, "\n"))
		})
	}
}

// TestCheckEvidence: check:<name> evidence shows what the check checked beside a pass (the
// vulnerability database's date, for the scans), its error beside a failure; a check that
// panics fails, and one the pipeline does not provide is missing.
func TestCheckEvidence(t *testing.T) {
	for _, tc := range []struct {
		name          string
		check         Check
		status, shown string
	}{
		{"pass", func(context.Context) (string, error) { return "database of 2026-11-05: 0 called", nil }, StatusPass, "database of 2026-11-05: 0 called"},
		{"fail", func(context.Context) (string, error) { return "ignored", errors.New("GO-2099-0001 called") }, StatusFail, "GO-2099-0001 called"},
		{"panic", func(context.Context) (string, error) { panic("boom") }, StatusFail, "check panicked: boom"},
		{"missing", nil, StatusMissing, `the pipeline provides no check "fixture"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := mustFixture(t)
			mustEdit(t, dir, fixtureModel, "      - go:example.com/fixture.TestLimit\n", "      - go:example.com/fixture.TestLimit\n      - check:fixture\n")
			o := fixtureOptions(dir)
			if tc.check != nil {
				o.Checks = map[string]Check{"fixture": tc.check}
			}
			r, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := r.control("C-LIMIT")
			e := c.Evidence[len(c.Evidence)-1]
			if e.ID != "check:fixture" || e.Status != tc.status || e.Detail != tc.shown {
				t.Fatalf("got %+v, want %s %q", e, tc.status, tc.shown)
			}
			for _, verbose := range []bool{true, false} {
				var txt strings.Builder
				r.WriteText(&txt, verbose)
				if !strings.Contains(txt.String(), tc.shown) {
					t.Fatalf("the text report (verbose %v) does not show %q:\n%s", verbose, tc.shown, txt.String())
				}
			}
		})
	}
}

// TestOnlyEvidenceRuns: go test runs the tests the evidence names (with all their subtests)
// and no other test of their packages; make test runs those.
func TestOnlyEvidenceRuns(t *testing.T) {
	dir := mustFixture(t)
	mark := filepath.Join(t.TempDir(), "ran")
	mustEdit(t, dir, "check_test.go", "import \"testing\"\n", "import (\n\t\"os\"\n\t\"testing\"\n)\n\n"+
		"func TestNotEvidence(t *testing.T) { os.WriteFile(os.Getenv(\"SMS_MARK\"), nil, 0o600) }\n")
	o := fixtureOptions(dir)
	o.GoEnv = append(o.GoEnv, "SMS_MARK="+mark)
	r, err := Run(context.Background(), o)
	if err != nil || !r.Passed {
		t.Fatalf("run: %v, passed %v", err, r != nil && r.Passed)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Fatal("a test no evidence names ran")
	}
	c, _ := r.control("C-CHECK")
	if c.Status != StatusPass || len(c.Evidence) != 2 {
		t.Fatalf("C-CHECK %+v", c)
	}
}
