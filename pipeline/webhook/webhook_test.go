package webhook_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/verify"
	"github.com/secure-movie-service/sms/pipeline/webhook"
)

func review(t *testing.T, wh *webhook.Webhook, req *webhook.Request) *webhook.Decision {
	t.Helper()
	return wh.Review(context.Background(), req)
}

func TestWebhookAdmitsEveryPodBearingKind(t *testing.T) {
	w := mustWorld(t)
	ref := w.good(t).String()
	wh := w.webhook(t, nil)
	for _, kind := range []string{"Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"} {
		t.Run("C-IMAGE-SIGNED "+kind+" of a signed attested image is allowed", func(t *testing.T) {
			d := review(t, wh, request(t, kind, "CREATE", "", wrap(kind, podSpec(ref))))
			if !d.Response.Allowed || d.Err != nil {
				t.Fatalf("denied: %+v %v codes %v", d.Response.Status, d.Err, denyCodes(d))
			}
			if d.Response.UID != "uid-"+strings.ToLower(kind) {
				t.Fatalf("uid %q", d.Response.UID)
			}
		})
	}
	if n := wh.Cache().Fetches(); n != 1 {
		t.Fatalf("one digest verified %d times", n)
	}
}

// TestWebhookDenies covers the attacks; each case is denied with its code.
func TestWebhookDenies(t *testing.T) {
	w := mustWorld(t)
	good := w.good(t).String()
	unsigned := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, true).String()
	untrusted := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.evil, false)
	copied := w.publish(t, w.reg.Host+"/acme/other", testkit.MustImage(t, "65532"), w.trusted, true)
	copySignature(t, untrusted, copied) // a signature over another digest
	root := w.publish(t, w.repo, testkit.MustImage(t, "0"), w.trusted, false).String()
	withSC := func(k string, v any) map[string]any {
		s := podSpec(good)
		c := s["containers"].([]any)[0].(map[string]any)
		c["securityContext"].(map[string]any)[k] = v
		return s
	}
	withPod := func(k string, v any) map[string]any { s := podSpec(good); s[k] = v; return s }
	withPort := podSpec(good)
	withPort["containers"].([]any)[0].(map[string]any)["ports"] = []any{map[string]any{"containerPort": 8443, "hostPort": 443}}
	cases := []struct {
		name string
		spec map[string]any
		code string
	}{
		{"C-IMAGE-SIGNED unsigned image", podSpec(unsigned), "SIGNATURE_MISSING"},
		{"C-IMAGE-SIGNED signed by an untrusted key", podSpec(untrusted.String()), "SIGNATURE_MISSING"},
		{"C-IMAGE-SIGNED signature copied from another digest", podSpec(copied.String()), "SIGNATURE_MISSING"},
		{"C-CONTAINER-NONROOT image runs as root", podSpec(root), "IMAGE_USER_ROOT"},
		{"C-CONTAINER-NONROOT runAsUser 0", withSC("runAsUser", 0), "RUN_AS_ROOT_USER"},
		{"C-ADMISSION-WORKLOAD privileged", withSC("privileged", true), "PRIVILEGED"},
		{"C-ADMISSION-WORKLOAD hostPath", withPod("volumes", []any{map[string]any{"name": "h", "hostPath": map[string]any{"path": "/"}}}), "HOST_PATH"},
		{"C-ADMISSION-WORKLOAD hostPort", withPort, "HOST_PORT"},
		{"C-ADMISSION-WORKLOAD seccomp Unconfined", withSC("seccompProfile", map[string]any{"type": "Unconfined"}), "SECCOMP_UNCONFINED"},
	}
	wh := w.webhook(t, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustDeny(t, review(t, wh, request(t, "Deployment", "CREATE", "", wrap("Deployment", c.spec))), c.code)
		})
	}
}

