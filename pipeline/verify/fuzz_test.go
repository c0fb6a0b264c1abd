package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	sigpayload "github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/sign"
)

// The registry serves every byte verify reads: signature payloads, DSSE envelopes and the
// statements inside them, image manifests and configurations. The fuzz targets below feed
// each parser arbitrary bytes — unsigned, and signed by a key the verifier is given, since
// an attacker may hold such a key — and check that none panics and that whatever is
// accepted is well formed.

const fuzzDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func mustRef(tb testing.TB) name.Digest {
	tb.Helper()
	d, err := name.NewDigest("registry.example/acme/movies@" + fuzzDigest)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// mustSignPayload signs a simple-signing payload as cosign does: the base64 signature.
func mustSignPayload(tb testing.TB, k *testkit.Key, payload []byte) string {
	tb.Helper()
	sig, err := k.Signer.SignMessage(bytes.NewReader(payload))
	if err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// mustEnvelope wraps body in a DSSE envelope signed by k.
func mustEnvelope(tb testing.TB, k *testkit.Key, payloadType string, body []byte) []byte {
	tb.Helper()
	env, err := dsse.WrapSigner(k.Signer, payloadType).SignMessage(bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	return env
}

func mustStatement(tb testing.TB, predicateType string, pred []byte) []byte {
	tb.Helper()
	st, err := sign.NewStatement(mustRef(tb), predicateType, pred)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustCosignPayload(tb testing.TB) []byte {
	tb.Helper()
	b, err := sigpayload.Cosign{Image: mustRef(tb)}.MarshalJSON()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func statementSeeds(tb testing.TB) [][]byte {
	return [][]byte{
		mustStatement(tb, predicate.TypeSPDX, testkit.SPDX()),
		mustStatement(tb, predicate.TypeCycloneDX, testkit.CycloneDX()),
		mustStatement(tb, predicate.TypeProvenance, testkit.Provenance(testkit.SourceRepository, testkit.Revision)),
		mustStatement(tb, predicate.TypeControls, testkit.Controls(testkit.Revision)),
		mustStatement(tb, "https://example.invalid/other", []byte(`{"a":1}`)),
	}
}

var digestShape = regexp.MustCompile(`^[a-z0-9]+:[0-9a-f]+$`)

// checkAttestation is what every accepted attestation must satisfy.
func checkAttestation(t *testing.T, a Attestation, k *testkit.Key) {
	t.Helper()
	if a.KeyID != k.Signer.ID || a.PredicateType == "" || len(a.Subjects) == 0 {
		t.Fatalf("accepted attestation %+v", a)
	}
	for _, s := range a.Subjects {
		if !digestShape.MatchString(s.Digest) {
			t.Fatalf("subject digest %q", s.Digest)
		}
	}
	if a.Valid != (a.Summary != nil) || a.Valid == (a.Error != "") {
		t.Fatalf("valid %v, summary %v, error %q", a.Valid, a.Summary, a.Error)
	}
}

// FuzzEnvelope: arbitrary envelope bytes as the registry serves them.
func FuzzEnvelope(f *testing.F) {
	k := testkit.MustKey(f)
	ks := []*keys.Verifier{k.Verifier}
	for _, st := range statementSeeds(f) {
		env := mustEnvelope(f, k, types.IntotoPayloadType, st)
		f.Add(env)
		f.Add(bytes.Replace(env, []byte(`"payload"`), []byte(`"payload":"e30=","payload"`), 1))
	}
	for _, s := range []string{"", "{}", "null", `{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AAAA"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, env []byte) {
		a, err := readAttestation(env, ks)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		checkAttestation(t, a, k)
	})
}

// FuzzStatement: arbitrary statements, correctly signed by a key the verifier was given.
func FuzzStatement(f *testing.F) {
	k := testkit.MustKey(f)
	ks := []*keys.Verifier{k.Verifier}
	for _, st := range statementSeeds(f) {
		f.Add(st)
	}
	for _, s := range []string{"", "{}", `{"_type":"https://in-toto.io/Statement/v1","subject":[]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := readAttestation(mustEnvelope(t, k, types.IntotoPayloadType, body), ks)
		if err != nil {
			return
		}
		checkAttestation(t, a, k)
		if !json.Valid(body) || predicate.Unambiguous(body) != nil {
			t.Fatalf("accepted an ambiguous or invalid statement %q", body)
		}
	})
}

// FuzzSignaturePayload: arbitrary simple-signing payloads, correctly signed.
func FuzzSignaturePayload(f *testing.F) {
	k := testkit.MustKey(f)
	ks := []*keys.Verifier{k.Verifier}
	good := mustCosignPayload(f)
	f.Add(good, false)
	f.Add(bytes.Replace(good, []byte(`"critical"`), []byte(`"critical":{},"critical"`), 1), false)
	f.Add([]byte(`{"critical":{"type":"cosign container image signature","image":{"docker-manifest-digest":"sha256:x"}}}`), false)
	f.Add(good, true)
	f.Fuzz(func(t *testing.T, payload []byte, corrupt bool) {
		b64 := mustSignPayload(t, k, payload)
		if corrupt {
			b64 = strings.ToLower(b64)
		}
		s, err := readSignature(payload, b64, ks)
		if err != nil {
			return
		}
		if !sha256Digest.MatchString(s.Digest) || s.KeyID != k.Signer.ID {
			t.Fatalf("accepted signature %+v", s)
		}
		if predicate.Unambiguous(payload) != nil {
			t.Fatalf("accepted an ambiguous payload %q", payload)
		}
	})
}

// FuzzImageConfig: arbitrary manifest and configuration bytes.
func FuzzImageConfig(f *testing.F) {
	img := testkit.MustImage(f, "65532:65532")
	m, err := img.RawManifest()
	testkit.Must(f, err)
	c, err := img.RawConfigFile()
	testkit.Must(f, err)
	f.Add(m, c)
	f.Add([]byte("{}"), []byte("{}"))
	f.Add([]byte(`{"annotations":{"a":"b"}}`), []byte(`{"config":{"User":"0","Entrypoint":null},"created":"x"}`))
	f.Fuzz(func(t *testing.T, manifest, config []byte) {
		cfg, ann, err := imageFacts(manifest, config)
		if err != nil {
			return
		}
		if cfg.Entrypoint == nil || ann == nil {
			t.Fatalf("nil entrypoint or annotations: %+v %v", cfg, ann)
		}
	})
}
