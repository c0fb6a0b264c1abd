package tests

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// The release workflow's keyless identity, as Fulcio names it for a tag push.
const (
	ghIssuer       = "https://token.actions.githubusercontent.com"
	releaseSubject = "https://github.com/secure-movie-service/sms/.github/workflows/release.yml@refs/tags/v1.2.3"
	releaseRegexp  = `^https://github\.com/secure-movie-service/sms/\.github/workflows/release\.yml@refs/tags/v[0-9]+\.[0-9]+\.[0-9]+$`
)

// identityTrust writes policy data that trusts no key and, for the world's registry, the
// release workflow's identity: the identity-only trust SECURITY.md rotates to.
func (w *scWorld) identityTrust(t *testing.T, subjectRegexp string) string {
	t.Helper()
	return w.overlay(t, "identity-trust.json", map[string]any{
		"trusted_keys": map[string]any{},
		"trust": []any{map[string]any{"repository": w.reg + "/", "identities": []any{map[string]any{
			"issuer": ghIssuer, "subject_regexp": subjectRegexp,
			"github": map[string]string{"repository": "https://github.com/secure-movie-service/sms", "trigger": "push"},
		}}}},
	})
}

// TestKeylessReleaseEndToEnd: an image pipeline release pushed (signed with the release key)
// also carries a keyless signature and attestations made by an offline test Sigstore for the
// release workflow's identity. With policy data that trusts only that identity, pipeline
// verify and pipeline admit admit it through their real command lines, naming the identity,
// and the stock cosign CLI verifies the same material with the same trusted root.
func TestKeylessReleaseEndToEnd(t *testing.T) {
	w := newSCWorld(t)
	ctl := w.controls(t, w.rev)
	img, _, code, stderr := w.release(t, "movies", "--controls", ctl, "--opa=false")
	if code != 0 {
		t.Fatalf("release exit %d\n%s", code, stderr)
	}
	out, root := filepath.Join(w.dir, "movies-out"), filepath.Join(w.dir, "trusted_root.json")
	preds := map[string]string{
		"https://spdx.dev/Document":                                           filepath.Join(out, "sbom.spdx.json"),
		"https://slsa.dev/provenance/v1":                                      filepath.Join(out, "provenance.json"),
		"https://cosign.sigstore.dev/attestation/vuln/v1":                     filepath.Join(out, "vuln.json"),
		"https://github.com/secure-movie-service/sms/attestation/controls/v1": ctl,
	}
	args := []string{"--root", root, "--image", img}
	for typ, file := range preds {
		args = append(args, "--predicate", typ+"="+file)
	}
	if _, stderr, code := scRun(t, w.root, binary(t, "./pipeline/internal/sigstoretest/keylessfixture"), args...); code != 0 {
		t.Fatalf("keylessfixture exit %d: %s", code, stderr)
	}
	data := w.identityTrust(t, releaseRegexp)

	t.Run("C-KEYLESS pipeline verify exits 0 on the identity alone, the key signature is information", func(t *testing.T) {
		out, stderr, code := scRun(t, w.root, w.pipeline, "verify", "--trusted-root", root, "--data", data, img)
		var r struct {
			AdmittedBy []struct {
				Identity struct{ Issuer, Subject string } `json:"identity"`
			} `json:"admitted_by"`
			Unverified []string `json:"unverified"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
			t.Fatalf("exit %d %v\n%s\n%s", code, err, out, stderr)
		}
		if len(r.AdmittedBy) != 1 || r.AdmittedBy[0].Identity.Subject != releaseSubject || r.AdmittedBy[0].Identity.Issuer != ghIssuer || len(r.Unverified) == 0 {
			t.Fatalf("report %+v", r)
		}
	})
	t.Run("C-KEYLESS pipeline admit allows and names the identity", func(t *testing.T) {
		out, stderr, code := scRun(t, w.root, w.pipeline, "admit", "--format", "json", "--trusted-root", root, "--data", data, "--image", img)
		var v struct {
			Allow      bool                        `json:"allow"`
			AdmittedBy map[string][]map[string]any `json:"admitted_by"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 || !v.Allow {
			t.Fatalf("exit %d %v\n%s\n%s", code, err, out, stderr)
		}
		if by := v.AdmittedBy[img]; len(by) != 1 || !strings.Contains(jsonString(t, by[0]), releaseSubject) {
			t.Fatalf("admitted by %v", v.AdmittedBy)
		}
	})
	t.Run("C-KEYLESS another subject's trust denies with IDENTITY_SUBJECT", func(t *testing.T) {
		other := w.identityTrust(t, `^https://github\.com/secure-movie-service/sms/\.github/workflows/deploy\.yml@refs/tags/v[0-9.]+$`)
		out, _, code := scRun(t, w.root, w.pipeline, "admit", "--format", "json", "--trusted-root", root, "--data", other, "--image", img)
		if code != 1 || !strings.Contains(out, `"IDENTITY_SUBJECT"`) {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if _, _, code := scRun(t, w.root, w.pipeline, "verify", "--trusted-root", root, "--data", other, img); code != 1 {
			t.Fatalf("verify exit %d, want 1", code)
		}
	})
	t.Run("stock cosign verifies the keyless material with the same trusted root", func(t *testing.T) {
		cosign := toolBinary(t, "cosign")
		id := []string{"--trusted-root", root, "--certificate-identity", releaseSubject, "--certificate-oidc-issuer", ghIssuer}
		if _, stderr, code := scRun(t, w.root, cosign, append(append([]string{"verify"}, id...), img)...); code != 0 {
			t.Fatalf("cosign verify exit %d: %s", code, stderr)
		}
		// cosign v2.6.5 takes --trusted-root for verify-attestation only with
		// --new-bundle-format (OCI referrers); for the tag-based .att layers it reads the same
		// trust from its SIGSTORE_* files, written here from the trusted root.
		env := legacyTrustEnv(t, root, w.dir)
		attID := []string{"--certificate-identity", releaseSubject, "--certificate-oidc-issuer", ghIssuer}
		if _, stderr, code := scRunEnv(t, env, w.root, cosign, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, attID...), img)...); code != 0 {
			t.Fatalf("cosign verify-attestation exit %d: %s", code, stderr)
		}
	})
}

