package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/secure-movie-service/sms/pipeline/internal/sigstoretest"
	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/sign"
)

// releasePattern is the release workflow at any version tag, anchored.
const releasePattern = `^https://github\.com/secure-movie-service/sms/\.github/workflows/release\.yml@refs/tags/v[0-9]+\.[0-9]+\.[0-9]+$`

// keylessWorld is a registry, a test Sigstore, its trusted root file and policy data that
// trusts the release workflow's identity (and no key) for the registry's repositories.
type keylessWorld struct {
	reg        *testkit.Registry
	ss         *sigstoretest.Sigstore
	root, data string
}

func mustKeylessWorld(t *testing.T, subjectRegexp string) *keylessWorld {
	t.Helper()
	w := &keylessWorld{reg: testkit.MustRegistry(t), ss: sigstoretest.New(t)}
	dir := t.TempDir()
	w.root = w.ss.WriteRoot(t, dir)
	b, err := json.Marshal(map[string]any{"supply_chain": map[string]any{
		"trusted_keys": map[string]any{}, "registries": []string{w.reg.Host + "/"},
		"source_repository": testkit.SourceRepository, "builder_ids": []string{testkit.BuilderID},
		"controls": map[string]any{"required": testkit.ControlIDs},
		"rollback": map[string]any{"min_source_date": testkit.FixtureOldest},
		"trust": []any{map[string]any{"repository": w.reg.Host + "/", "identities": []any{map[string]any{
			"issuer": sigstoretest.Issuer, "subject_regexp": subjectRegexp,
			"github": map[string]string{"repository": sigstoretest.ReleaseClaims.Repository, "trigger": "push"},
		}}}},
	}})
	testkit.Must(t, err)
	w.data = filepath.Join(dir, "trust.json")
	testkit.Must(t, os.WriteFile(w.data, b, 0o600))
	return w
}

// release pushes an image and attaches keyless material made as spec says: a signature and
// every attestation admission requires.
func (w *keylessWorld) release(t *testing.T, spec sigstoretest.Spec) name.Digest {
	t.Helper()
	ref := testkit.MustPush(t, w.reg.Host+"/sms/movies", testkit.MustImage(t, "65532:65532"))
	w.ss.Publish(t, ref, spec,
		sign.Predicate{Type: predicate.TypeSPDX, Body: testkit.SPDX()},
		sign.Predicate{Type: predicate.TypeProvenance, Body: testkit.Provenance(testkit.SourceRepository, testkit.Revision)},
		sign.Predicate{Type: predicate.TypeControls, Body: testkit.Controls(testkit.Revision)},
		sign.Predicate{Type: predicate.TypeVuln, Body: testkit.Vuln(time.Now().Add(-24 * time.Hour))})
	return ref
}

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, &out, &errb)
	if err != nil {
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), exitCode(err)
}

