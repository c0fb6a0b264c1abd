package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/auth"
)

func TestParseJWKS(t *testing.T) {
	f := mustFixture(t)
	edPub := f.ed.Public().(ed25519.PublicKey)
	ed := edJWK(edPub, "k1")
	ec := ecJWK(&f.ec.PublicKey, "k2")
	ecBytes, err := f.ec.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	x, y := b64(ecBytes[1:33]), b64(ecBytes[33:])
	offCurve := slices.Clone(ecBytes[33:])
	offCurve[31] ^= 1
	keys := func(ks ...string) string { return `{"keys":[` + strings.Join(ks, ",") + `]}` }
	edWith := func(extra string) string {
		return `{"kty":"OKP","crv":"Ed25519","x":"` + b64(edPub) + `","kid":"k1"` + extra + `}`
	}
	tests := []struct {
		name string
		doc  string
		want string // error fragment; "" means valid
		kids []string
	}{
		{"Ed25519 and P-256", keys(ed, ec), "", []string{"k1", "k2"}},
		{"minimal Ed25519 key", keys(edWith("")), "", []string{"k1"}},
		{"unknown members ignored", `{"keys":[` + edWith(`,"key_ops":["verify"],"x5t":"abc"`) + `],"other":1}`, "", []string{"k1"}},

		{"not JSON", `keys`, "jwks: invalid character", nil},
		{"not an object", `[]`, "jwks: not a JSON object", nil},
		{"trailing data", keys(ed) + `{}`, "jwks: trailing data", nil},
		{"keys missing", `{}`, `jwks: missing "keys"`, nil},
		{"keys not an array", `{"keys":{}}`, `jwks: "keys" is not an array`, nil},
		{"keys null", `{"keys":null}`, `jwks: "keys" is not an array`, nil},
		{"no keys", `{"keys":[]}`, "jwks: no keys", nil},
		{"key not an object", `{"keys":["k1"]}`, "jwks: key #0: not an object", nil},
		{"duplicate member in the document", `{"keys":[],"keys":[` + ed + `]}`, `jwks: duplicate member "keys"`, nil},
		{"duplicate member in a key", keys(edWith(`,"kid":"k9"`)), `jwks: duplicate member "kid"`, nil},
		{"kid missing", keys(`{"kty":"OKP","crv":"Ed25519","x":"` + b64(edPub) + `"}`), `jwks: key #0: missing "kid"`, nil},
		{"kid not a string", keys(`{"kty":"OKP","crv":"Ed25519","x":"` + b64(edPub) + `","kid":7}`), `jwks: key #0: "kid": not a string`, nil},
		{"duplicate kid", keys(ed, edWith("")), `jwks: key "k1": duplicate kid`, nil},
		{"symmetric key", keys(`{"kty":"oct","k":"c2VjcmV0","kid":"k1","alg":"HS256"}`), `jwks: key "k1": kty "oct": symmetric keys are not accepted`, nil},
		{"Ed25519 private key", keys(edWith(`,"d":"` + b64(f.ed.Seed()) + `"`)), `jwks: key "k1": private key member "d" present`, nil},
		{"P-256 private key", keys(`{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `","d":"AAAA","kid":"k2"}`), `jwks: key "k2": private key member "d" present`, nil},
		{"RSA private key", keys(`{"kty":"RSA","n":"AQAB","e":"AQAB","p":"AQ","q":"AQ","kid":"r1"}`), `jwks: key "r1": private key member "p" present`, nil},
		{"RSA public key", keys(`{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r1"}`), `jwks: key "r1": unsupported kty "RSA"`, nil},
		{"unknown kty", keys(`{"kty":"XYZ","kid":"z"}`), `jwks: key "z": unsupported kty "XYZ"`, nil},
		{"kty missing", keys(`{"kid":"z"}`), `jwks: key "z": unsupported kty ""`, nil},
		{"X25519 is not a signing curve", keys(`{"kty":"OKP","crv":"X25519","x":"` + b64(edPub) + `","kid":"k1"}`), `jwks: key "k1": unsupported crv "X25519" for kty "OKP"`, nil},
		{"P-384 unsupported", keys(`{"kty":"EC","crv":"P-384","x":"` + x + `","y":"` + y + `","kid":"k2"}`), `jwks: key "k2": unsupported crv "P-384" for kty "EC"`, nil},
		{"alg mismatch on Ed25519", keys(edWith(`,"alg":"ES256"`)), `jwks: key "k1": "alg" is "ES256" but a Ed25519 key pins "EdDSA"`, nil},
		{"alg none on a key", keys(edWith(`,"alg":"none"`)), `jwks: key "k1": "alg" is "none"`, nil},
		{"alg HS256 on a P-256 key", keys(`{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `","kid":"k2","alg":"HS256"}`), `jwks: key "k2": "alg" is "HS256"`, nil},
		{"use enc", keys(edWith(`,"use":"enc"`)), `jwks: key "k1": "use" is "enc", want "sig"`, nil},
		{"x missing", keys(`{"kty":"OKP","crv":"Ed25519","kid":"k1"}`), `jwks: key "k1": missing "x"`, nil},
		{"x too short", keys(`{"kty":"OKP","crv":"Ed25519","x":"` + b64(edPub[:31]) + `","kid":"k1"}`), `jwks: key "k1": "x" is 31 bytes, want 32`, nil},
		{"x padded base64", keys(`{"kty":"OKP","crv":"Ed25519","x":"` + b64(edPub) + `=","kid":"k1"}`), `jwks: key "k1": "x": invalid base64url character`, nil},
		{"x not a string", keys(`{"kty":"OKP","crv":"Ed25519","x":1,"kid":"k1"}`), `jwks: key "k1": "x": not a string`, nil},
		{"P-256 y missing", keys(`{"kty":"EC","crv":"P-256","x":"` + x + `","kid":"k2"}`), `jwks: key "k2": missing "y"`, nil},
		{"P-256 point not on the curve", keys(`{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + b64(offCurve) + `","kid":"k2"}`), `jwks: key "k2": invalid P-256 point`, nil},
		{"P-256 point at zero", keys(`{"kty":"EC","crv":"P-256","x":"` + b64(make([]byte, 32)) + `","y":"` + b64(make([]byte, 32)) + `","kid":"k2"}`), `jwks: key "k2": invalid P-256 point`, nil},
		{"document too large", `{"keys":[` + ed + `],"pad":"` + strings.Repeat("x", 1<<20) + `"}`, "jwks: document larger than", nil},
	}
	for _, tc := range tests {
		name := "C-AUTHN jwks " + tc.name
		if tc.want != "" {
			name += " rejected"
		}
		t.Run(name, func(t *testing.T) {
			ks, err := auth.ParseJWKS([]byte(tc.doc))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := ks.KeyIDs(); !slices.Equal(got, tc.kids) || ks.Len() != len(tc.kids) {
					t.Fatalf("KeyIDs = %q, Len = %d, want %q", got, ks.Len(), tc.kids)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseJWKS accepted the document; want an error with %q", tc.want)
			}
			if ks != nil {
				t.Fatal("ParseJWKS returned a key set with an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
		})
	}
}

func TestLoadJWKS(t *testing.T) {
	f := mustFixture(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(good, f.jwks, 0o644); err != nil {
		t.Fatal(err)
	}
	ks, err := auth.LoadJWKS(good)
	if err != nil || ks.Len() != 2 {
		t.Fatalf("LoadJWKS = %v, %v", ks, err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"keys":[{"kty":"oct","k":"AA","kid":"s"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.LoadJWKS(bad); err == nil || !strings.Contains(err.Error(), bad+`: jwks: key "s"`) {
		t.Fatalf("LoadJWKS(bad) error = %v; want it to name the file and the key", err)
	}
	if _, err := auth.LoadJWKS(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("LoadJWKS(missing) error = %v", err)
	}
	huge := filepath.Join(dir, "huge.json")
	if err := os.WriteFile(huge, []byte(strings.Repeat(" ", 2<<20)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.LoadJWKS(huge); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("LoadJWKS(huge) error = %v", err)
	}
}

func TestMarshalJWKSRoundTrip(t *testing.T) {
	f := mustFixture(t)
	doc, err := auth.MarshalJWKS(map[string]crypto.PublicKey{"a": f.ed.Public(), "b": &f.ec.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := auth.ParseJWKS(doc)
	if err != nil {
		t.Fatalf("ParseJWKS(MarshalJWKS(…)): %v\n%s", err, doc)
	}
	if got := ks.KeyIDs(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("KeyIDs = %q", got)
	}
	// Tokens signed by the private halves verify against the marshalled set.
	v, err := auth.NewVerifier(auth.Config{Keys: ks, Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	claims := map[string]any{"iss": testIssuer, "aud": testAudience, "sub": "s", "iat": now, "exp": now + 3600}
	for kid, key := range map[string]crypto.Signer{"a": f.ed, "b": f.ec} {
		tok, err := auth.Sign(key, kid, claims)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(auth.Token(tok)); err != nil {
			t.Fatalf("kid %s: %v", kid, err)
		}
	}
	if _, err := auth.MarshalJWKS(map[string]crypto.PublicKey{"a": "not a key"}); err == nil {
		t.Fatal("MarshalJWKS accepted a non-key")
	}
}

func TestThumbprint(t *testing.T) {
	// RFC 8037 appendix A.3.
	x := "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	pub, err := base64.RawURLEncoding.DecodeString(x)
	if err != nil {
		t.Fatal(err)
	}
	got, err := auth.Thumbprint(ed25519.PublicKey(pub))
	if err != nil {
		t.Fatal(err)
	}
	if want := "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Fatalf("Thumbprint = %s, want %s", got, want)
	}
	f := mustFixture(t)
	a, err := auth.Thumbprint(&f.ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := auth.Thumbprint(&f.attackEC.PublicKey)
	if err != nil || a == b || len(a) != 43 {
		t.Fatalf("P-256 thumbprints %q, %q, %v", a, b, err)
	}
	if _, err := auth.Thumbprint(&ecdsa.PublicKey{}); err == nil {
		t.Fatal("Thumbprint accepted a key without a curve")
	}
}