// legacyTrustEnv writes the Fulcio certificates, Rekor key and CT log key of a trusted root
// as the PEM files cosign's SIGSTORE_ROOT_FILE, SIGSTORE_REKOR_PUBLIC_KEY and
// SIGSTORE_CT_LOG_PUBLIC_KEY_FILE name, and returns those variables.
func legacyTrustEnv(t *testing.T, rootPath, dir string) []string {
	t.Helper()
	tr, err := root.NewTrustedRootFromPath(rootPath)
	if err != nil {
		t.Fatal(err)
	}
	var certs []byte
	for _, ca := range tr.FulcioCertificateAuthorities() {
		fca, ok := ca.(*root.FulcioCertificateAuthority)
		if !ok {
			t.Fatalf("certificate authority %T", ca)
		}
		for _, c := range append([]*x509.Certificate{fca.Root}, fca.Intermediates...) {
			certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
	}
	pub := func(logs map[string]*root.TransparencyLog) []byte {
		var out []byte
		for _, l := range logs {
			der, err := x509.MarshalPKIXPublicKey(l.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
		}
		return out
	}
	files := map[string][]byte{"SIGSTORE_ROOT_FILE": certs, "SIGSTORE_REKOR_PUBLIC_KEY": pub(tr.RekorLogs()), "SIGSTORE_CT_LOG_PUBLIC_KEY_FILE": pub(tr.CTLogs())}
	var env []string
	for k, b := range files {
		p := filepath.Join(dir, strings.ToLower(k)+".pem")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		env = append(env, k+"="+p)
	}
	return env
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
