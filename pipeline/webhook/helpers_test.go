package webhook_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/secure-movie-service/sms/pipeline/admit"
	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/sign"
	"github.com/secure-movie-service/sms/pipeline/webhook"
)

// world is one registry, the trusted release key and an attacker's key.
type world struct {
	reg     *testkit.Registry
	trusted *testkit.Key
	evil    *testkit.Key
	repo    string
}

func mustWorld(t *testing.T) *world {
	t.Helper()
	reg := testkit.MustRegistry(t)
	return &world{reg: reg, trusted: testkit.MustKey(t), evil: testkit.MustKey(t), repo: reg.Host + "/acme/movies"}
}

// publish pushes img to repo, signs it with k unless unsigned, and attaches every
// attestation admission asks for, except the predicate types in skip.
func (w *world) publish(t *testing.T, repo string, img v1.Image, k *testkit.Key, unsigned bool, skip ...string) name.Digest {
	t.Helper()
	ctx := context.Background()
	ref := testkit.MustPush(t, repo, img)
	if !unsigned {
		testkit.Must(t, sign.Sign(ctx, ref, k.Signer))
	}
	for typ, body := range map[string][]byte{
		predicate.TypeSPDX:       testkit.SPDX(),
		predicate.TypeProvenance: testkit.Provenance(testkit.SourceRepository, testkit.Revision),
		predicate.TypeControls:   testkit.Controls(testkit.Revision),
		predicate.TypeVuln:       testkit.Vuln(testkit.VulnDBDate),
	} {
		if !slices.Contains(skip, typ) {
			testkit.Must(t, sign.Attest(ctx, ref, k.Signer, typ, body))
		}
	}
	return ref
}

// good publishes a complete release by the trusted key.
func (w *world) good(t *testing.T) name.Digest {
	t.Helper()
	return w.publish(t, w.repo, testkit.MustImage(t, "65532:65532"), w.trusted, false)
}

// copySignature copies the cosign signature manifest of one digest onto another.
func copySignature(t *testing.T, from, to name.Digest) {
	t.Helper()
	tag := func(d name.Digest) name.Tag {
		tg, err := name.NewTag(d.Repository.Name() + ":" + strings.Replace(d.DigestStr(), ":", "-", 1) + ".sig")
		testkit.Must(t, err)
		return tg
	}
	img, err := remote.Image(tag(from))
	testkit.Must(t, err)
	testkit.Must(t, remote.Write(tag(to), img))
}

// webhookFor builds a webhook that trusts w's release key (and can verify the attacker's)
// and admits at testkit.VulnNow; change adjusts the options.
func (w *world) webhook(t *testing.T, change func(*webhook.Options), overlays ...[]byte) *webhook.Webhook {
	t.Helper()
	ev, err := admit.NewEvaluator(append([][]byte{testkit.TrustOverlay([]string{w.reg.Host + "/acme/"}, w.trusted)}, overlays...)...)
	testkit.Must(t, err)
	o := webhook.Options{
		Keys: []*keys.Verifier{w.trusted.Verifier, w.evil.Verifier}, Evaluator: ev,
		Timeout: 20 * time.Second, MaxRegistryBytes: 64 << 20,
		Cache: webhook.CacheOptions{Size: 16, TTL: time.Minute, NegativeTTL: time.Minute},
		Now:   func() time.Time { return testkit.VulnNow },
	}
	if change != nil {
		change(&o)
	}
	wh, err := webhook.New(o)
	testkit.Must(t, err)
	return wh
}

// container is a hardened container running image.
func container(name, image string) map[string]any {
	return map[string]any{
		"name": name, "image": image,
		"securityContext": map[string]any{
			"runAsNonRoot": true, "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
			"capabilities": map[string]any{"drop": []any{"ALL"}}, "seccompProfile": map[string]any{"type": "RuntimeDefault"},
		},
		"resources": map[string]any{"limits": map[string]any{"cpu": "500m", "memory": "128Mi"}},
	}
}

// podSpec is a hardened pod spec running image.
func podSpec(image string) map[string]any {
	return map[string]any{"containers": []any{container("movies", image)}}
}

// wrap puts a pod spec into an object of kind.
func wrap(kind string, spec map[string]any) map[string]any {
	tmpl := map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "movies"}}, "spec": spec}
	obj := map[string]any{"apiVersion": "apps/v1", "kind": kind, "metadata": map[string]any{"name": "movies", "namespace": "apps"}}
	switch kind {
	case "Pod":
		obj["apiVersion"], obj["spec"] = "v1", spec
	case "Job":
		obj["apiVersion"], obj["spec"] = "batch/v1", map[string]any{"template": tmpl}
	case "CronJob":
		obj["apiVersion"] = "batch/v1"
		obj["spec"] = map[string]any{"schedule": "@daily", "jobTemplate": map[string]any{"spec": map[string]any{"template": tmpl}}}
	default:
		obj["spec"] = map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "movies"}}, "template": tmpl}
	}
	return obj
}

// request is the AdmissionRequest the API server sends for obj.
func request(t *testing.T, kind, op, subresource string, obj map[string]any) *webhook.Request {
	t.Helper()
	b, err := json.Marshal(obj)
	testkit.Must(t, err)
	resource := strings.ToLower(kind) + "s"
	group := map[string]string{"Pod": "", "Job": "batch", "CronJob": "batch"}
	g, ok := group[kind]
	if !ok {
		g = "apps"
	}
	return &webhook.Request{
		UID: "uid-" + strings.ToLower(kind), Kind: webhook.GroupVersionKind{Group: g, Version: "v1", Kind: kind},
		Resource: webhook.GroupVersionResource{Group: g, Version: "v1", Resource: resource}, SubResource: subresource,
		Namespace: "apps", Operation: op, Object: b, UserInfo: webhook.UserInfo{Username: "alice"},
	}
}

func denyCodes(d *webhook.Decision) []string {
	var cs []string
	if d.Verdict != nil {
		for _, r := range d.Verdict.Deny {
			cs = append(cs, r.Code)
		}
	}
	return cs
}

// mustDeny checks a decision denies, names code among its reasons and in the message.
func mustDeny(t *testing.T, d *webhook.Decision, code string) {
	t.Helper()
	if d.Response.Allowed {
		t.Fatalf("allowed; want deny %s", code)
	}
	if d.Response.Status == nil || !strings.Contains(d.Response.Status.Message, code) {
		t.Fatalf("status %+v does not name %s (codes %v, err %v)", d.Response.Status, code, denyCodes(d), d.Err)
	}
}
