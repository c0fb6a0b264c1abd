package verify

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/sigstore/cosign/v2/pkg/types"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// TestReadAttestationRejectsMalformed: each malformed envelope or statement — including
// ones correctly signed by a key the verifier was given — is refused with an error saying
// what is wrong.
func TestReadAttestationRejectsMalformed(t *testing.T) {
	k, other := testkit.MustKey(t), testkit.MustKey(t)
	ks := []*keys.Verifier{k.Verifier}
	spdx := mustStatement(t, predicate.TypeSPDX, testkit.SPDX())
	signed := func(body string) []byte { return mustEnvelope(t, k, types.IntotoPayloadType, []byte(body)) }
	good := signed(string(spdx))
	if a, err := readAttestation(good, ks); err != nil || !a.Valid {
		t.Fatalf("the well-formed attestation: %+v %v", a, err)
	}
	st := string(spdx)
	tests := []struct {
		name    string
		env     []byte
		wantErr string
	}{
		{"empty", nil, "verified by none of the given keys"},
		{"not JSON", []byte("envelope"), "verified by none of the given keys"},
		{"signed by another key", mustEnvelope(t, other, types.IntotoPayloadType, spdx), "verified by none of the given keys"},
		{"signature over another payload", bytes.Replace(good, []byte(`"payload":"`), []byte(`"payload":"e30`), 1), "verified by none of the given keys"},
		{"payload not base64", bytes.Replace(good, []byte(`"payload":"`), []byte(`"payload":"*`), 1), "verified by none of the given keys"},
		{"no signatures", []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`), "verified by none of the given keys"},
		{"oversized", append(good, bytes.Repeat([]byte(" "), MaxEnvelope)...), "envelope of"},
		{"two payload keys", bytes.Replace(good, []byte(`"payload":`), []byte(`"payload":"e30=","payload":`), 1), `envelope: duplicate key "payload"`},
		{"another payload type", mustEnvelope(t, k, "application/vnd.example+json", spdx), `not an in-toto DSSE envelope (payloadType "application/vnd.example+json")`},
		{"statement not JSON", signed("statement"), "statement: invalid character"},
		{"statement is an array", signed("[]"), "statement: json: cannot unmarshal array"},
		{"statement with trailing data", signed(st + "{}"), "statement: trailing data"},
		{"statement with two subjects keys", signed(strings.Replace(st, `{`, `{"subject":[],`, 1)), `statement: duplicate key "subject"`},
		{"statement subject key in another case", signed(strings.Replace(st, `{`, `{"Subject":[],`, 1)), `statement: duplicate key "subject"`},
		{"not an in-toto statement", signed(strings.Replace(st, "https://in-toto.io/Statement/v1", "https://example.invalid/Statement", 1)), "not an in-toto statement"},
		{"no predicate type", signed(strings.Replace(st, predicate.TypeSPDX, "", 1)), "statement: no predicateType"},
		{"no predicate", signed(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` + strings.Repeat("a", 64) + `"}}],"predicateType":"x"}`), "statement: no predicate"},
		{"no subject", signed(`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}`), "statement: no subject"},
		{"subject without digest", signed(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x"}],"predicateType":"x","predicate":{}}`), "statement: subject 0 has no digest"},
		{"short sha256", signed(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"abc"}}],"predicateType":"x","predicate":{}}`), `subject 0 digest "sha256": "abc" is not a digest`},
		{"uppercase digest", signed(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` + strings.Repeat("A", 64) + `"}}],"predicateType":"x","predicate":{}}`), "is not a digest"},
		{"digest with a colon in the algorithm", signed(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256:aa":"aa"}}],"predicateType":"x","predicate":{}}`), "is not a digest"},
		{"subject digest not an object", signed(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":"sha256:aa"}],"predicateType":"x","predicate":{}}`), "statement: json: cannot unmarshal string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := readAttestation(tc.env, ks)
			if err == nil {
				t.Fatalf("accepted: %+v", a)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
	t.Run("a malformed predicate is kept, marked invalid", func(t *testing.T) {
		a, err := readAttestation(signed(string(mustStatement(t, predicate.TypeSPDX, []byte(`{"spdxVersion":"SPDX-2.2"}`)))), ks)
		if err != nil || a.Valid || a.Summary != nil || !strings.Contains(a.Error, "spdx:") {
			t.Fatalf("%+v %v", a, err)
		}
	})
}

// TestReadSignatureRejectsMalformed: each malformed cosign signature is refused with an error
// saying what is wrong.
func TestReadSignatureRejectsMalformed(t *testing.T) {
	k, other := testkit.MustKey(t), testkit.MustKey(t)
	ks := []*keys.Verifier{k.Verifier}
	good := mustCosignPayload(t)
	if s, err := readSignature(good, mustSignPayload(t, k, good), ks); err != nil || s.Digest != fuzzDigest {
		t.Fatalf("the well-formed signature: %+v %v", s, err)
	}
	withPayload := func(p string) ([]byte, string) { return []byte(p), mustSignPayload(t, k, []byte(p)) }
	tests := []struct {
		name    string
		payload []byte
		b64     string
		wantErr string
	}{
		{"signature not base64", good, "%%%", "signature is not base64"},
		{"signed by another key", good, mustSignPayload(t, other, good), "verified by none of the given keys"},
		{"signature over another payload", good, mustSignPayload(t, k, []byte("{}")), "verified by none of the given keys"},
		{"empty signature", good, "", "verified by none of the given keys"},
		{"oversized payload", bytes.Repeat([]byte(" "), MaxSignaturePayload+1), base64.StdEncoding.EncodeToString([]byte("sig")), "larger than"},
	}
	for _, p := range []struct{ name, payload, wantErr string }{
		{"payload not JSON", "payload", "payload: invalid character"},
		{"payload is null", "null", "payload is not a cosign simple-signing payload"},
		{"another type", strings.Replace(string(good), "cosign container image signature", "example signature", 1), "payload is not a cosign simple-signing payload"},
		{"two critical keys", strings.Replace(string(good), `{"critical":`, `{"critical":{},"critical":`, 1), `payload: duplicate key "critical"`},
		{"digest malformed", strings.Replace(string(good), fuzzDigest, "sha256:abc", 1), `payload names digest "sha256:abc"`},
		{"digest missing", strings.Replace(string(good), `"docker-manifest-digest"`, `"docker-manifest-digest-x"`, 1), `payload names digest ""`},
		{"trailing data", string(good) + "{}", "payload: trailing data"},
	} {
		payload, b64 := withPayload(p.payload)
		tests = append(tests, struct {
			name    string
			payload []byte
			b64     string
			wantErr string
		}{p.name, payload, b64, p.wantErr})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := readSignature(tc.payload, tc.b64, ks)
			if err == nil {
				t.Fatalf("accepted: %+v", s)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}

// TestImageFactsRejectsMalformed: manifests and configurations that do not parse, or are too
// large, are refused with an error naming which one.
func TestImageFactsRejectsMalformed(t *testing.T) {
	img := testkit.MustImage(t, "65532:65532")
	m, err := img.RawManifest()
	testkit.Must(t, err)
	c, err := img.RawConfigFile()
	testkit.Must(t, err)
	if cfg, _, err := imageFacts(m, c); err != nil || cfg.User != "65532:65532" {
		t.Fatalf("the well-formed image: %+v %v", cfg, err)
	}
	tests := []struct {
		name             string
		manifest, config string
		wantErr          string
	}{
		{"manifest not JSON", "manifest", string(c), "manifest: invalid character"},
		{"manifest empty", "", string(c), "manifest: EOF"},
		{"manifest annotations not strings", `{"annotations":{"a":1}}`, string(c), "manifest: json: cannot unmarshal number"},
		{"config not JSON", string(m), "config", "config: invalid character"},
		{"config user not a string", string(m), `{"config":{"User":0}}`, "config: json: cannot unmarshal number"},
		{"config created not a time", string(m), `{"created":"yesterday"}`, "config: parsing time"},
		{"config oversized", string(m), `{"x":"` + strings.Repeat("a", MaxConfig) + `"}`, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := imageFacts([]byte(tc.manifest), []byte(tc.config))
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}
