// Package cluster tests admission against a real Kubernetes API server: etcd and
// kube-apiserver (built from k8s.io/kubernetes at KubeVersion) on loopback ports, the
// webhook being the real `pipeline admit serve` binary, and every manifest in deploy/
// applied to it. TestPodSecurityReference needs no API server: it compares policy/admission
// with k8s.io/pod-security-admission, the library the API server enforces Pod Security with.
// Run them with `make test-cluster`.
package cluster

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// fixtures is what pipeline/internal/clusterfixture publishes.
type fixtures struct {
	Registry string            `json:"registry"`
	Images   map[string]string `json:"images"`
	Key      string            `json:"key"`
	Trust    string            `json:"trust"`
}

// startFixtures runs clusterfixture (its registry lives as long as the test) and reads what
// it published.
func startFixtures(t *testing.T) *fixtures {
	t.Helper()
	bin := goBuild(t, "./pipeline/internal/clusterfixture")
	dir := t.TempDir()
	log := filepath.Join(dir, "fixture.log")
	f, err := os.Create(log)
	must(t, err)
	cmd := exec.Command(bin, dir)
	cmd.Stdout, cmd.Stderr, cmd.Env = f, f, cleanEnv()
	stdin, err := cmd.StdinPipe()
	must(t, err)
	p := &proc{name: "clusterfixture", cmd: cmd, log: log, done: make(chan error, 1)}
	p.run(t, f)
	t.Cleanup(func() { stdin.Close() })
	var fx fixtures
	waitFor(t, p, "fixtures", 2*time.Minute, func(context.Context) error {
		b, err := os.ReadFile(filepath.Join(dir, "fixtures.json"))
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &fx)
	})
	return &fx
}

// startWebhook runs `pipeline admit serve` on a loopback port with a certificate from authority.
func startWebhook(t *testing.T, pipeline string, fx *fixtures, authority *ca, port int) *proc {
	t.Helper()
	cert, key := authority.serving(t, t.TempDir(), "webhook")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := start(t, "webhook", pipeline, "admit", "serve", "--addr="+addr, "--tls-cert="+cert, "--tls-key="+key,
		"--key="+fx.Key, "--data="+fx.Trust, "--timeout=8s")
	pool := clientFor(authority)
	waitFor(t, p, "webhook /readyz", time.Minute, func(ctx context.Context) error {
		return httpOK(ctx, pool, "https://"+addr+"/readyz", "")
	})
	return p
}

// manifests reads every YAML document in deploy/ (sorted by file), with the placeholders
// substituted; no placeholder may remain.
func manifests(t *testing.T, subst map[string]string) []map[string]any {
	t.Helper()
	var files []string
	for _, dir := range []string{"deploy/kubernetes", "deploy/webhook"} {
		fs, err := filepath.Glob(filepath.Join(root(t), dir, "*.yaml"))
		must(t, err)
		files = append(files, fs...)
	}
	sort.Strings(files)
	sep := regexp.MustCompile(`(?m)^---\s*$`)
	var out []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		must(t, err)
		s := string(b)
		for k, v := range subst {
			s = strings.ReplaceAll(s, "${"+k+"}", v)
		}
		if strings.Contains(s, "${") {
			t.Fatalf("%s: a placeholder the test does not substitute", f)
		}
		for _, doc := range sep.Split(s, -1) {
			var obj map[string]any
			must(t, yaml.Unmarshal([]byte(doc), &obj))
			if obj != nil {
				out = append(out, obj)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no manifests in deploy/")
	}
	return out
}

func kindOf(obj map[string]any) string { s, _ := obj["kind"].(string); return s }

// order puts namespaces first and the webhook registration second, so that every workload
// in deploy/ is reviewed by the webhook.
func order(objs []map[string]any) {
	rank := func(o map[string]any) int {
		switch kindOf(o) {
		case "Namespace":
			return 0
		case "ValidatingWebhookConfiguration":
			return 1
		}
		return 2
	}
	sort.SliceStable(objs, func(i, j int) bool { return rank(objs[i]) < rank(objs[j]) })
}

// pointAt replaces the webhook's service reference with the loopback URL of the test's webhook
// (the API server here has no cluster network to reach a Service through) — the only change
// the test makes to the registration.
func pointAt(t *testing.T, obj map[string]any, url string, caPEM []byte) {
	t.Helper()
	hooks, _ := obj["webhooks"].([]any)
	if len(hooks) == 0 {
		t.Fatal("ValidatingWebhookConfiguration without webhooks")
	}
	for _, h := range hooks {
		hm := h.(map[string]any)
		cc := hm["clientConfig"].(map[string]any)
		if _, ok := cc["service"]; !ok {
			t.Fatal("the webhook in deploy/ is not reached through its Service")
		}
		hm["clientConfig"] = map[string]any{"url": url, "caBundle": base64.StdEncoding.EncodeToString(caPEM)}
	}
}

// clientFor is an HTTPS client that trusts authority only.
func clientFor(authority *ca) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(authority.PEM)
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
}