// TestWebhookPinningBeforeFetch: a tag, or a registry off the allowlist, is denied without
// a single registry request — even beside a pinned image that would need one.
func TestWebhookPinningBeforeFetch(t *testing.T) {
	w := mustWorld(t)
	good := w.good(t).String()
	foreign := w.publish(t, w.reg.Host+"/evil/movies", testkit.MustImage(t, "65532"), w.trusted, false).String()
	wh := w.webhook(t, nil)
	cases := []struct {
		name   string
		images []string
		code   string
	}{
		{"C-ADMISSION-PINNED tag instead of digest", []string{w.repo + ":latest"}, "IMAGE_NOT_DIGEST"},
		{"C-ADMISSION-PINNED tag beside a pinned image", []string{good, w.repo + ":v1"}, "IMAGE_NOT_DIGEST"},
		{"C-ADMISSION-PINNED registry not allowed", []string{foreign}, "REGISTRY_NOT_ALLOWED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := podSpec(c.images[0])
			for i, img := range c.images[1:] {
				spec["containers"] = append(spec["containers"].([]any), container("c"+string(rune('a'+i)), img))
			}
			before := w.reg.Requests()
			d := review(t, wh, request(t, "Pod", "CREATE", "", wrap("Pod", spec)))
			mustDeny(t, d, c.code)
			if strings.Contains(d.Response.Status.Message, "SIGNATURE_MISSING") {
				t.Fatalf("an image never fetched is reported unsigned: %s", d.Response.Status.Message)
			}
			if n := w.reg.Requests() - before; n != 0 {
				t.Fatalf("%d registry requests; want none before pinning and allowlist pass", n)
			}
		})
	}
	if wh.Cache().Fetches() != 0 {
		t.Fatalf("%d verifications", wh.Cache().Fetches())
	}
}

// TestWebhookEphemeralContainers: `kubectl debug` updates pods/ephemeralcontainers with the
// whole pod; the ephemeral container's image goes through the same rules.
func TestWebhookEphemeralContainers(t *testing.T) {
	w := mustWorld(t)
	good := w.good(t).String()
	wh := w.webhook(t, nil)
	pod := func(image string) map[string]any {
		s := podSpec(good)
		debug := container("debug", image)
		delete(debug, "resources") // the API forbids resources on ephemeral containers
		s["ephemeralContainers"] = []any{debug}
		return wrap("Pod", s)
	}
	t.Run("C-ADMISSION-PINNED ephemeral container with an unpinned image", func(t *testing.T) {
		before := w.reg.Requests()
		mustDeny(t, review(t, wh, request(t, "Pod", "UPDATE", "ephemeralcontainers", pod("busybox:latest"))), "IMAGE_NOT_DIGEST")
		if n := w.reg.Requests() - before; n != 0 {
			t.Fatalf("%d registry requests", n)
		}
	})
	t.Run("C-IMAGE-SIGNED ephemeral container of a signed image", func(t *testing.T) {
		d := review(t, wh, request(t, "Pod", "UPDATE", "ephemeralcontainers", pod(good)))
		if !d.Response.Allowed {
			t.Fatalf("denied: %+v", d.Response.Status)
		}
	})
	t.Run("another subresource is denied", func(t *testing.T) {
		mustDeny(t, review(t, wh, request(t, "Pod", "UPDATE", "status", pod(good))), webhook.CodeSubresource)
	})
}

func TestWebhookWarnings(t *testing.T) {
	w := mustWorld(t)
	ref := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, false, predicate.TypeSPDX).String()
	warnSBOM := []byte(`{"supply_chain":{"enforcement":{"SBOM_MISSING":"warn"}}}`)
	d := review(t, w.webhook(t, nil, warnSBOM), request(t, "Pod", "CREATE", "", wrap("Pod", podSpec(ref))))
	if !d.Response.Allowed || len(d.Response.Warnings) != 1 || !strings.HasPrefix(d.Response.Warnings[0], "SBOM_MISSING: ") {
		t.Fatalf("allowed %v warnings %q", d.Response.Allowed, d.Response.Warnings)
	}
	// Without the overlay the same finding denies.
	mustDeny(t, review(t, w.webhook(t, nil), request(t, "Pod", "CREATE", "", wrap("Pod", podSpec(ref)))), "SBOM_MISSING")
}

// TestWebhookConcurrentReviewsShareOneFetch: 50 reviews of one digest at once cost the
// registry exactly what one verification costs.
func TestWebhookConcurrentReviewsShareOneFetch(t *testing.T) {
	w := mustWorld(t)
	ref := w.good(t).String()
	single := w.reg.Requests()
	mustAllow(t, review(t, w.webhook(t, nil), request(t, "Pod", "CREATE", "", wrap("Pod", podSpec(ref)))))
	one := w.reg.Requests() - single

	wh := w.webhook(t, nil)
	before := w.reg.Requests()
	var wg sync.WaitGroup
	ds := make([]*webhook.Decision, 50)
	for i := range ds {
		wg.Go(func() {
			ds[i] = wh.Review(context.Background(), request(t, "Pod", "CREATE", "", wrap("Pod", podSpec(ref))))
		})
	}
	wg.Wait()
	for _, d := range ds {
		mustAllow(t, d)
	}
	if got := w.reg.Requests() - before; got != one || wh.Cache().Fetches() != 1 {
		t.Fatalf("50 concurrent reviews: %d registry requests (one verification: %d), %d fetches", got, one, wh.Cache().Fetches())
	}
	t.Logf("50 concurrent reviews of one digest: %d verification, %d registry requests", wh.Cache().Fetches(), one)
}

