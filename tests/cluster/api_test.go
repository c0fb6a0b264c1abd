package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// api is a client of the test's kube-apiserver, authenticated as a cluster admin by a static
// token.
type api struct {
	base  string
	token string
	http  *http.Client
}

// startCluster starts etcd and kube-apiserver on loopback ports and returns an admin client.
func startCluster(t *testing.T, authority *ca) *api {
	t.Helper()
	dir := t.TempDir()
	etcdBin, err := lookPath("etcd")
	must(t, err)
	client, peer := freePort(t), freePort(t)
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(client)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
	etcd := start(t, "etcd", etcdBin, "--name=sms", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=sms="+peerURL, "--log-level=warn")
	waitFor(t, etcd, "etcd", time.Minute, func(ctx context.Context) error { return httpOK(ctx, http.DefaultClient, etcdURL+"/health", "") })

	token := randomHex(t)
	tokens := filepath.Join(dir, "tokens.csv")
	must(t, os.WriteFile(tokens, []byte(token+",admin,admin-uid,system:masters\n"), 0o600))
	cert, key := authority.serving(t, dir, "kube-apiserver")
	saPub, saKey := serviceAccountKeys(t, dir)
	port := freePort(t)
	kas := start(t, "kube-apiserver", kubeAPIServer(t),
		"--etcd-servers="+etcdURL, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port), "--tls-cert-file="+cert, "--tls-private-key-file="+key,
		"--cert-dir="+filepath.Join(dir, "certs"), "--token-auth-file="+tokens, "--authorization-mode=RBAC",
		"--service-account-key-file="+saPub, "--service-account-signing-key-file="+saKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=10.96.0.0/16", "--endpoint-reconciler-type=none",
		// As kubeadm sets it: privileged pods are a matter for admission, which must deny them.
		"--allow-privileged=true",
		// No controller-manager creates the default service accounts this plugin looks for.
		"--disable-admission-plugins=ServiceAccount",
		"--enable-priority-and-fairness=false", "--profiling=false")
	a := &api{base: "https://127.0.0.1:" + strconv.Itoa(port), token: token, http: clientFor(authority)}
	a.http.Timeout = 60 * time.Second
	waitFor(t, kas, "kube-apiserver /readyz", 3*time.Minute, func(ctx context.Context) error {
		return httpOK(ctx, a.http, a.base+"/readyz", token)
	})
	return a
}

func lookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not on PATH: run make test-cluster, which installs Debian's etcd-server", name)
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	_, err := rand.Read(b)
	must(t, err)
	return hex.EncodeToString(b)
}

func httpOK(ctx context.Context, c *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, b)
	}
	return nil
}

// result is an API answer: the status code and, for errors, the Status message.
type result struct {
	Code    int
	Message string
	Body    map[string]any
}

func (a *api) do(t *testing.T, method, path, ctype string, body any) result {
	t.Helper()
	r, err := a.try(method, path, ctype, body)
	must(t, err)
	return r
}

// try is do for goroutines other than the test's: it returns the error instead of failing.
func (a *api) try(method, path, ctype string, body any) (result, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return result{}, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, r)
	if err != nil {
		return result{}, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return result{}, err
	}
	out := result{Code: resp.StatusCode}
	_ = json.Unmarshal(b, &out.Body)
	if m, ok := out.Body["message"].(string); ok && out.Body["kind"] == "Status" {
		out.Message = m
	}
	return out, nil
}

// resources maps the kinds the test applies to their API paths.
var resources = map[string]struct {
	prefix, plural string
	namespaced     bool
}{
	"Namespace":                      {"/api/v1", "namespaces", false},
	"ServiceAccount":                 {"/api/v1", "serviceaccounts", true},
	"Service":                        {"/api/v1", "services", true},
	"ConfigMap":                      {"/api/v1", "configmaps", true},
	"Secret":                         {"/api/v1", "secrets", true},
	"PersistentVolumeClaim":          {"/api/v1", "persistentvolumeclaims", true},
	"Pod":                            {"/api/v1", "pods", true},
	"Deployment":                     {"/apis/apps/v1", "deployments", true},
	"PodDisruptionBudget":            {"/apis/policy/v1", "poddisruptionbudgets", true},
	"NetworkPolicy":                  {"/apis/networking.k8s.io/v1", "networkpolicies", true},
	"ValidatingWebhookConfiguration": {"/apis/admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", false},
}

// path is the collection path of obj's kind in namespace ns (or its own namespace).
func path(t *testing.T, obj map[string]any) string {
	t.Helper()
	kind, _ := obj["kind"].(string)
	r, ok := resources[kind]
	if !ok {
		t.Fatalf("the test does not know kind %q", kind)
	}
	if !r.namespaced {
		return r.prefix + "/" + r.plural
	}
	md, _ := obj["metadata"].(map[string]any)
	ns, _ := md["namespace"].(string)
	if ns == "" {
		t.Fatalf("%s has no namespace", kind)
	}
	return r.prefix + "/namespaces/" + ns + "/" + r.plural
}

// apply is `kubectl apply --server-side [--dry-run=server]` for one object.
func (a *api) apply(t *testing.T, obj map[string]any, dryRun bool) result {
	t.Helper()
	md, _ := obj["metadata"].(map[string]any)
	q := "?fieldManager=sms-cluster-test&force=true"
	if dryRun {
		q += "&dryRun=All"
	}
	return a.do(t, http.MethodPatch, path(t, obj)+"/"+fmt.Sprint(md["name"])+q, "application/apply-patch+yaml", obj)
}

// create is POST of a new object.
func (a *api) create(t *testing.T, obj map[string]any) result {
	t.Helper()
	return a.do(t, http.MethodPost, path(t, obj), "application/json", obj)
}
