package cluster

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hardened is a container that passes policy/admission's workload rules and Pod Security
// "restricted".
func hardened(name, image string) map[string]any {
	return map[string]any{
		"name": name, "image": image,
		"securityContext": map[string]any{
			"runAsNonRoot": true, "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
			"capabilities": map[string]any{"drop": []any{"ALL"}}, "seccompProfile": map[string]any{"type": "RuntimeDefault"},
		},
		"resources": map[string]any{"limits": map[string]any{"cpu": "100m", "memory": "64Mi"}},
	}
}

func deployment(name string, spec map[string]any) map[string]any {
	labels := map[string]any{"app": name}
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": "movies"},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": spec},
		},
	}
}

func spec(containers ...map[string]any) map[string]any {
	cs := make([]any, len(containers))
	for i, c := range containers {
		cs[i] = c
	}
	return map[string]any{"automountServiceAccountToken": false, "containers": cs}
}

// denied checks that the API server refused with the webhook's reason code.
func denied(t *testing.T, r result, code string) {
	t.Helper()
	if r.Code < 400 || !strings.Contains(r.Message, "admission webhook") || !strings.Contains(r.Message, code) {
		t.Fatalf("want a webhook denial naming %s; got %d %q", code, r.Code, r.Message)
	}
}

// TestClusterAdmission is the cluster end of the loop against a real API server.
func TestClusterAdmission(t *testing.T) {
	authority := newCA(t)
	pipeline := goBuild(t, "./pipeline/cmd/pipeline")
	fx := startFixtures(t)
	a := startCluster(t, authority)
	port := freePort(t)
	webhook := startWebhook(t, pipeline, fx, authority, port)
	good := fx.Images["good"]

	objs := manifests(t, map[string]string{"IMAGE": good, "OPA_IMAGE": good, "PIPELINE_IMAGE": good, "CA_BUNDLE": "Cg=="})
	order(objs)
	for _, o := range objs {
		if kindOf(o) == "ValidatingWebhookConfiguration" {
			pointAt(t, o, "https://127.0.0.1:"+strconv.Itoa(port)+"/validate", authority.PEM)
		}
	}
	t.Run("every manifest in deploy/ is accepted, dry-run then for real", func(t *testing.T) {
		deploy(t, a, objs, operatorObjects(t, authority, fx))
	})
	t.Run("C-ADMISSION-WORKLOAD the pod templates in deploy/ run under Pod Security restricted", func(t *testing.T) {
		for _, o := range objs {
			if kindOf(o) != "Deployment" {
				continue
			}
			md := o["metadata"].(map[string]any)
			tmpl := o["spec"].(map[string]any)["template"].(map[string]any)
			pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "spec": tmpl["spec"],
				"metadata": map[string]any{"name": md["name"].(string) + "-template", "namespace": md["namespace"]}}
			if r := a.create(t, pod); r.Code != http.StatusCreated {
				t.Fatalf("pod from %s/%s: %d %s", md["namespace"], md["name"], r.Code, r.Message)
			}
		}
	})
	t.Run("C-IMAGE-SIGNED a Deployment of a signed, attested image is admitted", func(t *testing.T) {
		if r := a.create(t, deployment("good", spec(hardened("app", good)))); r.Code != http.StatusCreated {
			t.Fatalf("%d %s", r.Code, r.Message)
		}
	})
	denials(t, a, fx)
	t.Run("C-ADMISSION-PINNED an ephemeral container with an unpinned image is denied", func(t *testing.T) {
		ephemeral(t, a, good)
	})
	t.Run("50 simultaneous pods of one new image cause one registry verification", func(t *testing.T) {
		simultaneous(t, a, webhook, fx.Images["fresh"])
	})
	t.Run("admission latency through the API server, digest already verified", func(t *testing.T) {
		latency(t, a, good)
	})
	t.Run("C-ADMISSION-PINNED with the webhook stopped, creation is denied", func(t *testing.T) {
		webhook.Stop()
		r := a.create(t, deployment("while-down", spec(hardened("app", good))))
		if r.Code < 400 || !strings.Contains(r.Message, "failed calling webhook") {
			t.Fatalf("want a denial for the unreachable webhook; got %d %q", r.Code, r.Message)
		}
	})
}

