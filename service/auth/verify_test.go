package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/auth"
)

// attack is a token the verifier must reject, and a fragment of the reason
// it must give: the reason pins the check that catches the attack, so each
// case fails if that check is removed even when a later one would still
// reject the token.
type attack struct {
	name  string
	token func(testing.TB, *fixture) string
	why   string
}

// attacks lists every token attack the verifier answers. FuzzVerify uses
// them as seeds.
func attacks() []attack {
	now := testNow.Unix()
	leeway := int64(auth.DefaultLeeway / time.Second)
	ed := func(header, payload string) func(testing.TB, *fixture) string {
		return func(_ testing.TB, f *fixture) string { return edToken(f.ed, header, payload) }
	}
	valid := func(_ testing.TB, f *fixture) string { return edToken(f.ed, edHeader, payload(nil)) }
	set := func(k string, v any) string { return payload(func(m map[string]any) { m[k] = v }) }
	del := func(k string) string { return payload(func(m map[string]any) { delete(m, k) }) }
	return []attack{
		// Algorithm: none, HMAC, and algorithms the key does not pin.
		{"alg none unsigned", func(_ testing.TB, f *fixture) string {
			return seg(`{"alg":"none","kid":"ed-1"}`) + "." + seg(payload(nil)) + "."
		}, "part 3 is empty"},
		{"alg none with a real signature", ed(`{"alg":"none","kid":"ed-1"}`, payload(nil)), `alg "none" not allowed`},
		{"alg None mixed case", ed(`{"alg":"None","kid":"ed-1"}`, payload(nil)), `alg "None" not allowed`},
		{"HS256 signed with the Ed25519 public key bytes as secret", func(_ testing.TB, f *fixture) string {
			return hmacToken(sha256.New, f.ed.Public().(ed25519.PublicKey), `{"alg":"HS256","kid":"ed-1"}`, payload(nil))
		}, `alg "HS256" not allowed`},
		{"HS256 signed with the JWKS document as secret", func(_ testing.TB, f *fixture) string {
			return hmacToken(sha256.New, f.jwks, `{"alg":"HS256","kid":"ed-1"}`, payload(nil))
		}, `alg "HS256" not allowed`},
		{"HS512 signed with the P-256 public key PEM as secret", func(tb testing.TB, f *fixture) string {
			der, err := x509.MarshalPKIXPublicKey(&f.ec.PublicKey)
			if err != nil {
				tb.Fatal(err)
			}
			secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			return hmacToken(sha512.New, secret, `{"alg":"HS512","kid":"ec-1"}`, payload(nil))
		}, `alg "HS512" not allowed`},
		{"RS256 header on an Ed25519 key", ed(`{"alg":"RS256","kid":"ed-1"}`, payload(nil)), `alg "RS256" not allowed`},
		{"PS256 header on an Ed25519 key", ed(`{"alg":"PS256","kid":"ed-1"}`, payload(nil)), `alg "PS256" not allowed`},
		{"ES256 header on an Ed25519 key", func(tb testing.TB, f *fixture) string {
			return ecToken(tb, f.ec, `{"alg":"ES256","kid":"ed-1"}`, payload(nil), false)
		}, `alg "ES256" not allowed`},
		{"EdDSA header on a P-256 key", ed(`{"alg":"EdDSA","kid":"ec-1"}`, payload(nil)), `alg "EdDSA" not allowed`},
		{"alg lower case", ed(`{"alg":"eddsa","kid":"ed-1"}`, payload(nil)), `alg "eddsa" not allowed`},
		{"alg missing", ed(`{"kid":"ed-1"}`, payload(nil)), `missing "alg"`},
		{"alg not a string", ed(`{"alg":["EdDSA"],"kid":"ed-1"}`, payload(nil)), `"alg": not a string`},

		// Key selection: only kid, only in the configured set.
		{"unknown kid signed by attacker key", func(_ testing.TB, f *fixture) string {
			return edToken(f.attacker, `{"alg":"EdDSA","kid":"attacker"}`, payload(nil))
		}, `unknown kid "attacker"`},
		{"kid missing", ed(`{"alg":"EdDSA"}`, payload(nil)), `missing "kid"`},
		{"kid empty", ed(`{"alg":"EdDSA","kid":""}`, payload(nil)), `empty "kid"`},
		{"kid not a string", ed(`{"alg":"EdDSA","kid":1}`, payload(nil)), `"kid": not a string`},
		{"known kid signed by attacker key", func(_ testing.TB, f *fixture) string {
			return edToken(f.attacker, edHeader, payload(nil))
		}, "bad signature"},
		{"jku pointing at attacker JWKS with attacker kid", func(_ testing.TB, f *fixture) string {
			return edToken(f.attacker, `{"alg":"EdDSA","kid":"attacker","jku":"https://evil.test/jwks.json"}`, payload(nil))
		}, `unknown kid "attacker"`},
		{"jku pointing at attacker JWKS with known kid", func(_ testing.TB, f *fixture) string {
			return edToken(f.attacker, `{"alg":"EdDSA","kid":"ed-1","jku":"https://evil.test/jwks.json"}`, payload(nil))
		}, "bad signature"},
		{"x5u pointing at attacker certificate", func(_ testing.TB, f *fixture) string {
			return edToken(f.attacker, `{"alg":"EdDSA","kid":"ed-1","x5u":"https://evil.test/cert.pem"}`, payload(nil))
		}, "bad signature"},
		{"jwk header embedding attacker key with its own kid", func(_ testing.TB, f *fixture) string {
			h := fmt.Sprintf(`{"alg":"EdDSA","kid":"attacker","jwk":%s}`, edJWK(f.attacker.Public().(ed25519.PublicKey), "attacker"))
			return edToken(f.attacker, h, payload(nil))
		}, `unknown kid "attacker"`},
		{"jwk header embedding attacker key with known kid", func(_ testing.TB, f *fixture) string {
			h := fmt.Sprintf(`{"alg":"EdDSA","kid":"ed-1","jwk":%s}`, edJWK(f.attacker.Public().(ed25519.PublicKey), "ed-1"))
			return edToken(f.attacker, h, payload(nil))
		}, "bad signature"},
		{"jwk header embedding attacker P-256 key", func(tb testing.TB, f *fixture) string {
			h := fmt.Sprintf(`{"alg":"ES256","kid":"ec-1","jwk":%s}`, ecJWK(&f.attackEC.PublicKey, "ec-1"))
			return ecToken(tb, f.attackEC, h, payload(nil), false)
		}, "bad signature"},
		{"x5c header with attacker chain", func(_ testing.TB, f *fixture) string {
			return edToken(f.attacker, `{"alg":"EdDSA","kid":"ed-1","x5c":["MIIB"]}`, payload(nil))
		}, "bad signature"},

		// Header extensions and type.
		{"crit with an unknown extension", ed(`{"alg":"EdDSA","kid":"ed-1","crit":["exp"],"exp":1}`, payload(nil)), `"crit" present`},
		{"crit b64 false", ed(`{"alg":"EdDSA","kid":"ed-1","crit":["b64"],"b64":false}`, payload(nil)), `"crit" present`},
		{"crit empty list", ed(`{"alg":"EdDSA","kid":"ed-1","crit":[]}`, payload(nil)), `"crit" present`},
		{"typ of another token kind", ed(`{"alg":"EdDSA","kid":"ed-1","typ":"dpop+jwt"}`, payload(nil)), `"typ" "dpop+jwt" not accepted`},
		{"typ not a string", ed(`{"alg":"EdDSA","kid":"ed-1","typ":null}`, payload(nil)), `"typ": not a string`},

		// Registered claims.
		{"expired", ed(edHeader, set("exp", now-leeway-1)), "expired"},
		{"expired exactly at exp plus leeway", ed(edHeader, set("exp", now-leeway)), "expired"},
		{"not yet valid", ed(edHeader, set("nbf", now+leeway+1)), "not valid before"},
		{"iat in the future", ed(edHeader, set("iat", now+leeway+1)), "issued in the future"},
		{"C-AUTHN no iat", ed(edHeader, del("iat")), `missing "iat"`},
		{"C-AUTHN exp in year 9999", ed(edHeader, set("exp", int64(253402300799))), "exceeds the maximum"},
		{"C-AUTHN lifetime one second over 24h", ed(edHeader, set("exp", now-60+24*3600+1)), "exceeds the maximum"},
		{"wrong aud", ed(edHeader, set("aud", "other-api")), "aud does not contain"},
		{"wrong aud in array", ed(edHeader, set("aud", []string{"other-api", "x"})), "aud does not contain"},
		{"aud missing", ed(edHeader, del("aud")), `missing "aud"`},
		{"aud array with a non-string", ed(edHeader, set("aud", []any{"movies-api", 1})), `"aud": array element is not a string`},
		{"aud null", ed(edHeader, set("aud", nil)), `"aud": not a string`},
		{"wrong iss", ed(edHeader, set("iss", "https://evil.test")), `iss "https://evil.test" is not the configured issuer`},
		{"iss missing", ed(edHeader, del("iss")), `missing "iss"`},
		{"iss in another case stands in for nothing", ed(edHeader, payload(func(m map[string]any) {
			delete(m, "iss")
			m["ISS"] = testIssuer
		})), `missing "iss"`},
		{"exp missing", ed(edHeader, del("exp")), `missing "exp"`},
		{"exp a string", ed(edHeader, set("exp", fmt.Sprint(now+3600))), `"exp" is not a number`},
		{"exp null", ed(edHeader, set("exp", nil)), `"exp" is not a number`},
		{"exp beyond year 9999", ed(edHeader, set("exp", 1e300)), `"exp" is out of range`},
		{"nbf negative", ed(edHeader, set("nbf", -1)), `"nbf" is out of range`},
		{"sub missing", ed(edHeader, del("sub")), `missing "sub"`},
		{"sub empty", ed(edHeader, set("sub", "")), `empty "sub"`},
		{"sub not a string", ed(edHeader, set("sub", 42)), `"sub": not a string`},
		{"roles a string", ed(edHeader, set("roles", "admin")), `"roles": not an array`},
		{"roles with a non-string", ed(edHeader, set("roles", []any{"viewer", true})), `"roles": array element is not a string`},

		// Integrity: any edit after signing.
		{"payload edited with the old signature", func(_ testing.TB, f *fixture) string {
			parts := strings.Split(edToken(f.ed, edHeader, payload(nil)), ".")
			parts[1] = seg(payload(func(m map[string]any) { m["roles"] = []string{"admin"} }))
			return strings.Join(parts, ".")
		}, "bad signature"},
		{"header edited with the old signature", func(_ testing.TB, f *fixture) string {
			parts := strings.Split(edToken(f.ed, edHeader, payload(nil)), ".")
			parts[0] = seg(`{"alg":"EdDSA","kid":"ed-1","typ":"at+jwt"}`)
			return strings.Join(parts, ".")
		}, "bad signature"},
		{"signature bit flipped", func(tb testing.TB, f *fixture) string {
			tok := edToken(f.ed, edHeader, payload(nil))
			i := strings.LastIndexByte(tok, '.') + 1
			c := "B"
			if tok[i] == 'B' {
				c = "C"
			}
			return tok[:i] + c + tok[i+1:]
		}, "bad signature"},
		{"ES256 with an ASN.1 DER signature", func(tb testing.TB, f *fixture) string {
			return ecToken(tb, f.ec, ecHeader, payload(nil), true)
		}, "want 64 (raw r||s)"},
		{"ES256 with r and s swapped", func(tb testing.TB, f *fixture) string {
			tok := ecToken(tb, f.ec, ecHeader, payload(nil), false)
			i := strings.LastIndexByte(tok, '.')
			sig := mustDecode(tb, tok[i+1:])
			return tok[:i+1] + b64(append(sig[32:], sig[:32]...))
		}, "bad signature"},
		{"ES256 with a zero signature", func(tb testing.TB, f *fixture) string {
			tok := ecToken(tb, f.ec, ecHeader, payload(nil), false)
			return tok[:strings.LastIndexByte(tok, '.')+1] + b64(make([]byte, 64))
		}, "bad signature"},
		{"EdDSA signature truncated", func(tb testing.TB, f *fixture) string {
			tok := edToken(f.ed, edHeader, payload(nil))
			i := strings.LastIndexByte(tok, '.')
			return tok[:i+1] + b64(mustDecode(tb, tok[i+1:])[:62])
		}, "EdDSA signature is 62 bytes"},
		{"signature text truncated", func(_ testing.TB, f *fixture) string {
			tok := edToken(f.ed, edHeader, payload(nil))
			return tok[:len(tok)-3]
		}, "signature: illegal base64 data"},

		// Size and framing.
		{"oversized token", func(_ testing.TB, f *fixture) string {
			return edToken(f.ed, edHeader, set("pad", strings.Repeat("x", auth.DefaultMaxTokenBytes)))
		}, "limit 8192"},
		{"two parts", func(_ testing.TB, f *fixture) string {
			tok := edToken(f.ed, edHeader, payload(nil))
			return tok[:strings.LastIndexByte(tok, '.')]
		}, "2 parts, want 3"},
		{"four parts", func(_ testing.TB, f *fixture) string { return valid(nil, f) + ".e30" }, "4 parts, want 3"},
		{"JWE-like five parts", func(_ testing.TB, f *fixture) string { return valid(nil, f) + ".a.b" }, "4 parts, want 3"},
		{"empty header part", func(_ testing.TB, f *fixture) string {
			tok := valid(nil, f)
			return tok[strings.IndexByte(tok, '.'):]
		}, "part 1 is empty"},
		{"empty token", func(testing.TB, *fixture) string { return "" }, "1 parts, want 3"},
		{"padded base64 signature", func(_ testing.TB, f *fixture) string { return valid(nil, f) + "==" }, "invalid base64url character"},
		{"standard alphabet base64 header", func(_ testing.TB, f *fixture) string {
			tok := edToken(f.ed, `{"alg":"EdDSA","kid":"ed-1","x":"~~~"}`, payload(nil))
			if !strings.ContainsAny(tok[:strings.IndexByte(tok, '.')], "-_") {
				panic("fixture header has no URL-only character")
			}
			return strings.NewReplacer("-", "+", "_", "/").Replace(tok[:strings.IndexByte(tok, '.')]) + tok[strings.IndexByte(tok, '.'):]
		}, "invalid base64url character"},
		{"newline inside the header, which base64 decoders skip", func(_ testing.TB, f *fixture) string {
			tok := valid(nil, f)
			return tok[:4] + "\n" + tok[4:]
		}, "invalid base64url character"},
		{"non-zero trailing bits in the signature", func(_ testing.TB, f *fixture) string {
			// 64 bytes take 86 characters whose last 4 bits are padding; a
			// lenient decoder maps both spellings to the same signature.
			tok := valid(nil, f)
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			last := strings.IndexByte(alphabet, tok[len(tok)-1])
			return tok[:len(tok)-1] + string(alphabet[last|1])
		}, "illegal base64 data"},
		{"leading space", func(_ testing.TB, f *fixture) string { return " " + valid(nil, f) }, "invalid base64url character"},

		// JSON strictness.
		{"duplicate claim", ed(edHeader, strings.Replace(payload(nil), `"sub":"alice"`, `"sub":"alice","sub":"admin"`, 1)), `duplicate member "sub"`},
		{"duplicate roles claim", ed(edHeader, strings.Replace(payload(nil), `{`, `{"roles":["admin"],`, 1)), `duplicate member "roles"`},
		{"duplicate header member", ed(`{"alg":"EdDSA","kid":"ed-1","kid":"ec-1"}`, payload(nil)), `duplicate member "kid"`},
		{"duplicate member in a nested claim", ed(edHeader, strings.Replace(payload(nil), `{`, `{"ext":{"a":1,"a":2},`, 1)), `duplicate member "a"`},
		{"header a JSON array", ed(`["EdDSA","ed-1"]`, payload(nil)), "not a JSON object"},
		{"header with trailing data", ed(edHeader+`{}`, payload(nil)), "header: trailing data"},
		{"payload not JSON", ed(edHeader, `sub=admin`), "payload: invalid character"},
		{"payload with trailing data", ed(edHeader, payload(nil)+` {"sub":"admin"}`), "payload: trailing data"},
		{"payload with invalid UTF-8", ed(edHeader, strings.Replace(payload(nil), "alice", "ali\xffce", 1)), "invalid UTF-8"},
		{"payload nested too deeply", ed(edHeader, strings.Replace(payload(nil), `{`, `{"x":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`,`, 1)), "nested too deeply"},
	}
}

func mustDecode(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestVerifyRejectsAttacks(t *testing.T) {
	f := mustFixture(t)
	for _, tc := range attacks() {
		t.Run("C-AUTHN "+tc.name+" rejected", func(t *testing.T) {
			tok := tc.token(t, f)
			// Uncached and cached verifiers must agree, and a rejected
			// token must stay rejected when asked again.
			for _, v := range []*auth.Verifier{
				mustVerifier(t, f, func(c *auth.Config) { c.CacheSize = -1 }),
				mustVerifier(t, f),
			} {
				for range 2 {
					c, err := v.Verify(auth.Token(tok))
					if err == nil {
						t.Fatalf("Verify accepted the token: %+v", c)
					}
					if !errors.Is(err, auth.ErrInvalidToken) {
						t.Fatalf("error %v does not wrap ErrInvalidToken", err)
					}
					if !strings.Contains(err.Error(), tc.why) {
						t.Fatalf("error %q, want the reason %q", err, tc.why)
					}
					if !reflectZero(c) {
						t.Fatalf("claims returned with an error: %+v", c)
					}
				}
			}
		})
	}
}

func reflectZero(c auth.Claims) bool {
	return c.Subject == "" && c.Roles == nil && c.Issuer == "" && c.Audience == nil &&
		c.Expiry.IsZero() && c.NotBefore.IsZero() && c.IssuedAt.IsZero()
}

func TestVerifyAccepts(t *testing.T) {
	f := mustFixture(t)
	now := testNow.Unix()
	leeway := int64(auth.DefaultLeeway / time.Second)
	set := func(k string, v any) string { return payload(func(m map[string]any) { m[k] = v }) }
	tests := []struct {
		name  string
		token func(testing.TB) string
		check func(*testing.T, auth.Claims)
	}{
		{"EdDSA token", func(testing.TB) string { return edToken(f.ed, edHeader, payload(nil)) }, func(t *testing.T, c auth.Claims) {
			want := auth.Claims{
				Subject:   "alice",
				Roles:     []string{"editor"},
				Issuer:    testIssuer,
				Audience:  []string{testAudience},
				Expiry:    time.Unix(now+3600, 0),
				NotBefore: time.Unix(now-60, 0),
				IssuedAt:  time.Unix(now-60, 0),
			}
			if c.Subject != want.Subject || c.Issuer != want.Issuer ||
				!slices.Equal(c.Roles, want.Roles) || !slices.Equal(c.Audience, want.Audience) ||
				!c.Expiry.Equal(want.Expiry) || !c.NotBefore.Equal(want.NotBefore) || !c.IssuedAt.Equal(want.IssuedAt) {
				t.Fatalf("claims = %+v, want %+v", c, want)
			}
		}},
		{"ES256 token", func(tb testing.TB) string { return ecToken(tb, f.ec, ecHeader, payload(nil), false) }, nil},
		{"aud array containing the audience", func(testing.TB) string {
			return edToken(f.ed, edHeader, set("aud", []string{"other", testAudience}))
		}, func(t *testing.T, c auth.Claims) {
			if !slices.Equal(c.Audience, []string{"other", testAudience}) {
				t.Fatalf("Audience = %q", c.Audience)
			}
		}},
		{"typ at+jwt", func(testing.TB) string {
			return edToken(f.ed, `{"alg":"EdDSA","kid":"ed-1","typ":"at+jwt"}`, payload(nil))
		}, nil},
		{"typ jwt lower case", func(testing.TB) string {
			return edToken(f.ed, `{"alg":"EdDSA","kid":"ed-1","typ":"jwt"}`, payload(nil))
		}, nil},
		{"no typ", func(testing.TB) string { return edToken(f.ed, `{"alg":"EdDSA","kid":"ed-1"}`, payload(nil)) }, nil},
		{"jku ignored when the configured key signed", func(testing.TB) string {
			return edToken(f.ed, `{"alg":"EdDSA","kid":"ed-1","jku":"https://evil.test/jwks.json"}`, payload(nil))
		}, nil},
		{"no roles or nbf", func(testing.TB) string {
			return edToken(f.ed, edHeader, payload(func(m map[string]any) {
				delete(m, "roles")
				delete(m, "nbf")
			}))
		}, func(t *testing.T, c auth.Claims) {
			if c.Roles == nil || len(c.Roles) != 0 || !c.NotBefore.IsZero() {
				t.Fatalf("Roles = %#v (want empty, not nil), NotBefore = %v", c.Roles, c.NotBefore)
			}
		}},
		{"expired within the leeway", func(testing.TB) string { return edToken(f.ed, edHeader, set("exp", now-leeway+1)) }, nil},
		{"nbf within the leeway", func(testing.TB) string { return edToken(f.ed, edHeader, set("nbf", now+leeway)) }, nil},
		{"iat within the leeway", func(testing.TB) string { return edToken(f.ed, edHeader, set("iat", now+leeway)) }, nil},
		{"fractional exp", func(testing.TB) string { return edToken(f.ed, edHeader, set("exp", float64(now)+0.5)) }, func(t *testing.T, c auth.Claims) {
			if want := time.Unix(now, 5e8); !c.Expiry.Equal(want) {
				t.Fatalf("Expiry = %v, want %v", c.Expiry, want)
			}
		}},
		{"unknown claims and header members", func(testing.TB) string {
			return edToken(f.ed, `{"alg":"EdDSA","kid":"ed-1","cty":"x"}`, set("ext", map[string]any{"a": []int{1}}))
		}, nil},
	}
	for _, tc := range tests {
		t.Run("C-AUTHN accepts "+tc.name, func(t *testing.T) {
			tok := tc.token(t)
			for _, v := range []*auth.Verifier{mustVerifier(t, f, func(c *auth.Config) { c.CacheSize = -1 }), mustVerifier(t, f)} {
				for range 2 {
					c, err := v.Verify(auth.Token(tok))
					if err != nil {
						t.Fatal(err)
					}
					if tc.check != nil {
						tc.check(t, c)
					}
				}
			}
		})
	}
}

func TestVerifyReturnsACopy(t *testing.T) {
	f := mustFixture(t)
	v := mustVerifier(t, f)
	tok := edToken(f.ed, edHeader, payload(func(m map[string]any) { m["aud"] = []string{testAudience} }))
	c, err := v.Verify(auth.Token(tok))
	if err != nil {
		t.Fatal(err)
	}
	// Change what the first (verifying) and second (cached) calls return;
	// neither may reach the cache.
	for range 2 {
		c.Roles[0], c.Audience[0] = "admin", "x"
		c, err = v.Verify(auth.Token(tok))
		if err != nil {
			t.Fatal(err)
		}
		if c.Roles[0] != "editor" || c.Audience[0] != testAudience {
			t.Fatalf("cached claims changed by the caller: %+v", c)
		}
	}
}

func TestVerifyTokenSizeLimit(t *testing.T) {
	f := mustFixture(t)
	tok := edToken(f.ed, edHeader, payload(nil))
	if _, err := mustVerifier(t, f, func(c *auth.Config) { c.MaxTokenBytes = len(tok) }).Verify(auth.Token(tok)); err != nil {
		t.Fatalf("token of exactly MaxTokenBytes: %v", err)
	}
	_, err := mustVerifier(t, f, func(c *auth.Config) { c.MaxTokenBytes = len(tok) - 1 }).Verify(auth.Token(tok))
	if !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("C-AUTHN token one byte over MaxTokenBytes: err = %v", err)
	}
	big := edToken(f.ed, edHeader, payload(func(m map[string]any) { m["pad"] = strings.Repeat("x", 6000) }))
	if len(big) <= auth.DefaultMaxTokenBytes {
		if _, err := mustVerifier(t, f).Verify(auth.Token(big)); err != nil {
			t.Fatalf("a %d-byte token is within the default limit: %v", len(big), err)
		}
	}
}

func TestVerifierLeeway(t *testing.T) {
	f := mustFixture(t)
	expiredAgo := func(d time.Duration) string {
		return edToken(f.ed, edHeader, payload(func(m map[string]any) { m["exp"] = testNow.Add(-d).Unix() }))
	}
	tests := []struct {
		name   string
		leeway time.Duration
		ago    time.Duration
		ok     bool
	}{
		{"default 30s accepts 29s", 0, 29 * time.Second, true},
		{"default 30s rejects 31s", 0, 31 * time.Second, false},
		{"C-AUTHN leeway above 5m clamped", time.Hour, 5*time.Minute + time.Second, false},
		{"leeway 5m accepts 4m", time.Hour, 4 * time.Minute, true},
		{"negative leeway means none", -1, time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := mustVerifier(t, f, func(c *auth.Config) { c.Leeway = tc.leeway })
			_, err := v.Verify(auth.Token(expiredAgo(tc.ago)))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestNewVerifierRequiresConfig(t *testing.T) {
	f := mustFixture(t)
	tests := []struct {
		name string
		mod  func(*auth.Config)
		want string
	}{
		{"nil keys", func(c *auth.Config) { c.Keys = nil }, "at least one key"},
		{"empty key set", func(c *auth.Config) { c.Keys = &auth.KeySet{} }, "at least one key"},
		{"no issuer", func(c *auth.Config) { c.Issuer = "" }, "issuer"},
		{"no audience", func(c *auth.Config) { c.Audience = "" }, "audience"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := auth.Config{Keys: f.keys, Issuer: testIssuer, Audience: testAudience}
			tc.mod(&cfg)
			v, err := auth.NewVerifier(cfg)
			if err == nil || v != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewVerifier = %v, %v; want an error about %s", v, err, tc.want)
			}
		})
	}
}

func TestSign(t *testing.T) {
	f := mustFixture(t)
	v := mustVerifier(t, f)
	claims := map[string]any{"iss": testIssuer, "aud": testAudience, "sub": "bob", "iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix()}
	for name, tc := range map[string]struct {
		key     crypto.Signer
		kid     string
		sigSize int
	}{
		"EdDSA": {f.ed, edKid, 64},
		"ES256": {f.ec, ecKid, 64},
	} {
		t.Run(name, func(t *testing.T) {
			tok, err := auth.Sign(tc.key, tc.kid, claims)
			if err != nil {
				t.Fatal(err)
			}
			if sig := mustDecode(t, tok[strings.LastIndexByte(tok, '.')+1:]); len(sig) != tc.sigSize {
				t.Fatalf("signature is %d bytes, want %d", len(sig), tc.sigSize)
			}
			c, err := v.Verify(auth.Token(tok))
			if err != nil || c.Subject != "bob" {
				t.Fatalf("Verify = %+v, %v", c, err)
			}
		})
	}
	if _, err := auth.Sign(f.ed, "", claims); err == nil {
		t.Error("Sign accepted an empty kid")
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Sign(p384, "k", claims); err == nil {
		t.Error("Sign accepted a P-384 key")
	}
}

func TestTokenRedacted(t *testing.T) {
	const secret = "eyJhbGciOiJFZERTQSJ9.c2VjcmV0.c2ln"
	tok := auth.Token(secret)
	var out strings.Builder
	for _, verb := range []string{"%v", "%s", "%q", "%x", "%d", "%#v", "%+v", "%10s"} {
		fmt.Fprintf(&out, verb+"\n", tok)
	}
	fmt.Fprintln(&out, tok)
	b, err := json.Marshal(map[string]any{"t": tok})
	if err != nil {
		t.Fatal(err)
	}
	out.Write(b)
	logger := slog.New(slog.NewJSONHandler(&out, nil))
	logger.Info("request", "token", tok)
	if strings.Contains(out.String(), secret) || strings.Contains(out.String(), "c2VjcmV0") {
		t.Fatalf("C-AUTHN token leaked:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `"token":"[REDACTED]"`) {
		t.Fatalf("slog output not redacted as expected:\n%s", out.String())
	}
}