func TestKeylessVerifyAndAdmit(t *testing.T) {
	w := mustKeylessWorld(t, releasePattern)
	good := w.release(t, sigstoretest.Spec{Identity: sigstoretest.Release()})

	t.Run("C-KEYLESS verify exits 0 and names the release identity", func(t *testing.T) {
		out, stderr, code := runCLI(t, "verify", "--trusted-root", w.root, "--data", w.data, good.String())
		if code != 0 || !strings.Contains(out, `"subject": "`+sigstoretest.Subject+`"`) || !strings.Contains(out, `"admitted_by": [`) {
			t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
		}
	})
	t.Run("C-KEYLESS admit allows, and the verdict names the identity", func(t *testing.T) {
		out, stderr, code := runCLI(t, "admit", "--trusted-root", w.root, "--data", w.data, "--image", good.String())
		if code != 0 || !strings.HasPrefix(out, "ALLOW") || !strings.Contains(out, "admitted by identity "+sigstoretest.Subject) {
			t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
		}
	})
	t.Run("C-KEYLESS another repository's workflow is denied by verify and admit", func(t *testing.T) {
		evil := sigstoretest.Release()
		evil.Subject = "https://github.com/evil/sms/.github/workflows/release.yml@refs/tags/v1.2.3"
		ref := w.release(t, sigstoretest.Spec{Identity: evil})
		if out, _, code := runCLI(t, "verify", "--trusted-root", w.root, "--data", w.data, ref.String()); code != 1 {
			t.Fatalf("verify exit %d\n%s", code, out)
		}
		out, _, code := runCLI(t, "admit", "--format", "json", "--trusted-root", w.root, "--data", w.data, "--image", ref.String())
		if code != 1 || !strings.Contains(out, `"IDENTITY_SUBJECT"`) {
			t.Fatalf("admit exit %d\n%s", code, out)
		}
	})
	t.Run("C-KEYLESS a certificate from a CA outside the trusted root is denied with its code", func(t *testing.T) {
		ref := w.release(t, sigstoretest.Spec{Identity: sigstoretest.Release(), CA: w.ss.Foreign(t)})
		out, _, code := runCLI(t, "admit", "--format", "json", "--trusted-root", w.root, "--data", w.data, "--image", ref.String())
		if code != 1 || !strings.Contains(out, `"KEYLESS_CA_UNTRUSTED"`) {
			t.Fatalf("admit exit %d\n%s", code, out)
		}
	})
	t.Run("a key signature with keyless material nobody trusts beside it: verify exits 0, lists it", func(t *testing.T) {
		k := testkit.MustKey(t)
		ref := w.release(t, sigstoretest.Spec{Identity: sigstoretest.Release(), CA: w.ss.Foreign(t)})
		testkit.Must(t, sign.Sign(context.Background(), ref, k.Signer))
		out, stderr, code := runCLI(t, "verify", "--format", "text", "--key", k.PublicPath(), "--trusted-root", w.root, "--data", w.data, ref.String())
		if code != 0 || !strings.Contains(out, "admitted by key "+k.Signer.ID) || !strings.Contains(out, "info: not verified: signature") {
			t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
		}
	})
	t.Run("the development switch is named in every report", func(t *testing.T) {
		ref := w.release(t, sigstoretest.Spec{Identity: sigstoretest.Release(), NoBundle: true})
		for _, args := range [][]string{
			{"verify", "--format", "text", "--insecure-ignore-tlog", "--trusted-root", w.root, "--data", w.data, ref.String()},
			{"admit", "--insecure-ignore-tlog", "--trusted-root", w.root, "--data", w.data, "--image", ref.String()},
		} {
			out, _, _ := runCLI(t, args...)
			if !strings.Contains(out, "INSECURE") || !strings.Contains(out, "--insecure-ignore-tlog") {
				t.Fatalf("%s: no warning\n%s", args[0], out)
			}
		}
		out, _, code := runCLI(t, "admit", "--format", "json", "--insecure-ignore-tlog", "--trusted-root", w.root, "--data", w.data, "--image", ref.String())
		if code != 1 || !strings.Contains(out, `"TLOG_NOT_VERIFIED"`) {
			t.Fatalf("production data admitted material without a Rekor proof: exit %d\n%s", code, out)
		}
	})
}

// TestKeylessReferrerBundles: an image that carries only Sigstore bundles attached as OCI 1.1
// referrers (cosign v3's default) is verified and admitted on the release identity.
func TestKeylessReferrerBundles(t *testing.T) {
	w := mustKeylessWorld(t, releasePattern)
	ref := testkit.MustPush(t, w.reg.Host+"/sms/movies", testkit.MustImage(t, "65532:65532"))
	w.ss.PublishBundles(t, ref, sigstoretest.Spec{Identity: sigstoretest.Release()},
		sign.Predicate{Type: predicate.TypeSPDX, Body: testkit.SPDX()},
		sign.Predicate{Type: predicate.TypeProvenance, Body: testkit.Provenance(testkit.SourceRepository, testkit.Revision)},
		sign.Predicate{Type: predicate.TypeControls, Body: testkit.Controls(testkit.Revision)},
		sign.Predicate{Type: predicate.TypeVuln, Body: testkit.Vuln(time.Now().Add(-24 * time.Hour))})
	out, stderr, code := runCLI(t, "admit", "--trusted-root", w.root, "--data", w.data, "--image", ref.String())
	if code != 0 || !strings.Contains(out, "admitted by identity "+sigstoretest.Subject) {
		t.Fatalf("C-KEYLESS admit exit %d\n%s\n%s", code, out, stderr)
	}
}

