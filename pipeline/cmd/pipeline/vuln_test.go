package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/vuln"
)

// mustVulnWorld builds a stdlib-only binary that calls fmt.Println and a database in which
// fmt.Println is vulnerable in every Go release.
func mustVulnWorld(t *testing.T) (bin, dbURI string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(name), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "hello", "go.mod"), "module example.com/hello\n\ngo 1.22\n")
	write(filepath.Join(dir, "hello", "main.go"), "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n")
	bin = filepath.Join(dir, "hello-bin")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(dir, "hello")
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	entry, _ := json.Marshal(map[string]any{
		"schema_version": "1.3.1", "id": "GO-2099-0100", "modified": "2099-01-01T00:00:00Z", "summary": "Println is vulnerable",
		"affected": []any{map[string]any{
			"package":            map[string]any{"name": "stdlib", "ecosystem": "Go"},
			"ranges":             []any{map[string]any{"type": "SEMVER", "events": []any{map[string]any{"introduced": "0"}, map[string]any{"fixed": "99.0.0"}}}},
			"ecosystem_specific": map[string]any{"imports": []any{map[string]any{"path": "fmt", "symbols": []string{"Println"}}}},
		}},
	})
	write(filepath.Join(dir, "osv", "GO-2099-0100.json"), string(entry))
	db, err := vuln.BuildDB(vuln.Snapshot{Version: "v0.0.0-test", OSVDir: filepath.Join(dir, "osv")}, filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return bin, db.URI
}

func TestVulnCommand(t *testing.T) {
	bin, dbURI := mustVulnWorld(t)
	vex := t.TempDir()
	waiver := `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex","author":"t","timestamp":"2099-01-01T00:00:00Z","version":1,
"statements":[{"vulnerability":{"name":"GO-2099-0100"},"products":[{"@id":"pkg:golang/example.com/hello"}],"status":"not_affected",
"justification":"vulnerable_code_cannot_be_controlled_by_adversary","impact_statement":"prints a constant","expires":"2999-12-31"}]}`
	if err := os.WriteFile(filepath.Join(vex, "hello.json"), []byte(waiver), 0o600); err != nil {
		t.Fatal(err)
	}
	expired := t.TempDir()
	if err := os.WriteFile(filepath.Join(expired, "hello.json"), []byte(strings.Replace(waiver, "2999-12-31", "2000-01-01", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	sarifOut := filepath.Join(t.TempDir(), "out.sarif")
	predOut := filepath.Join(t.TempDir(), "vuln.json")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a vulnerable binary fails", []string{"--mode", "binary", "--binary", bin, "--vuln-db", dbURI, "--vex", ""}, ExitDeny, "GO-2099-0100"},
		{"waived by OpenVEX", []string{"--mode", "binary", "--binary", bin, "--vuln-db", dbURI, "--vex", vex}, ExitOK, "waived by"},
		{"an expired statement fails", []string{"--mode", "binary", "--binary", bin, "--vuln-db", dbURI, "--vex", expired}, ExitDeny, "expired on 2000-01-01"},
		{"sarif to a file", []string{"--mode", "binary", "--binary", bin, "--vuln-db", dbURI, "--vex", "", "--format", "sarif", "-o", sarifOut, "--predicate", predOut}, ExitDeny, "FAIL"},
		{"binary mode without a binary", []string{"--mode", "binary"}, ExitError, "--binary"},
		{"an unknown format", []string{"--format", "xml"}, ExitError, "format"},
		{"a database that does not exist", []string{"--mode", "binary", "--binary", bin, "--vuln-db", "file:///nonexistent"}, ExitError, "nonexistent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"vuln"}, tc.args...), func(string) string { return "" }, &stdout, &stderr)
			if got := exitCode(err); got != tc.code {
				t.Fatalf("exit %d (%v), want %d\n%s%s", got, err, tc.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String()+stderr.String(), tc.want) {
				t.Fatalf("output does not mention %q:\n%s%s", tc.want, stdout.String(), stderr.String())
			}
		})
	}
	raw, err := os.ReadFile(sarifOut)
	if err != nil || !strings.Contains(string(raw), `"ruleId": "GO-2099-0100"`) {
		t.Fatalf("sarif: %v %s", err, raw)
	}
	raw, err = os.ReadFile(predOut)
	if err != nil {
		t.Fatal(err)
	}
	s, err := predicate.Summarize(predicate.TypeVuln, raw)
	if err != nil || len(s.Vuln.Findings) != 1 || s.Vuln.Findings[0] != "GO-2099-0100" {
		t.Fatalf("predicate: %v %+v", err, s)
	}
}
