package vuln_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/pipeline/build"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/vuln"
)

func ids(fs []vuln.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

// TestScan is the evidence for C-DEPS-SCAN (source mode) and C-IMAGE-SCAN (binary mode):
// a called vulnerable function fails the scan and is named with the database's date; what
// is only imported or required is reported, not failing; only a valid, unexpired OpenVEX
// statement waives a finding.
func TestScan(t *testing.T) {
	fx := mustFixture(t)
	t.Run("C-DEPS-SCAN fails on a called vulnerable function", func(t *testing.T) {
		r, err := scanFixture(t, fx, vuln.ModeSource, "")
		if err != nil {
			t.Fatal(err)
		}
		err = r.Err()
		if !errors.Is(err, vuln.ErrVulnerable) || !strings.Contains(err.Error(), idCalled) ||
			!strings.Contains(err.Error(), "2099-01-02") || !strings.Contains(err.Error(), "example.com/vulnlib.Parse") {
			t.Fatalf("Err() = %v; want %s named with the database date", err, idCalled)
		}
		if got := ids(r.Findings); !slices.Equal(got, []string{idCalled}) {
			t.Fatalf("findings %v", got)
		}
		f := r.Findings[0]
		if f.Level != predicate.LevelCalled || f.Version != "v1.0.0" || f.FixedVersion != "v1.0.1" ||
			len(f.CallSites) == 0 || f.CallSites[0].File != "main.go" || f.CallSites[0].Line != 11 {
			t.Fatalf("finding %+v", f)
		}
		if !r.DB.Modified.Equal(fx.DB.Modified) || r.Scanner.Version == "" || r.Finished.Before(r.Started) {
			t.Fatalf("report header %+v %+v", r.DB, r.Scanner)
		}
	})
	t.Run("C-DEPS-SCAN reports imported or required-only vulnerabilities without failing", func(t *testing.T) {
		r, err := scanFixture(t, fx, vuln.ModeSource, "")
		if err != nil {
			t.Fatal(err)
		}
		levels := map[string]string{}
		for _, f := range r.Informational {
			levels[f.ID] = f.Level
		}
		if levels[idImported] != predicate.LevelImported || levels[idRequired] != predicate.LevelRequired || len(levels) != 2 {
			t.Fatalf("informational %v", levels)
		}
	})
	t.Run("C-IMAGE-SCAN fails on a vulnerable function in the binary", func(t *testing.T) {
		r, err := scanFixture(t, fx, vuln.ModeBinary, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Err(); !errors.Is(err, vuln.ErrVulnerable) || !strings.Contains(err.Error(), idCalled) || !strings.Contains(err.Error(), "2099-01-02") {
			t.Fatalf("Err() = %v", err)
		}
		if slices.Contains(ids(r.Findings), idRequired) {
			t.Fatalf("a module-only finding fails the binary scan: %v", ids(r.Findings))
		}
	})
	t.Run("C-DEPS-SCAN an OpenVEX statement waives the finding", func(t *testing.T) {
		for _, mode := range []string{vuln.ModeSource, vuln.ModeBinary} {
			r, err := scanFixture(t, fx, mode, vexDoc(t, statement(idCalled, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Err(); err != nil || len(r.Waived) != 1 || r.Waived[0].WaivedBy == nil ||
				r.Waived[0].WaivedBy.Justification != "vulnerable_code_cannot_be_controlled_by_adversary" {
				t.Fatalf("%s: Err() = %v, waived %+v", mode, err, r.Waived)
			}
		}
	})
	t.Run("C-DEPS-SCAN a statement for another product or vulnerability waives nothing", func(t *testing.T) {
		other := statement(idCalled, map[string]any{"products": []any{map[string]any{"@id": "pkg:golang/example.com/other"}}})
		r, err := scanFixture(t, fx, vuln.ModeSource, vexDoc(t, other, statement(idImported, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Err(); !errors.Is(err, vuln.ErrVulnerable) {
			t.Fatalf("waived by a statement about something else: %+v", r.Waived)
		}
	})
	t.Run("C-DEPS-SCAN an alias names the vulnerability too", func(t *testing.T) {
		r, err := scanFixture(t, fx, vuln.ModeSource, vexDoc(t, statement("CVE-2099-0001", nil)))
		if err != nil || r.Err() != nil {
			t.Fatalf("alias: %v %v", err, r.Err())
		}
	})
	for name, edits := range map[string]map[string]any{
		"expired":                 {"expires": "2099-01-09"},
		"unjustified":             {"justification": nil},
		"unknown justification":   {"justification": "trust_me"},
		"without impact":          {"impact_statement": " "},
		"without expiry":          {"expires": nil},
		"affected status":         {"status": "affected"},
		"with an unknown field":   {"waive": true},
		"without products":        {"products": []any{}},
		"with a non-Go product":   {"products": []any{map[string]any{"@id": "pkg:oci/movies"}}},
		"with a malformed date":   {"expires": "31/12/2099"},
		"without a vulnerability": {"vulnerability": map[string]any{"name": ""}},
	} {
		t.Run("C-DEPS-SCAN a statement "+name+" fails the scan", func(t *testing.T) {
			_, err := scanFixture(t, fx, vuln.ModeSource, vexDoc(t, statement(idCalled, edits)))
			want := "fixture.json#0" // the statement
			if _, ok := edits["waive"]; ok {
				want = "fixture.json: json: unknown field" // strict decoding refuses the document
			}
			if !errors.Is(err, vuln.ErrVEX) || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v; want an OpenVEX error naming %s", err, want)
			}
		})
	}
	t.Run("C-DEPS-SCAN a database older than 30 days is a warning", func(t *testing.T) {
		r, err := vuln.Scan(t.Context(), vuln.Options{DB: fx.DB, Mode: vuln.ModeBinary, Binary: fx.Binary, Now: fx.DB.Modified.AddDate(0, 0, 31)})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "31 days old") {
			t.Fatalf("warnings %v", r.Warnings)
		}
		var text strings.Builder
		r.WriteText(&text)
		if !strings.Contains(text.String(), "2099-01-02T03:04:05Z") || !strings.Contains(text.String(), "warning: the vulnerability database is 31 days old") {
			t.Fatalf("text report:\n%s", text.String())
		}
		// The one line the release step and the controls reports show.
		if s := r.Summary(); !strings.Contains(s, "database of 2099-01-02") || !strings.Contains(s, "warning: the vulnerability database is 31 days old") {
			t.Fatalf("summary %q", s)
		}
	})
	t.Run("C-IMAGE-SCAN extracts the binary from the image layer", func(t *testing.T) {
		bin, err := os.ReadFile(fx.Binary)
		if err != nil {
			t.Fatal(err)
		}
		img, err := build.Image(build.ImageSpec{Binary: bin, BinaryPath: "/movies", GOOS: "linux", GOARCH: "amd64",
			Epoch: 1, Source: "https://example.com/fixture", Revision: strings.Repeat("a", 40), Title: "movies"})
		if err != nil {
			t.Fatal(err)
		}
		if err := vuln.ExtractFile(img, "/absent", filepath.Join(t.TempDir(), "x")); !errors.Is(err, vuln.ErrNotInImage) {
			t.Fatalf("absent file: %v", err)
		}
		r, err := vuln.ScanImage(t.Context(), img, "/movies", vuln.Options{DB: fx.DB, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Err(); !errors.Is(err, vuln.ErrVulnerable) || !strings.Contains(err.Error(), idCalled) {
			t.Fatalf("Err() = %v", err)
		}
	})
	t.Run("C-DEPS-SCAN a cached source scan counts only while its inputs are unchanged", func(t *testing.T) {
		cache := t.TempDir()
		scan := func() (*vuln.Report, string) {
			t.Helper()
			var progress strings.Builder
			r, err := vuln.Scan(t.Context(), vuln.Options{DB: fx.DB, Mode: vuln.ModeSource, Dir: fx.Dir, Now: now, ResultCache: cache, Progress: &progress})
			if err != nil {
				t.Fatal(err)
			}
			return r, progress.String()
		}
		r, progress := scan()
		if strings.Contains(progress, "from the cache") || !slices.Equal(ids(r.Findings), []string{idCalled}) {
			t.Fatalf("first scan: %s %v", progress, ids(r.Findings))
		}
		r, progress = scan()
		if !strings.Contains(progress, "from the cache") || !slices.Equal(ids(r.Findings), []string{idCalled}) || len(r.Findings[0].CallSites) == 0 ||
			!slices.Equal(r.Cached, []string{"."}) {
			t.Fatalf("second scan: %s %+v", progress, r.Findings)
		}
		main := filepath.Join(fx.Dir, "main.go")
		orig, err := os.ReadFile(main)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.WriteFile(main, orig, 0o600) })
		if err := os.WriteFile(main, []byte(strings.Replace(string(orig), "vulnlib.Parse(os.Args[0])", "vulnlib.Other()+os.Args[0]", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		r, progress = scan()
		if strings.Contains(progress, "from the cache") || !slices.Equal(ids(r.Findings), []string{idImported}) {
			t.Fatalf("after a source change: %s %v", progress, ids(r.Findings))
		}
	})
	t.Run("the openvex format is an OpenVEX document this package reads back", func(t *testing.T) {
		r, err := scanFixture(t, fx, vuln.ModeSource, vexDoc(t, statement(idCalled, nil)))
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		if err := r.Write(&out, "openvex"); err != nil {
			t.Fatal(err)
		}
		doc, err := vuln.ParseVEX([]byte(out.String()))
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		status := map[string]string{}
		for _, st := range doc.Statements {
			status[st.Vulnerability.Name] = st.Status + "/" + st.Justification
		}
		if status[idCalled] != "not_affected/vulnerable_code_cannot_be_controlled_by_adversary" ||
			status[idImported] != "not_affected/vulnerable_code_not_in_execute_path" || len(status) != 3 {
			t.Fatalf("statements %v", status)
		}
	})
	t.Run("C-IMAGE-SCAN the report becomes a valid cosign vuln predicate", func(t *testing.T) {
		r, err := scanFixture(t, fx, vuln.ModeBinary, "")
		if err != nil {
			t.Fatal(err)
		}
		raw, err := r.Predicate()
		if err != nil {
			t.Fatal(err)
		}
		s, err := predicate.Summarize(predicate.TypeVuln, raw)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Vuln.Findings, []string{idCalled}) || s.Vuln.DBModified != "2099-01-02T03:04:05Z" || !strings.Contains(s.Vuln.Scanner, "golang.org/x/vuln") {
			t.Fatalf("summary %+v", s.Vuln)
		}
	})
}

// A scan cancelled at any point returns the context's error (or its result, when it had
// finished): govulncheck crashes the process when its call graph is cancelled, so the
// cancellation must never reach it.
func TestScanCancelledAtAnyPoint(t *testing.T) {
	fx := mustFixture(t)
	start := time.Now()
	if _, err := vuln.Scan(t.Context(), vuln.Options{DB: fx.DB, Mode: vuln.ModeSource, Dir: fx.Dir, Now: now}); err != nil {
		t.Fatal(err)
	}
	whole := time.Since(start)
	const steps = 6
	for i := range steps {
		ctx, cancel := context.WithTimeout(t.Context(), whole*time.Duration(i)/steps)
		_, err := vuln.Scan(ctx, vuln.Options{DB: fx.DB, Mode: vuln.ModeSource, Dir: fx.Dir, Now: now})
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cancelled after %v of %v: %v", whole*time.Duration(i)/steps, whole, err)
		}
	}
}
