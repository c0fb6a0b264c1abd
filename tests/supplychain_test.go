package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The supply-chain end-to-end tests run the real pipeline binary and the stock cosign CLI
// (pinned in go.mod) against a real registry process: Debian's docker-registry on loopback.

const scPassword = "supplychain-e2e-password"

// scRegistry starts docker-registry on 127.0.0.1 at a free port and returns HOST:PORT.
func scRegistry(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry is not installed (apt-get install -y docker-registry); .ci/run installs it")
	}
	dir := t.TempDir()
	for attempt := 0; attempt < 5; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		p := startProc(t, dir, bin, "serve", cfgPath)
		for i := 0; i < 100; i++ {
			select {
			case <-p.waited:
				i = 100 // exited (port taken?): next attempt
				continue
			default:
			}
			resp, err := http.Get("http://" + addr + "/v2/")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return addr
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		p.kill()
	}
	t.Fatal("docker-registry did not start")
	return ""
}

// scRun runs a binary with a small, explicit environment and returns stdout, stderr and the
// exit code.
func scRun(t *testing.T, dir, bin string, args ...string) (string, string, int) {
	t.Helper()
	return scRunEnv(t, nil, dir, bin, args...)
}

// scRunEnv is scRun with extra environment variables.
func scRunEnv(t *testing.T, env []string, dir, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	home := filepath.Join(os.TempDir(), "sms-supplychain-home")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TUF_ROOT=" + filepath.Join(home, "tuf"),
		"COSIGN_PASSWORD=" + scPassword, "GOCACHE=" + goEnv(t, "GOCACHE"), "GOMODCACHE=" + goEnv(t, "GOMODCACHE"),
		"GOPROXY=" + goEnv(t, "GOPROXY"), "GOFLAGS=-buildvcs=false",
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %v: timed out", bin, args)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

var goEnvCache = map[string]string{}

func goEnv(t *testing.T, k string) string {
	t.Helper()
	if v, ok := goEnvCache[k]; ok {
		return v
	}
	b, err := exec.Command("go", "env", k).Output()
	if err != nil {
		t.Fatal(err)
	}
	goEnvCache[k] = strings.TrimSpace(string(b))
	return goEnvCache[k]
}

// scWorld is a registry, the pipeline and cosign binaries, and a release key.
type scWorld struct {
	root, reg, pipeline, dir string
	key, pub                 string
	rev                      string
	source                   string // the repository the checkout's provenance names
}

func newSCWorld(t *testing.T) *scWorld {
	t.Helper()
	w := &scWorld{root: repoRoot(t), reg: scRegistry(t), pipeline: binary(t, "./pipeline/cmd/pipeline"), dir: t.TempDir()}
	if _, stderr, code := scRun(t, w.root, w.pipeline, "keygen", "--out", filepath.Join(w.dir, "keys")); code != 0 {
		t.Fatalf("keygen: %d %s", code, stderr)
	}
	w.key, w.pub = filepath.Join(w.dir, "keys", "cosign.key"), filepath.Join(w.dir, "keys", "cosign.pub")
	out, err := exec.Command("git", "-C", w.root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	w.rev = strings.TrimSpace(string(out))
	w.source = checkoutSource(t, w.root)
	return w
}

// checkoutSource is the repository a release of this checkout names in its provenance: git's
// remote origin (an https URL on CI, a path in a clone of a local repository), or the
// checkout itself without one. pipeline/build tests every other form of remote.
func checkoutSource(t *testing.T, root string) string {
	t.Helper()
	out, _ := exec.Command("git", "-C", root, "config", "--get", "remote.origin.url").Output()
	remote := strings.TrimSpace(string(out))
	switch {
	case remote == "":
		return "file://" + root
	case strings.HasPrefix(remote, "/"):
		return "file://" + filepath.Clean(remote)
	case strings.HasPrefix(remote, "https://"):
		return strings.TrimSuffix(strings.TrimSuffix(remote, "/"), ".git")
	}
	t.Skipf("a checkout whose origin is %q: the e2e test expects a path or an https URL", remote)
	return ""
}

// controls writes a passing control-results predicate for the revision.
func (w *scWorld) controls(t *testing.T, rev string) string {
	t.Helper()
	p := filepath.Join(w.dir, "controls-"+rev[:8]+".json")
	c := map[string]any{
		"revision": rev, "model_digest": "sha256:" + strings.Repeat("0", 64), "dirty": false, "passed": true,
		"controls": map[string]any{"C-SUPPLY-01": map[string]any{"status": "pass", "evidence": []any{map[string]string{"id": "go:e2e.TestSupplyChain", "status": "pass"}}}},
	}
	b, _ := json.Marshal(c)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// trust writes a policy data overlay that trusts the world's key and registry.
func (w *scWorld) trust(t *testing.T) string {
	t.Helper()
	return w.overlay(t, "trust.json", map[string]any{"trusted_keys": map[string]any{w.keyID(t, w.pub): map[string]string{"name": "e2e"}}})
}

// overlay writes, as name, policy data for the world's registry, source, controls and
// builder, with trust (trusted_keys, trust) from trust. The release scans with the database
// go.mod pins, which ages by the calendar: the overlay accepts it however old it is, so these
// tests do not start failing on the 31st day. Freshness (VULN_DB_STALE) is judged by tests
// with dates of their own (pipeline/admit, policy/admission).
func (w *scWorld) overlay(t *testing.T, name string, trust map[string]any) string {
	t.Helper()
	sc := map[string]any{
		"registries":        []string{w.reg + "/"},
		"source_repository": w.source,
		"controls":          map[string]any{"required": []string{"C-SUPPLY-01"}},
		"builder_ids":       []string{"https://github.com/secure-movie-service/sms/pipeline@local"},
		"vulnerability":     map[string]any{"max_db_age_days": 100 * 365},
	}
	maps.Copy(sc, trust)
	p := filepath.Join(w.dir, name)
	b, _ := json.Marshal(map[string]any{"supply_chain": sc})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *scWorld) keyID(t *testing.T, pub string) string { return pubKeyID(t, pub) }

// pubKeyID is the key id policy data uses: "sha256:" + hex SHA-256 of the DER public key.
func pubKeyID(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	sum := sha256.Sum256(blk.Bytes)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// release runs pipeline release against the registry and returns the image and summary.
func (w *scWorld) release(t *testing.T, repo string, extra ...string) (string, map[string]any, int, string) {
	t.Helper()
	sum := filepath.Join(w.dir, repo+"-summary.json")
	args := append([]string{"release", "--registry", w.reg + "/" + repo, "--rev", w.rev, "--key", w.key,
		"--data", w.trust(t), "--out", filepath.Join(w.dir, repo+"-out"), "--format", "json", "-o", sum}, extra...)
	_, stderr, code := scRun(t, w.root, w.pipeline, args...)
	b, err := os.ReadFile(sum)
	if err != nil {
		t.Fatalf("release wrote no summary (exit %d): %s", code, stderr)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	img, _ := s["image"].(string)
	return img, s, code, stderr
}

func (w *scWorld) admit(t *testing.T, args ...string) (map[string]any, int) {
	t.Helper()
	out, stderr, code := scRun(t, w.root, w.pipeline, append([]string{"admit", "--format", "json", "--key", w.pub, "--data", w.trust(t)}, args...)...)
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("admit output (exit %d): %v\n%s\n%s", code, err, out, stderr)
	}
	return v, code
}

func denyCodes(v map[string]any) []string {
	var c []string
	list, _ := v["deny"].([]any)
	for _, d := range list {
		m, _ := d.(map[string]any)
		c = append(c, fmt.Sprint(m["code"]))
	}
	return c
}

func hasCode(v map[string]any, code string) bool {
	for _, c := range denyCodes(v) {
		if c == code {
			return true
		}
	}
	return false
}

func TestSupplyChainReleaseEndToEnd(t *testing.T) {
	w := newSCWorld(t)
	manifest := filepath.Join(w.root, "deploy", "kubernetes", "deployment.yaml")
	img, s, code, stderr := w.release(t, "movies", "--controls", w.controls(t, w.rev), "--manifest", manifest)
	if code != 0 || s["allowed"] != true {
		t.Fatalf("release exit %d allowed=%v\n%s", code, s["allowed"], stderr)
	}
	for _, step := range []string{"registry", "key", "build+push", "sbom", "sign", "attest", "verify", "admit"} {
		if !strings.Contains(stderr, "release: "+step) {
			t.Errorf("no progress line for %s:\n%s", step, stderr)
		}
	}

	t.Run("the OPA sidecar of the manifest is released like the service", func(t *testing.T) {
		sc, _ := s["sidecars"].([]any)
		if len(sc) != 1 {
			t.Fatalf("sidecars %v", s["sidecars"])
		}
		opa, _ := sc[0].(map[string]any)["image"].(string)
		if !strings.HasPrefix(opa, w.reg+"/movies-opa@sha256:") {
			t.Fatalf("OPA image %q", opa)
		}
		v, code := w.admit(t, "--image", opa)
		if code != 0 || v["allow"] != true {
			t.Fatalf("admit the OPA image: exit %d verdict %v", code, v)
		}
		if _, stderr, code := scRun(t, w.root, toolBinary(t, "cosign"), "verify-attestation", "--key", w.pub, "--insecure-ignore-tlog=true", "--type", "vuln", opa); code != 0 {
			t.Fatalf("cosign verify-attestation --type vuln exit %d: %s", code, stderr)
		}
	})

	t.Run("verify prints the verified facts", func(t *testing.T) {
		out, stderr, code := scRun(t, w.root, w.pipeline, "verify", "--key", w.pub, img)
		if code != 0 {
			t.Fatalf("verify exit %d: %s", code, stderr)
		}
		var f struct {
			Digest         string `json:"digest"`
			Config         struct{ User string }
			Signers        []string `json:"signers"`
			PredicateTypes []string `json:"predicate_types"`
			Content        bool     `json:"content_verified"`
		}
		if err := json.Unmarshal([]byte(out), &f); err != nil {
			t.Fatal(err)
		}
		if f.Config.User != "65532:65532" || len(f.Signers) != 1 || len(f.PredicateTypes) != 5 || !f.Content || !strings.HasSuffix(img, f.Digest) {
			t.Fatalf("facts: %+v", f)
		}
	})

	t.Run("admit allows the released image", func(t *testing.T) {
		v, code := w.admit(t, "--image", img)
		if code != 0 || v["allow"] != true {
			t.Fatalf("exit %d verdict %v", code, v)
		}
	})

	t.Run("stock cosign verifies what pipeline signed", func(t *testing.T) {
		cosign := toolBinary(t, "cosign")
		if _, stderr, code := scRun(t, w.root, cosign, "verify", "--key", w.pub, "--insecure-ignore-tlog=true", img); code != 0 {
			t.Fatalf("cosign verify exit %d: %s", code, stderr)
		}
		for _, typ := range []string{"slsaprovenance1", "spdxjson", "cyclonedx", "vuln", "https://github.com/secure-movie-service/sms/attestation/controls/v1"} {
			if _, stderr, code := scRun(t, w.root, cosign, "verify-attestation", "--key", w.pub, "--insecure-ignore-tlog=true", "--type", typ, img); code != 0 {
				t.Fatalf("cosign verify-attestation --type %s exit %d: %s", typ, code, stderr)
			}
		}
	})

	t.Run("attack: tag instead of digest", func(t *testing.T) {
		v, code := w.admit(t, "--image", w.reg+"/movies:latest")
		if code != 1 || !hasCode(v, "IMAGE_NOT_DIGEST") {
			t.Fatalf("exit %d codes %v", code, denyCodes(v))
		}
	})

	t.Run("attack: the same image under a lookalike registry path is still the registry's", func(t *testing.T) {
		// The allowlist prefix is HOST:PORT/; a reference to another host is not under it.
		v, code := w.admit(t, "--image", strings.Replace(img, w.reg, "127.0.0.2:1", 1))
		if code != 1 || !hasCode(v, "REGISTRY_NOT_ALLOWED") {
			t.Fatalf("exit %d codes %v", code, denyCodes(v))
		}
	})
}

func TestSupplyChainUnsignedAndForeignImagesDenied(t *testing.T) {
	w := newSCWorld(t)
	out, stderr, code := scRun(t, w.root, w.pipeline, "build", "--rev", w.rev, "--push", w.reg+"/unsigned:v1")
	if code != 0 {
		t.Fatalf("build exit %d: %s", code, stderr)
	}
	img := strings.TrimSpace(out)

	t.Run("attack: unsigned image", func(t *testing.T) {
		v, code := w.admit(t, "--image", img)
		if code != 1 || !hasCode(v, "SIGNATURE_MISSING") || !hasCode(v, "SBOM_MISSING") || !hasCode(v, "PROVENANCE_MISSING") {
			t.Fatalf("exit %d codes %v", code, denyCodes(v))
		}
		if _, _, code := scRun(t, w.root, w.pipeline, "verify", "--key", w.pub, img); code != 1 {
			t.Fatalf("verify of an unsigned image exit %d, want 1", code)
		}
	})

	t.Run("attack: signed by another key (the stock cosign CLI)", func(t *testing.T) {
		cosign := toolBinary(t, "cosign")
		dir := t.TempDir()
		if _, stderr, code := scRun(t, dir, cosign, "generate-key-pair"); code != 0 {
			t.Fatalf("cosign generate-key-pair: %s", stderr)
		}
		if _, stderr, code := scRun(t, dir, cosign, "sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", img); code != 0 {
			t.Fatalf("cosign sign: %s", stderr)
		}
		// pipeline verify accepts the stock CLI's signature under the stock CLI's key…
		out, stderr, code := scRun(t, w.root, w.pipeline, "verify", "--key", filepath.Join(dir, "cosign.pub"), img)
		if !strings.Contains(out, `"signers": [`) || code == 2 {
			t.Fatalf("pipeline verify of a cosign CLI signature: exit %d %s %s", code, out, stderr)
		}
		var f struct{ Signatures []struct{ Digest string } }
		if err := json.Unmarshal([]byte(out), &f); err != nil || len(f.Signatures) != 1 || !strings.HasSuffix(img, f.Signatures[0].Digest) {
			t.Fatalf("the cosign CLI signature did not verify: %s", out)
		}
		// …but admission trusts only the release key.
		v, code := w.admit(t, "--image", img, "--key", filepath.Join(dir, "cosign.pub"))
		if code != 1 || !hasCode(v, "SIGNATURE_MISSING") {
			t.Fatalf("exit %d codes %v", code, denyCodes(v))
		}
	})
}

func TestSupplyChainReproducibleBuild(t *testing.T) {
	root := repoRoot(t)
	pipeline := binary(t, "./pipeline/cmd/pipeline")
	rev, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	// Two real builds (no build cache: both run go build), then two through an empty build
	// cache: the first fills it, the second reuses the binary. All four give one digest.
	builds := []struct {
		cacheDir   string
		wantCached bool
	}{{"", false}, {"", false}, {cache, false}, {cache, true}}
	var digests []string
	for i, b := range builds {
		dir := t.TempDir()
		out, stderr, code := scRun(t, root, pipeline, "build", "--rev", strings.TrimSpace(string(rev)), "--oci-layout", dir,
			"--cache-dir", b.cacheDir, "--format", "json")
		if code != 0 {
			t.Fatalf("build %d exit %d: %s", i, code, stderr)
		}
		var r struct {
			Digest, Revision string
			Cached           bool
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.Cached != b.wantCached {
			t.Fatalf("build %d: cached %v, want %v", i, r.Cached, b.wantCached)
		}
		digests = append(digests, r.Digest)
	}
	for _, d := range digests {
		if d != digests[0] || !strings.HasPrefix(d, "sha256:") {
			t.Fatalf("builds of one commit differ: %v", digests)
		}
	}
	t.Logf("digest of %.12s: %s", rev, digests[0])
}