// deploy applies every manifest of deploy/ in order, each first with server-side dry-run,
// then for real: all must be accepted. Once the namespaces exist, it creates what
// deploy/README.md has the operator create by hand (the webhook's Secrets and ConfigMap).
func deploy(t *testing.T, a *api, objs []map[string]any, operator []map[string]any) {
	t.Helper()
	for i, obj := range objs {
		if kindOf(obj) != "Namespace" && (i == 0 || kindOf(objs[i-1]) == "Namespace") {
			for _, o := range operator {
				if r := a.create(t, o); r.Code != http.StatusCreated {
					t.Fatalf("create %s %v: %d %s", kindOf(o), o["metadata"], r.Code, r.Message)
				}
			}
		}
		for _, dry := range []bool{true, false} {
			r := a.apply(t, obj, dry)
			if r.Code != http.StatusOK && r.Code != http.StatusCreated {
				t.Fatalf("apply (dry-run %v) %s %v: %d %s", dry, kindOf(obj), obj["metadata"], r.Code, r.Message)
			}
		}
	}
}

// operatorObjects are the objects deploy/README.md has the operator create with kubectl
// create secret tls / configmap --from-file / secret generic: the webhook's, and the API's
// (its serving certificate, JWKS, OPA token, and its OPA sidecar's policies and token hash).
func operatorObjects(t *testing.T, authority *ca, fx *fixtures) []map[string]any {
	t.Helper()
	cert, key := authority.serving(t, t.TempDir(), "sms-admission.sms-admission.svc")
	mcert, mkey := authority.serving(t, t.TempDir(), "movies.movies.svc")
	read := func(p string) string {
		b, err := os.ReadFile(p)
		must(t, err)
		return string(b)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	md := func(ns, name string) map[string]any { return map[string]any{"name": name, "namespace": ns} }
	token := "test-only-opa-token"
	sum := sha256.Sum256([]byte(token))
	rev := sha256.Sum256([]byte(read(filepath.Join(root(t), "policy/api/authz.rego"))))
	return []map[string]any{
		{"apiVersion": "v1", "kind": "Secret", "metadata": md("sms-admission", "sms-admission-tls"), "type": "kubernetes.io/tls",
			"data": map[string]any{"tls.crt": b64(read(cert)), "tls.key": b64(read(key))}},
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": md("sms-admission", "sms-admission-trust"),
			"data": map[string]any{"cosign.pub": read(fx.Key), "trust.json": read(fx.Trust)}},
		{"apiVersion": "v1", "kind": "Secret", "metadata": md("sms-admission", "sms-admission-registry"), "type": "kubernetes.io/dockerconfigjson",
			"data": map[string]any{".dockerconfigjson": b64(`{"auths":{}}`)}},
		{"apiVersion": "v1", "kind": "Secret", "metadata": md("movies", "movies-tls"), "type": "kubernetes.io/tls",
			"data": map[string]any{"tls.crt": b64(read(mcert)), "tls.key": b64(read(mkey))}},
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": md("movies", "movies-jwks"),
			"data": map[string]any{"jwks.json": `{"keys":[]}`}},
		{"apiVersion": "v1", "kind": "Secret", "metadata": md("movies", "movies-opa-token"),
			"data": map[string]any{"token": b64(token)}},
		{"apiVersion": "v1", "kind": "Secret", "metadata": md("movies", "movies-opa-authz"),
			"data": map[string]any{"data.json": b64(`{"movies_opa":{"service_token_sha256":"` + hex.EncodeToString(sum[:]) +
				`"},"movies_policy":{"revision":"` + hex.EncodeToString(rev[:]) + `"}}`)}},
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": md("movies", "movies-opa-policy"),
			"data": map[string]any{"api.rego": read(filepath.Join(root(t), "policy/api/authz.rego")), "system.rego": read(filepath.Join(root(t), "policy/system/authz.rego"))}},
	}
}
