package webhook_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/secure-movie-service/sms/pipeline/internal/sigstoretest"
	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/sign"
	"github.com/secure-movie-service/sms/pipeline/webhook"
)

// TestWebhookKeyless: the cluster's webhook admits on a trusted keyless identity alone (no
// key), and denies another identity with its code.
func TestWebhookKeyless(t *testing.T) {
	w := mustWorld(t)
	ss := sigstoretest.New(t)
	publish := func(id sigstoretest.Identity) name.Digest {
		ref := testkit.MustPush(t, w.repo, testkit.MustImage(t, "65532:65532"))
		ss.Publish(t, ref, sigstoretest.Spec{Identity: id},
			sign.Predicate{Type: predicate.TypeSPDX, Body: testkit.SPDX()},
			sign.Predicate{Type: predicate.TypeProvenance, Body: testkit.Provenance(testkit.SourceRepository, testkit.Revision)},
			sign.Predicate{Type: predicate.TypeControls, Body: testkit.Controls(testkit.Revision)},
			sign.Predicate{Type: predicate.TypeVuln, Body: testkit.Vuln(testkit.VulnDBDate)})
		return ref
	}
	identityOnly, err := json.Marshal(map[string]any{"supply_chain": map[string]any{
		"trusted_keys": map[string]any{},
		"trust": []any{map[string]any{"repository": w.reg.Host + "/acme/", "identities": []any{map[string]any{
			"issuer": sigstoretest.Issuer, "subject": sigstoretest.Subject,
		}}}},
	}})
	testkit.Must(t, err)
	wh := w.webhook(t, func(o *webhook.Options) { o.Keys, o.Keyless = nil, ss.Verifier(t, false) }, identityOnly)

	t.Run("C-KEYLESS the release workflow's identity admits", func(t *testing.T) {
		ref := publish(sigstoretest.Release())
		d := review(t, wh, request(t, "Deployment", "CREATE", "", wrap("Deployment", podSpec(ref.String()))))
		if !d.Response.Allowed || d.Err != nil {
			t.Fatalf("denied: %+v %v codes %v", d.Response.Status, d.Err, denyCodes(d))
		}
	})
	t.Run("C-KEYLESS another workflow's identity is denied", func(t *testing.T) {
		evil := sigstoretest.Release()
		evil.Subject = "https://github.com/secure-movie-service/sms/.github/workflows/ci.yml@refs/heads/main"
		ref := publish(evil)
		mustDeny(t, review(t, wh, request(t, "Deployment", "CREATE", "", wrap("Deployment", podSpec(ref.String())))), "IDENTITY_SUBJECT")
	})
}
