package vuln_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/secure-movie-service/sms/pipeline/vuln"
)

// The fixture: a module example.com/fixture whose main calls example.com/vulnlib.Parse,
// imports example.com/vulnlib (whose Other it never calls) and requires the module that
// also holds example.com/vulnlib/unused (never imported). vulnlib v1.0.0 is served by a
// file:// module proxy made in the test, and the database holds three entries made in the
// test, one per level:
//
//	GO-2099-0001  vulnlib.Parse          called    → fails
//	GO-2099-0002  vulnlib.Other          imported  → informational
//	GO-2099-0003  vulnlib/unused.Boom    required  → informational
const (
	fixtureModule = "example.com/fixture"
	libModule     = "example.com/vulnlib"
	idCalled      = "GO-2099-0001"
	idImported    = "GO-2099-0002"
	idRequired    = "GO-2099-0003"
)

var libFiles = map[string]string{
	"go.mod": "module example.com/vulnlib\n\ngo 1.22\n",
	"lib.go": `package vulnlib

// Parse is the vulnerable function.
//
//go:noinline
func Parse(s string) string { return "parsed:" + s }

// Other is vulnerable too, but the fixture never calls it.
//
//go:noinline
func Other() string { return "other" }
`,
	"unused/unused.go": "package unused\n\n// Boom is never imported.\nfunc Boom() {}\n",
}

const fixtureMain = `package main

import (
	"fmt"
	"os"

	"example.com/vulnlib"
)

func main() {
	fmt.Println(vulnlib.Parse(os.Args[0]))
}
`

// fixture is the prepared module, its binary and a database that marks it vulnerable.
type fixture struct {
	Dir    string // the module (it is also the repository root: no go.work)
	Binary string
	DB     *vuln.DB
}

// mustFixture builds the fixture once per test; it points GOPROXY, GOMODCACHE and GOSUMDB
// at test-local places (t.Setenv), so nothing leaves the machine or the test's directories.
func mustFixture(t *testing.T) *fixture {
	t.Helper()
	base := t.TempDir()
	proxy := filepath.Join(base, "proxy")
	mustProxyModule(t, proxy, libModule, "v1.0.0", libFiles)
	t.Setenv("GOPROXY", "file://"+filepath.ToSlash(proxy))
	t.Setenv("GOMODCACHE", filepath.Join(base, "modcache"))
	t.Setenv("GOSUMDB", "off")
	t.Setenv("GOFLAGS", "-modcacherw")
	t.Setenv("GOWORK", "off")
	t.Setenv("GOTOOLCHAIN", "local")
	dir := filepath.Join(base, "fixture")
	mustWrite(t, filepath.Join(dir, "go.mod"), "module "+fixtureModule+"\n\ngo 1.22\n\nrequire "+libModule+" v1.0.0\n")
	mustWrite(t, filepath.Join(dir, "main.go"), fixtureMain)
	mustGo(t, dir, "mod", "tidy")
	bin := filepath.Join(base, "fixture-bin")
	mustGo(t, dir, "build", "-o", bin, ".")
	osv := filepath.Join(base, "osv")
	mustEntry(t, osv, idCalled, "vulnlib", "Parse", "2099-01-02T03:04:05Z")
	mustEntry(t, osv, idImported, "vulnlib", "Other", "2099-01-01T00:00:00Z")
	mustEntry(t, osv, idRequired, "vulnlib/unused", "Boom", "2098-06-01T00:00:00Z")
	db, err := vuln.BuildDB(vuln.Snapshot{Version: "v0.0.0-20990102030405-000000000000", OSVDir: osv}, filepath.Join(base, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{Dir: dir, Binary: bin, DB: db}
}

// mustEntry writes an OSV entry marking example.com/<pkg>.<symbol> vulnerable below 1.0.1.
func mustEntry(t *testing.T, dir, id, pkg, symbol, modified string) {
	t.Helper()
	e := map[string]any{
		"schema_version": "1.3.1", "id": id, "modified": modified, "published": modified,
		"aliases": []string{"CVE-" + strings.TrimPrefix(id, "GO-")},
		"summary": symbol + " is vulnerable in " + libModule,
		"details": "A test entry.",
		"affected": []any{map[string]any{
			"package": map[string]any{"name": libModule, "ecosystem": "Go"},
			"ranges":  []any{map[string]any{"type": "SEMVER", "events": []any{map[string]any{"introduced": "0"}, map[string]any{"fixed": "1.0.1"}}}},
			"ecosystem_specific": map[string]any{"imports": []any{map[string]any{
				"path": "example.com/" + pkg, "symbols": []string{symbol},
			}}},
		}},
		"database_specific": map[string]any{"url": "https://pkg.go.dev/vuln/" + id},
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, id+".json"), string(b))
}

// mustProxyModule lays out path@version in a file:// GOPROXY directory.
func mustProxyModule(t *testing.T, proxy, path, version string, files map[string]string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	for name, body := range files {
		mustWrite(t, filepath.Join(src, filepath.FromSlash(name)), body)
	}
	dir := filepath.Join(proxy, filepath.FromSlash(path), "@v")
	mustWrite(t, filepath.Join(dir, "list"), version+"\n")
	mustWrite(t, filepath.Join(dir, version+".info"), `{"Version":"`+version+`","Time":"2099-01-01T00:00:00Z"}`)
	mustWrite(t, filepath.Join(dir, version+".mod"), files["go.mod"])
	z, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if err := modzip.CreateFromDir(z, module.Version{Path: path, Version: version}, src); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, name, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustGo(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// vexDoc writes one OpenVEX document with the given statements into a new directory.
func vexDoc(t *testing.T, statements ...map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	doc := map[string]any{
		"@context": vuln.VEXContext, "@id": "https://example.com/vex/fixture", "author": "security@example.com",
		"timestamp": "2026-11-01T00:00:00Z", "version": 1, "statements": statements,
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, "fixture.json"), string(b))
	return dir
}

// statement is a valid not_affected statement for id on the fixture, changed by edits.
func statement(id string, edits map[string]any) map[string]any {
	s := map[string]any{
		"vulnerability":    map[string]any{"name": id},
		"products":         []any{map[string]any{"@id": "pkg:golang/" + fixtureModule}},
		"status":           "not_affected",
		"justification":    "vulnerable_code_cannot_be_controlled_by_adversary",
		"impact_statement": "Parse only ever sees the program's own name.",
		"expires":          "2099-12-31",
	}
	for k, v := range edits {
		if v == nil {
			delete(s, k)
		} else {
			s[k] = v
		}
	}
	return s
}

var now = time.Date(2099, 1, 10, 0, 0, 0, 0, time.UTC)

func scanFixture(t *testing.T, fx *fixture, mode, vexDir string) (*vuln.Report, error) {
	t.Helper()
	return vuln.Scan(context.Background(), vuln.Options{DB: fx.DB, Mode: mode, Dir: fx.Dir, Binary: fx.Binary, VEX: vexDir, Now: now})
}
