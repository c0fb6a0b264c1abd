// Package testkit builds the real parts that pipeline tests need, offline: an OCI registry
// (go-containerregistry's registry.New under httptest) whose blobs can be tampered with,
// cosign key pairs generated in the test, small images, and well-formed predicates.
package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/secure-movie-service/sms/pipeline/build"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/vuln"
)

// Password encrypts every key a test makes.
const Password = "testkit-password"

// Registry is an in-process registry; Host is 127.0.0.1:PORT.
type Registry struct {
	Host     string
	blobs    *TamperBlobs
	requests atomic.Int64
}

// MustRegistry starts a registry for the test.
func MustRegistry(tb testing.TB) *Registry {
	tb.Helper()
	blobs := &TamperBlobs{m: map[string][]byte{}, bad: map[string]bool{}}
	r := &Registry{blobs: blobs}
	h := registry.New(registry.WithBlobHandler(blobs), registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		h.ServeHTTP(w, req)
	}))
	tb.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// Requests counts the HTTP requests the registry has served.
func (r *Registry) Requests() int64 { return r.requests.Load() }

// Tamper makes the registry serve different bytes (same length) for the blob h.
func (r *Registry) Tamper(h v1.Hash) { r.blobs.tamper(h) }

// TamperBlobs is an in-memory blob store that can serve corrupted content.
type TamperBlobs struct {
	mu  sync.Mutex
	m   map[string][]byte
	bad map[string]bool
}

func (b *TamperBlobs) tamper(h v1.Hash) { b.mu.Lock(); b.bad[h.String()] = true; b.mu.Unlock() }