func TestKeylessPolicyRefusesUnanchoredPatterns(t *testing.T) {
	w := mustKeylessWorld(t, "release.yml@refs/tags/v")
	ref := w.release(t, sigstoretest.Spec{Identity: sigstoretest.Release()})
	for _, cmd := range []string{"verify", "admit"} {
		args := []string{cmd, "--trusted-root", w.root, "--data", w.data}
		if cmd == "admit" {
			args = append(args, "--image")
		}
		_, stderr, code := runCLI(t, append(args, ref.String())...)
		if code != 2 || !strings.Contains(stderr, "must be anchored") {
			t.Fatalf("C-KEYLESS %s with an unanchored subject_regexp: exit %d %s", cmd, code, stderr)
		}
	}
	if _, stderr, code := runCLI(t, "verify", "--insecure-ignore-tlog", ref.String()); code != 2 || !strings.Contains(stderr, "--trusted-root") {
		t.Fatalf("--insecure-ignore-tlog without a root: exit %d %s", code, stderr)
	}
}

// TestKeylessFailuresDeniedWithTheirCodes: each way keyless material can fail to admit an image
// is denied by the real pipeline admit command line with its own reason code.
func TestKeylessFailuresDeniedWithTheirCodes(t *testing.T) {
	w := mustKeylessWorld(t, releasePattern)
	release := sigstoretest.Release()
	withIssuer := release
	withIssuer.Issuer = "https://accounts.google.com"
	withClaims := release
	withClaims.GitHub.Trigger = "pull_request_target"
	other := testkit.MustPush(t, w.reg.Host+"/sms/other", testkit.MustImage(t, "65532:65532"))
	cases := []struct {
		name string
		spec sigstoretest.Spec
		code string
	}{
		{"wrong issuer", sigstoretest.Spec{Identity: withIssuer}, "IDENTITY_ISSUER"},
		{"wrong GitHub claims", sigstoretest.Spec{Identity: withClaims}, "IDENTITY_CLAIMS"},
		{"certificate expired when logged", sigstoretest.Spec{Identity: release, Expired: true}, "KEYLESS_CERT_EXPIRED"},
		{"no Rekor bundle", sigstoretest.Spec{Identity: release, NoBundle: true}, "KEYLESS_TLOG_MISSING"},
		{"forged Rekor entry timestamp", sigstoretest.Spec{Identity: release, ForgeSET: true}, "KEYLESS_TLOG_INVALID"},
		{"no SCT", sigstoretest.Spec{Identity: release, NoSCT: true}, "KEYLESS_SCT_INVALID"},
		{"CA not in the trusted root", sigstoretest.Spec{Identity: release, CA: w.ss.Foreign(t)}, "KEYLESS_CA_UNTRUSTED"},
	}
	for _, c := range cases {
		t.Run("C-KEYLESS "+c.name, func(t *testing.T) {
			mustDeny(t, w, w.release(t, c.spec), c.code)
		})
	}
	t.Run("C-KEYLESS Rekor bundle of another signature", func(t *testing.T) {
		stolen := w.ss.Sign(t, other, sigstoretest.Spec{Identity: release}).Bundle
		mustDeny(t, w, w.release(t, sigstoretest.Spec{Identity: release, Bundle: stolen}), "KEYLESS_TLOG_MISMATCH")
	})
	t.Run("C-KEYLESS signature for another digest", func(t *testing.T) {
		ref := testkit.MustPush(t, w.reg.Host+"/sms/movies", testkit.MustImage(t, "65532:65532"))
		sigstoretest.Attach(t, ref, []sigstoretest.Material{w.ss.Sign(t, other, sigstoretest.Spec{Identity: release})}, nil)
		mustDeny(t, w, ref, "SIGNATURE_DIGEST_MISMATCH")
	})
	t.Run("C-KEYLESS attestation whose subject is another digest", func(t *testing.T) {
		ref := w.release(t, sigstoretest.Spec{Identity: release})
		p := sign.Predicate{Type: predicate.TypeProvenance, Body: testkit.Provenance(testkit.SourceRepository, testkit.Revision)}
		att := w.ss.Attest(t, sigstoretest.Statement(t, other, p), p.Type, sigstoretest.Spec{Identity: release})
		sigstoretest.Attach(t, ref, nil, []sigstoretest.Material{att})
		mustDeny(t, w, ref, "ATTESTATION_SUBJECT_MISMATCH")
	})
}

func mustDeny(t *testing.T, w *keylessWorld, ref name.Digest, code string) {
	t.Helper()
	out, stderr, exit := runCLI(t, "admit", "--format", "json", "--trusted-root", w.root, "--data", w.data, "--image", ref.String())
	if exit != 1 || !strings.Contains(out, `"code": "`+code+`"`) {
		t.Fatalf("admit exit %d, want 1 with %s\n%s\n%s", exit, code, out, stderr)
	}
}
