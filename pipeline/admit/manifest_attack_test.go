package admit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/pipeline/admit"
	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/verify"
)

// TestSupplyChainAttackHiddenDocument: a privileged Pod placed after the good one, behind a
// separator that kubectl honours but a naive splitter does not, is denied — or the manifest
// is refused — never admitted because only the first document was looked at.
func TestSupplyChainAttackHiddenDocument(t *testing.T) {
	w := mustWorld(t)
	ref := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, release{})
	good := strings.ReplaceAll(goodPod, "IMAGE", ref.String())
	evil := strings.Replace(strings.Replace(good, "name: movies}", "name: evil}", 1),
		"allowPrivilegeEscalation: false", "allowPrivilegeEscalation: false\n      privileged: true", 1)
	if v := w.admit(t, admit.Options{Manifest: []byte(good)}); !v.Allow {
		t.Fatalf("the good pod alone is denied: %+v", v.Deny)
	}
	tests := []struct {
		name     string
		manifest string
	}{
		{"separator followed by a tab", good + "---\t\n" + evil},
		{"separator followed by a comment", good + "--- # more\n" + evil},
		{"separator with a carriage return", good + "---\r\n" + evil},
		{"document end marker", good + "...\n" + evil},
		{"concatenated JSON", mustJSON(t, good) + mustJSON(t, evil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := admit.Run(context.Background(), admit.Options{
				Manifest: []byte(tc.manifest),
				Keys:     []*keys.Verifier{w.trusted.Verifier},
				Data:     [][]byte{testkit.TrustOverlay([]string{w.reg.Host + "/acme/"}, w.trusted)},
			})
			switch {
			case err != nil && !errors.Is(err, admit.ErrDenied):
				return // refused as malformed
			case v.Allow:
				t.Fatalf("admitted; the privileged pod was not seen (images %v)", v.Images)
			}
			mustDeny(t, v, "PRIVILEGED")
		})
	}
}

func mustJSON(t *testing.T, manifest string) string {
	t.Helper()
	docs, err := admit.SplitYAML([]byte(manifest))
	testkit.Must(t, err)
	b, err := json.Marshal(docs[0])
	testkit.Must(t, err)
	return string(b)
}

// TestVerifiedFactsAreUsedForTheirReferenceOnly: facts the process established itself
// (pipeline release) stand in for a second verification of that reference, and of no other.
func TestVerifiedFactsAreUsedForTheirReferenceOnly(t *testing.T) {
	w := mustWorld(t)
	good := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, release{})
	unsigned := w.publish(t, w.repo, testkit.MustImage(t, "65532"), w.trusted, release{skipSign: true})
	ks := []*keys.Verifier{w.trusted.Verifier}
	facts, err := verify.Check(context.Background(), good.String(), verify.Options{Keys: ks})
	testkit.Must(t, err)
	ev, err := admit.NewEvaluator(testkit.TrustOverlay([]string{w.reg.Host + "/acme/"}, w.trusted))
	testkit.Must(t, err)
	var progress bytes.Buffer
	v, err := admit.Run(context.Background(), admit.Options{
		Keys: ks, Images: []string{good.String(), unsigned.String()}, Evaluator: ev, Progress: &progress,
		Verified: map[string]admit.Verification{good.String(): {Facts: facts}},
		Now:      func() time.Time { return testkit.VulnNow }, // the fixture's scan is fresh then, whatever today is
	})
	if !errors.Is(err, admit.ErrDenied) {
		t.Fatalf("got %v, want a denial of the unsigned image", err)
	}
	if strings.Contains(progress.String(), good.String()) || !strings.Contains(progress.String(), "verify "+unsigned.String()) {
		t.Fatalf("verified again, or not verified: %s", progress.String())
	}
	for _, d := range v.Deny {
		if d.Image != unsigned.String() {
			t.Fatalf("the pre-verified image was denied: %+v", d)
		}
	}
	if v.Facts[unsigned.String()] == nil || len(v.Facts[unsigned.String()].Signatures) != 0 {
		t.Fatalf("the other image's facts: %+v", v.Facts[unsigned.String()])
	}
}