// denials: each attack is refused by the API server with its reason code.
func denials(t *testing.T, a *api, fx *fixtures) {
	good := fx.Images["good"]
	withSC := func(k string, v any) map[string]any {
		c := hardened("app", good)
		c["securityContext"].(map[string]any)[k] = v
		return spec(c)
	}
	privileged := hardened("app", good)
	// The API itself refuses privileged together with allowPrivilegeEscalation: false.
	delete(privileged["securityContext"].(map[string]any), "allowPrivilegeEscalation")
	privileged["securityContext"].(map[string]any)["privileged"] = true
	withPod := func(k string, v any) map[string]any { s := spec(hardened("app", good)); s[k] = v; return s }
	port := hardened("app", good)
	port["ports"] = []any{map[string]any{"containerPort": 8443, "hostPort": 8443}}
	cases := []struct {
		name, code string
		spec       map[string]any
	}{
		{"C-IMAGE-SIGNED unsigned", "SIGNATURE_MISSING", spec(hardened("app", fx.Images["unsigned"]))},
		{"C-IMAGE-SIGNED untrusted key", "SIGNATURE_MISSING", spec(hardened("app", fx.Images["untrusted"]))},
		{"C-ADMISSION-PINNED tag", "IMAGE_NOT_DIGEST", spec(hardened("app", fx.Registry+"/acme/movies:latest"))},
		{"C-IMAGE-SIGNED copied signature", "SIGNATURE_MISSING", spec(hardened("app", fx.Images["copied"]))},
		{"C-CONTAINER-NONROOT root user", "IMAGE_USER_ROOT", spec(hardened("app", fx.Images["root"]))},
		{"C-ADMISSION-WORKLOAD privileged", "PRIVILEGED", spec(privileged)},
		{"C-ADMISSION-WORKLOAD hostPath", "HOST_PATH", withPod("volumes", []any{map[string]any{"name": "h", "hostPath": map[string]any{"path": "/"}}})},
		{"C-ADMISSION-WORKLOAD hostPort", "HOST_PORT", spec(port)},
		{"C-ADMISSION-WORKLOAD seccomp Unconfined", "SECCOMP_UNCONFINED", withSC("seccompProfile", map[string]any{"type": "Unconfined"})},
	}
	for i, c := range cases {
		t.Run(c.name+" is denied", func(t *testing.T) {
			denied(t, a.create(t, deployment("attack-"+strconv.Itoa(i), c.spec)), c.code)
		})
	}
}

// ephemeral adds an ephemeral container with an unpinned image to a running pod, as
// `kubectl debug` does: an update of the pods/ephemeralcontainers subresource.
func ephemeral(t *testing.T, a *api, good string) {
	t.Helper()
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "debug-target", "namespace": "movies"}, "spec": spec(hardened("app", good))}
	if r := a.create(t, pod); r.Code != http.StatusCreated {
		t.Fatalf("create pod: %d %s", r.Code, r.Message)
	}
	cur := a.do(t, http.MethodGet, "/api/v1/namespaces/movies/pods/debug-target", "", nil)
	if cur.Code != http.StatusOK {
		t.Fatalf("get pod: %d", cur.Code)
	}
	debug := hardened("debug", "busybox:latest")
	delete(debug, "resources") // the API forbids resources on ephemeral containers
	podSpec := cur.Body["spec"].(map[string]any)
	podSpec["ephemeralContainers"] = []any{debug}
	r := a.do(t, http.MethodPut, "/api/v1/namespaces/movies/pods/debug-target/ephemeralcontainers", "application/json", cur.Body)
	denied(t, r, "IMAGE_NOT_DIGEST")
	b, _ := json.Marshal(r.Body)
	t.Logf("ephemeral container refused: %s", b)
}

// simultaneous creates 50 pods of one image not verified yet, all at once, and counts the
// verifications the webhook logged for it.
func simultaneous(t *testing.T, a *api, webhook *proc, image string) {
	t.Helper()
	const n = 50
	results, errs := make([]result, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "spec": spec(hardened("app", image)),
				"metadata": map[string]any{"name": "burst-" + strconv.Itoa(i), "namespace": "movies"}}
			results[i], errs[i] = a.try(http.MethodPost, "/api/v1/namespaces/movies/pods", "application/json", pod)
		})
	}
	wg.Wait()
	for i, r := range results {
		if errs[i] != nil || r.Code != http.StatusCreated {
			t.Fatalf("pod %d: %d %s %v", i, r.Code, r.Message, errs[i])
		}
	}
	b, err := os.ReadFile(webhook.log)
	must(t, err)
	verifications, decisions := 0, 0
	for _, line := range strings.Split(string(b), "\n") {
		var l struct {
			Msg    string   `json:"msg"`
			Image  string   `json:"image"`
			Images []string `json:"images"`
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch {
		case l.Msg == "verification" && l.Image == image:
			verifications++
		case l.Msg == "admission" && slices.Contains(l.Images, image):
			decisions++
		}
	}
	if verifications != 1 || decisions != n {
		t.Fatalf("%d pods of one image: %d verifications, %d decisions logged; want 1 and %d", n, verifications, decisions, n)
	}
	t.Logf("%d simultaneous pods of one new image: %d registry verification", n, verifications)
}

// latency creates pods of an image already verified, one after another, and reports the
// API server's round trip (webhook call included): p50 and p99.
func latency(t *testing.T, a *api, image string) {
	t.Helper()
	const n = 100
	took := make([]time.Duration, 0, n)
	for i := range n {
		pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "spec": spec(hardened("app", image)),
			"metadata": map[string]any{"name": "latency-" + strconv.Itoa(i), "namespace": "movies"}}
		start := time.Now()
		if r := a.create(t, pod); r.Code != http.StatusCreated {
			t.Fatalf("pod %d: %d %s", i, r.Code, r.Message)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	p50, p99 := took[n/2], took[n*99/100]
	t.Logf("pod creation through kube-apiserver and the webhook, digest already verified: p50 %v, p99 %v (n=%d)",
		p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), n)
	if p99 > 10*time.Second {
		t.Fatalf("p99 %v is over the webhook's timeoutSeconds", p99)
	}
}