func mustAllow(t *testing.T, d *webhook.Decision) {
	t.Helper()
	if !d.Response.Allowed {
		t.Fatalf("denied: %+v (err %v)", d.Response.Status, d.Err)
	}
}

// TestWebhookCacheTTL: a verified digest is reused until its TTL, a failed one until the
// negative TTL; then verified again.
func TestWebhookCacheTTL(t *testing.T) {
	w := mustWorld(t)
	good := w.good(t).String()
	bad := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, true).String()
	var mu sync.Mutex
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	wh := w.webhook(t, func(o *webhook.Options) {
		o.Cache = webhook.CacheOptions{Size: 8, TTL: 10 * time.Minute, NegativeTTL: time.Minute, Now: clock}
	})
	req := func(ref string) *webhook.Request { return request(t, "Pod", "CREATE", "", wrap("Pod", podSpec(ref))) }
	steps := []struct {
		advance time.Duration
		ref     string
		allowed bool
		fetches int64
	}{
		{0, good, true, 1}, {9 * time.Minute, good, true, 1}, {2 * time.Minute, good, true, 2},
		{0, bad, false, 3}, {30 * time.Second, bad, false, 3}, {31 * time.Second, bad, false, 4},
	}
	for i, s := range steps {
		advance(s.advance)
		d := review(t, wh, req(s.ref))
		if d.Response.Allowed != s.allowed || wh.Cache().Fetches() != s.fetches {
			t.Fatalf("step %d: allowed %v fetches %d; want %v %d", i, d.Response.Allowed, wh.Cache().Fetches(), s.allowed, s.fetches)
		}
	}
}

func TestWebhookCacheIsBounded(t *testing.T) {
	calls := 0
	c, err := webhook.NewCache(func(context.Context, string) (*verify.Facts, error) { calls++; return nil, verify.ErrFailed },
		webhook.CacheOptions{Size: 2, TTL: time.Hour, NegativeTTL: time.Hour, FetchTimeout: time.Second})
	testkit.Must(t, err)
	for _, ref := range []string{"a", "b", "c", "a"} {
		_, err := c.Get(context.Background(), ref)
		testkit.Must(t, err)
	}
	if c.Len() != 2 || calls != 4 {
		t.Fatalf("len %d calls %d; want 2 entries and a re-fetch of the evicted a", c.Len(), calls)
	}
}

// TestWebhookDeadlineDenies: a registry that does not answer in time denies, within the
// webhook's own deadline, and the timeout is not cached as an outcome.
func TestWebhookDeadlineDenies(t *testing.T) {
	w := mustWorld(t)
	ref := w.good(t).String()
	slow := func(ctx context.Context, _ string) (*verify.Facts, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	wh := w.webhook(t, func(o *webhook.Options) { o.Timeout = 300 * time.Millisecond; o.Verify = slow })
	start := time.Now()
	d := review(t, wh, request(t, "Pod", "CREATE", "", wrap("Pod", podSpec(ref))))
	mustDeny(t, d, webhook.CodeTimeout)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("answered after %v", took)
	}
	if !errors.Is(d.Err, context.DeadlineExceeded) || wh.Cache().Len() != 0 {
		t.Fatalf("err %v, cache entries %d", d.Err, wh.Cache().Len())
	}
}

// TestWebhookRegistryByteCap: a verification that would read more than the cap fails, and
// the image is denied.
func TestWebhookRegistryByteCap(t *testing.T) {
	w := mustWorld(t)
	ref := w.good(t).String()
	wh := w.webhook(t, func(o *webhook.Options) { o.MaxRegistryBytes = 2 << 10 })
	d := review(t, wh, request(t, "Pod", "CREATE", "", wrap("Pod", podSpec(ref))))
	mustDeny(t, d, "FACTS_MISSING")
	if e := d.Verdict.Errors[ref]; !strings.Contains(e, webhook.ErrRegistryBytes.Error()) {
		t.Fatalf("verification error %q", e)
	}
}
