package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/auth"
)

const (
	testIssuer   = "https://issuer.test"
	testAudience = "movies-api"
	edKid        = "ed-1"
	ecKid        = "ec-1"
)

// testNow is the fixed clock of the tests: 2023-11-14T22:13:20Z.
var testNow = time.Unix(1_700_000_000, 0)

// fixture holds the configured keys (fixed, so fuzz seeds stay valid) and an
// attacker's keys that are in no configured set.
type fixture struct {
	ed       ed25519.PrivateKey
	ec       *ecdsa.PrivateKey
	attacker ed25519.PrivateKey
	attackEC *ecdsa.PrivateKey
	jwks     []byte
	keys     *auth.KeySet
}

func mustFixture(tb testing.TB) *fixture {
	tb.Helper()
	seed := sha256.Sum256([]byte("auth test ed25519"))
	ecRaw := sha256.Sum256([]byte("auth test p256"))
	ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), ecRaw[:])
	if err != nil {
		tb.Fatal(err)
	}
	attackSeed := sha256.Sum256([]byte("attacker ed25519"))
	attackEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{
		ed:       ed25519.NewKeyFromSeed(seed[:]),
		ec:       ec,
		attacker: ed25519.NewKeyFromSeed(attackSeed[:]),
		attackEC: attackEC,
	}
	f.jwks = []byte(fmt.Sprintf(`{"keys":[%s,%s]}`, edJWK(f.ed.Public().(ed25519.PublicKey), edKid), ecJWK(&f.ec.PublicKey, ecKid)))
	if f.keys, err = auth.ParseJWKS(f.jwks); err != nil {
		tb.Fatal(err)
	}
	return f
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// seg encodes a JSON text as a token segment.
func seg(s string) string { return b64([]byte(s)) }

func edJWK(pub ed25519.PublicKey, kid string) string {
	return fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q,"kid":%q,"alg":"EdDSA","use":"sig"}`, b64(pub), kid)
}

func ecJWK(pub *ecdsa.PublicKey, kid string) string {
	b, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":%q,"y":%q,"kid":%q,"alg":"ES256","use":"sig"}`, b64(b[1:33]), b64(b[33:]), kid)
}

// mustVerifier returns a verifier over f's keys at testNow, changed by mods.
func mustVerifier(tb testing.TB, f *fixture, mods ...func(*auth.Config)) *auth.Verifier {
	tb.Helper()
	cfg := auth.Config{
		Keys:     f.keys,
		Issuer:   testIssuer,
		Audience: testAudience,
		Now:      func() time.Time { return testNow },
	}
	for _, m := range mods {
		m(&cfg)
	}
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// payload returns the JSON of valid claims at testNow, changed by mod (which
// may delete members).
func payload(mod func(map[string]any)) string {
	now := testNow.Unix()
	m := map[string]any{
		"iss":   testIssuer,
		"aud":   testAudience,
		"sub":   "alice",
		"roles": []string{"editor"},
		"iat":   now - 60,
		"nbf":   now - 60,
		"exp":   now + 3600,
	}
	if mod != nil {
		mod(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// edHeader is a valid header for the configured Ed25519 key.
const edHeader = `{"alg":"EdDSA","kid":"ed-1","typ":"JWT"}`

// ecHeader is a valid header for the configured P-256 key.
const ecHeader = `{"alg":"ES256","kid":"ec-1","typ":"JWT"}`

// edToken signs header and payload JSON texts with an Ed25519 key.
func edToken(key ed25519.PrivateKey, header, payload string) string {
	in := seg(header) + "." + seg(payload)
	return in + "." + b64(ed25519.Sign(key, []byte(in)))
}

// ecToken signs header and payload with a P-256 key, as raw r||s or, when
// der is set, as the ASN.1 DER that JWS forbids.
func ecToken(tb testing.TB, key *ecdsa.PrivateKey, header, payload string, der bool) string {
	tb.Helper()
	in := seg(header) + "." + seg(payload)
	digest := sha256.Sum256([]byte(in))
	if der {
		sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		if err != nil {
			tb.Fatal(err)
		}
		return in + "." + b64(sig)
	}
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + b64(sig)
}

// hmacToken signs header and payload with HMAC, as an attacker who uses
// public key material as the secret would.
func hmacToken(h func() hash.Hash, secret []byte, header, payload string) string {
	in := seg(header) + "." + seg(payload)
	mac := hmac.New(h, secret)
	mac.Write([]byte(in))
	return in + "." + b64(mac.Sum(nil))
}