// Get implements registry.BlobHandler.
func (b *TamperBlobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.m[h.String()]
	if !ok {
		return nil, registry.ErrNotFound
	}
	if b.bad[h.String()] {
		data = bytes.Clone(data)
		data[len(data)/2] ^= 0xff
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Stat implements registry.BlobStatHandler.
func (b *TamperBlobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.m[h.String()]
	if !ok {
		return 0, registry.ErrNotFound
	}
	return int64(len(data)), nil
}

// Put implements registry.BlobPutHandler.
func (b *TamperBlobs) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.m[h.String()] = data
	b.mu.Unlock()
	return nil
}

// Key is a generated cosign key pair.
type Key struct {
	Dir      string
	Signer   *keys.Signer
	Verifier *keys.Verifier
}

// MustKey generates an encrypted cosign key pair in a temporary directory.
func MustKey(tb testing.TB) *Key {
	tb.Helper()
	k, err := NewKey(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// NewKey generates an encrypted cosign key pair (password Password) in dir.
func NewKey(dir string) (*Key, error) {
	if _, err := keys.Generate(dir, []byte(Password)); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	s, err := keys.LoadSigner(filepath.Join(dir, keys.PrivateKeyFile), []byte(Password))
	if err != nil {
		return nil, err
	}
	v, err := keys.LoadVerifier(filepath.Join(dir, keys.PublicKeyFile))
	if err != nil {
		return nil, err
	}
	if v.ID != s.ID {
		return nil, fmt.Errorf("key ids differ: %s %s", v.ID, s.ID)
	}
	return &Key{Dir: dir, Signer: s, Verifier: v}, nil
}

// PrivatePath and PublicPath are the key files.
func (k *Key) PrivatePath() string { return filepath.Join(k.Dir, keys.PrivateKeyFile) }

// PublicPath is the public key file.
func (k *Key) PublicPath() string { return filepath.Join(k.Dir, keys.PublicKeyFile) }

// MustImage makes a small random image that runs as user.
func MustImage(tb testing.TB, user string) v1.Image {
	tb.Helper()
	img, err := NewImage(user)
	if err != nil {
		tb.Fatal(err)
	}
	return img
}

// NewImage makes a small random linux/amd64 image whose entrypoint is /movies, run as user.
func NewImage(user string) (v1.Image, error) {
	img, err := random.Image(512, 2)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config.User = user
	cf.Config.Entrypoint = []string{"/movies"}
	cf.OS, cf.Architecture = "linux", "amd64"
	return mutate.ConfigFile(img, cf)
}

// MustPush pushes img to repo:tag and returns repo@digest.
func MustPush(tb testing.TB, repo string, img v1.Image) name.Digest {
	tb.Helper()
	ref, err := name.ParseReference(repo + ":latest")
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		tb.Fatal(err)
	}
	h, err := img.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	d, err := name.NewDigest(repo + "@" + h.String())
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// Revision is the commit every fixture predicate names.
const Revision = "0123456789abcdef0123456789abcdef01234567"

// BuilderID is the builder fixture provenance names (and TrustOverlay trusts).
const BuilderID = "https://example.invalid/testkit"

// SourceRepository is the repository fixture provenance names.
const SourceRepository = "https://github.com/secure-movie-service/sms"

// SPDX is a minimal well-formed SPDX 2.3 document.
func SPDX() []byte {
	return []byte(`{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"movies",
"documentNamespace":"https://example.invalid/movies","creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: testkit"]},
"packages":[{"SPDXID":"SPDXRef-Package-stdlib","name":"stdlib","externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:golang/stdlib@1.26.8"}]}]}`)
}

// CycloneDX is a minimal well-formed CycloneDX document.
func CycloneDX() []byte {
	return []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","metadata":{"component":{"name":"movies"}},"components":[]}`)
}

// Provenance is well-formed SLSA v1 provenance for repository and revision.
func Provenance(repository, revision string) []byte {
	p := predicate.Provenance{
		BuildDefinition: predicate.BuildDefinition{
			BuildType: predicate.BuildType,
			ExternalParameters: predicate.ExternalParameters{
				Source:  predicate.Source{Repository: repository, Revision: revision},
				Package: "service/cmd/movies", Command: []string{"go", "build"}, Platform: "linux/amd64",
			},
			InternalParameters: map[string]any{"source_date_epoch": 1700000000},
		},
		RunDetails: predicate.RunDetails{Builder: predicate.Builder{ID: BuilderID}},
	}
	b, _ := json.Marshal(p)
	return b
}

// ControlIDs are the controls every fixture control-results predicate covers (and
// TrustOverlay requires).
var ControlIDs = []string{"C-SUPPLY-01", "C-SUPPLY-02"}

// Controls is a control-results predicate for revision; failed names controls that failed.
func Controls(revision string, failed ...string) []byte {
	clean := false
	c := predicate.Controls{
		Revision: revision, ModelDigest: "sha256:" + strings.Repeat("ab", 32), Dirty: &clean, Passed: len(failed) == 0,
		Controls: map[string]predicate.ControlResult{},
	}
	for _, id := range ControlIDs {
		c.Controls[id] = predicate.ControlResult{Status: "pass", Evidence: []predicate.Evidence{{ID: "go:example.TestX", Status: "pass"}}}
	}
	for _, id := range failed {
		c.Controls[id] = predicate.ControlResult{Status: "fail", Reason: "test failed", Evidence: []predicate.Evidence{{ID: "go:example.TestY", Status: "fail"}}}
	}
	b, _ := json.Marshal(c)
	return b
}

// ManualControlIDs are the fixture's manual controls: ControlsMissing leaves them unattested.
var ManualControlIDs = []string{"C-REVIEW-01", "C-REVIEW-02"}

// ControlsMissing is a control-results predicate for revision in which every tested control
// passed and the manual controls lack their reviewer attestations (FixtureData requires them).
func ControlsMissing(revision string) []byte {
	var c predicate.Controls
	if err := json.Unmarshal(Controls(revision), &c); err != nil {
		panic(err)
	}
	c.Passed, c.AttestationsMissing = false, ManualControlIDs
	for _, id := range ManualControlIDs {
		c.Controls[id] = predicate.ControlResult{Status: predicate.StatusMissing, Kind: predicate.ControlKindManual,
			Reason: "no signed attestation", Evidence: []predicate.Evidence{{ID: "attestation:none", Status: predicate.StatusMissing}}}
	}
	b, _ := json.Marshal(c)
	return b
}

// VulnDBDate is the database date of Vuln predicates: admission at VulnNow finds it fresh.
var (
	VulnDBDate = time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC)
	VulnNow    = VulnDBDate.Add(7 * 24 * time.Hour)
)

// Vuln is a cosign vulnerability predicate over a database of dbDate; called names the
// vulnerabilities the binary calls.
func Vuln(dbDate time.Time, called ...string) []byte {
	fs := []predicate.VulnFinding{}
	for _, id := range called {
		fs = append(fs, predicate.VulnFinding{ID: id, Module: "stdlib", Version: "v1.26.0", Level: predicate.LevelCalled, Symbols: []string{"fmt.Println"}})
	}
	started := dbDate.Add(time.Hour)
	b, err := predicate.MarshalVuln(&predicate.Vuln{
		Scanner: predicate.VulnScanner{URI: "pkg:golang/golang.org/x/vuln@v1.9.0", Version: "v1.9.0",
			DB:     predicate.VulnDB{URI: "file:///testkit/vulndb", Version: dbDate.Format(time.RFC3339)},
			Result: predicate.VulnResult{Mode: "binary", Targets: []string{"/movies"}, Findings: fs, Informational: []predicate.VulnFinding{}, Waived: []predicate.VulnFinding{}}},
		Metadata: predicate.VulnMetadata{ScanStartedOn: started, ScanFinishedOn: started.Add(time.Second)},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// TrustOverlay is a policy data overlay trusting the keys and the registry prefixes.
func TrustOverlay(prefixes []string, ks ...*Key) []byte {
	tk := map[string]any{}
	for _, k := range ks {
		tk[k.Signer.ID] = map[string]string{"name": "test key"}
	}
	b, _ := json.Marshal(map[string]any{"supply_chain": map[string]any{
		"trusted_keys": tk, "registries": prefixes, "source_repository": SourceRepository,
		"builder_ids": []string{BuilderID},
		"controls":    map[string]any{"required": ControlIDs},
		"rollback":    map[string]any{"min_source_date": FixtureOldest},
	}})
	return b
}

// MustRepo makes a git repository holding a tiny stdlib-only main module (app/cmd/x)
// committed at Unix time 1700000000, with SourceRepository as its remote origin, standing in for service/ so that tests of build, sbom
// and release do not depend on the runtime's code. Build it with BuildOptions.
func MustRepo(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	files := map[string]string{
		"app/go.mod":        "module example.com/app\n\ngo 1.24\n",
		"app/cmd/x/main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	}
	for p, c := range files {
		p = filepath.Join(dir, p)
		Must(tb, os.MkdirAll(filepath.Dir(p), 0o750))
		Must(tb, os.WriteFile(p, []byte(c), 0o600))
	}
	for _, args := range [][]string{
		{"init", "-q"}, {"remote", "add", "origin", SourceRepository + ".git"}, {"add", "."},
		{"-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "fixture", "--date", "@1700000000"},
	} {
		cmd := exec.Command("git", args...) // #nosec G204 -- fixed git arguments in a test fixture
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=@1700000000")
		if b, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("git %v: %v\n%s", args, err, b)
		}
	}
	return dir
}

// BuildOptions builds the MustRepo fixture at repo (SOURCE_DATE_EPOCH from the commit).
func BuildOptions(repo string) build.Options {
	return build.Options{
		SourceDir: repo, ModuleDir: "app", Package: "./cmd/x",
		Getenv: func(k string) string {
			if k == "SOURCE_DATE_EPOCH" {
				return ""
			}
			return os.Getenv(k)
		},
	}
}

// Must fails the test on err.
func Must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(fmt.Errorf("unexpected: %w", err))
	}
}

// StdlibVuln is the id of the entry MustVulnDB makes when asked to mark fmt.Println, which
// every MustRepo binary calls, vulnerable.
const StdlibVuln = "GO-2099-0042"

// MustVulnDB builds a vulnerability database dated a day ago: one entry for a module no
// fixture uses, and, when callsPrintln, one marking the standard library's fmt.Println
// vulnerable in every Go release.
func MustVulnDB(tb testing.TB, callsPrintln bool) *vuln.DB {
	tb.Helper()
	dir := tb.TempDir()
	modified := time.Now().UTC().Add(-24 * time.Hour).Format(time.RFC3339)
	entry := func(id, module, pkg, symbol string) {
		e := map[string]any{
			"schema_version": "1.3.1", "id": id, "modified": modified, "published": modified,
			"summary": symbol + " is vulnerable (a test entry)",
			"affected": []any{map[string]any{
				"package":            map[string]any{"name": module, "ecosystem": "Go"},
				"ranges":             []any{map[string]any{"type": "SEMVER", "events": []any{map[string]any{"introduced": "0"}, map[string]any{"fixed": "99.0.0"}}}},
				"ecosystem_specific": map[string]any{"imports": []any{map[string]any{"path": pkg, "symbols": []string{symbol}}}},
			}},
		}
		b, err := json.Marshal(e)
		Must(tb, err)
		Must(tb, os.MkdirAll(filepath.Join(dir, "osv"), 0o750))
		Must(tb, os.WriteFile(filepath.Join(dir, "osv", id+".json"), b, 0o600))
	}
	entry("GO-2099-0001", "example.com/unused", "example.com/unused", "Boom")
	if callsPrintln {
		entry(StdlibVuln, "stdlib", "fmt", "Println")
	}
	db, err := vuln.BuildDB(vuln.Snapshot{Version: "v0.0.0-20990101000000-000000000000", OSVDir: filepath.Join(dir, "osv")}, filepath.Join(dir, "cache"))
	Must(tb, err)
	return db
}

// FixtureOldest is the oldest release FixtureData admits: MustRepo commits at 1700000000.
const FixtureOldest = "2023-11-01T00:00:00Z"

// FixtureData is policy data for fixture releases: it requires exactly the fixture's
// ControlIDs and admits releases from FixtureOldest on.
func FixtureData() []byte {
	b, _ := json.Marshal(map[string]any{"supply_chain": map[string]any{
		"controls": map[string]any{"required": ControlIDs},
		"rollback": map[string]any{"min_source_date": FixtureOldest},
	}})
	return b
}

// Reviewer is one entry of a test's reviewers document.
type Reviewer struct {
	Key   *Key
	Name  string
	Roles []string
}

// MustReviewers returns a reviewers document (the shape of policy/data/reviewers.json) that
// lists each reviewer's public key under its key id.
func MustReviewers(tb testing.TB, rs ...Reviewer) []byte {
	tb.Helper()
	type entry struct {
		Name      string   `json:"name"`
		PublicKey string   `json:"public_key"`
		Roles     []string `json:"roles"`
	}
	doc := map[string]map[string]entry{"reviewers": {}}
	for _, r := range rs {
		pem, err := os.ReadFile(filepath.Join(r.Key.Dir, keys.PublicKeyFile))
		if err != nil {
			tb.Fatal(err)
		}
		doc["reviewers"][r.Key.Signer.ID] = entry{Name: r.Name, PublicKey: string(pem), Roles: r.Roles}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
