package tests

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// identityProvider is the test's token issuer: a key generated in the
// test, its JWKS on disk for the server, and a minter written against the
// JWS spec (not against the service's code).
type identityProvider struct {
	priv             ed25519.PrivateKey
	pub              ed25519.PublicKey
	kid              string
	jwksPath         string
	issuer, audience string
}

func newIdentityProvider(tb testing.TB) *identityProvider {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	id := &identityProvider{priv: priv, pub: pub, kid: "test-key-1", issuer: "https://idp.test", audience: "movies-api"}
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "OKP", "crv": "Ed25519", "kid": id.kid, "alg": "EdDSA", "use": "sig",
		"x": b64(pub),
	}}})
	id.jwksPath = filepath.Join(tb.TempDir(), "jwks.json")
	writeFile(tb, id.jwksPath, jwks, 0o644)
	return id
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jsonB64(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b64(b)
}

// claims returns valid claims for sub with roles, valid for an hour.
func (id *identityProvider) claims(sub string, roles ...string) map[string]any {
	now := time.Now()
	if roles == nil {
		roles = []string{}
	}
	return map[string]any{"iss": id.issuer, "aud": id.audience, "sub": sub, "roles": roles,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// sign signs header.claims with the provider's key.
func (id *identityProvider) sign(tb testing.TB, header, claims map[string]any) string {
	tb.Helper()
	input := jsonB64(tb, header) + "." + jsonB64(tb, claims)
	return input + "." + b64(ed25519.Sign(id.priv, []byte(input)))
}

func (id *identityProvider) header() map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": id.kid}
}

// token mints a valid token for sub with roles.
func (id *identityProvider) token(tb testing.TB, sub string, roles ...string) string {
	tb.Helper()
	return id.sign(tb, id.header(), id.claims(sub, roles...))
}

// attacks returns forged or invalid tokens, each named for the attack.
func (id *identityProvider) attacks(tb testing.TB) map[string]string {
	tb.Helper()
	with := func(k string, v any) map[string]any {
		c := id.claims("admin", "admin")
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	admin := id.claims("admin", "admin")
	now := time.Now()

	none := jsonB64(tb, map[string]any{"alg": "none", "kid": id.kid}) + "." + jsonB64(tb, admin) + "."

	hsInput := jsonB64(tb, map[string]any{"alg": "HS256", "kid": id.kid}) + "." + jsonB64(tb, admin)
	mac := hmac.New(sha256.New, id.pub)
	mac.Write([]byte(hsInput))
	hs256 := hsInput + "." + b64(mac.Sum(nil))

	valid := id.sign(tb, id.header(), id.claims("viewer", "viewer"))
	parts := strings.Split(valid, ".")
	edited := parts[0] + "." + jsonB64(tb, admin) + "." + parts[2]

	_, attackerKey, _ := ed25519.GenerateKey(rand.Reader)
	attacker := &identityProvider{priv: attackerKey}
	embedded := attacker.sign(tb, map[string]any{"alg": "EdDSA", "kid": id.kid,
		"jwk": map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(attackerKey.Public().(ed25519.PublicKey))}}, admin)
	jku := attacker.sign(tb, map[string]any{"alg": "EdDSA", "kid": "evil", "jku": "http://127.0.0.1:1/jwks.json"}, admin)

	big := with("pad", strings.Repeat("x", 9<<10)) // over the 8 KiB token limit, under the 16 KiB header limit

	return map[string]string{
		"alg none":                           none,
		"HS256 signed with the public key":   hs256,
		"unknown kid":                        id.sign(tb, map[string]any{"alg": "EdDSA", "kid": "other"}, admin),
		"missing kid":                        id.sign(tb, map[string]any{"alg": "EdDSA"}, admin),
		"expired":                            id.sign(tb, id.header(), with("exp", now.Add(-time.Hour).Unix())),
		"no exp":                             id.sign(tb, id.header(), with("exp", nil)),
		"not yet valid":                      id.sign(tb, id.header(), with("nbf", now.Add(time.Hour).Unix())),
		"issued in the future":               id.sign(tb, id.header(), with("iat", now.Add(time.Hour).Unix())),
		"wrong audience":                     id.sign(tb, id.header(), with("aud", "other-api")),
		"wrong issuer":                       id.sign(tb, id.header(), with("iss", "https://evil.test")),
		"no issuer":                          id.sign(tb, id.header(), with("iss", nil)),
		"payload edited, old signature":      edited,
		"signed by attacker, key in jwk":     embedded,
		"signed by attacker, key behind jku": jku,
		"unknown crit header":                id.sign(tb, map[string]any{"alg": "EdDSA", "kid": id.kid, "crit": []string{"exp"}}, admin),
		"oversized":                          id.sign(tb, id.header(), big),
		"signature stripped":                 parts[0] + "." + parts[1] + ".",
		"signature of another token":         id.sign(tb, id.header(), admin)[:len(hsInput)/2] + "." + parts[2],
	}
}
