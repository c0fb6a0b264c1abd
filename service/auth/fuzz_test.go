package auth_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/secure-movie-service/sms/service/auth"
)

// FuzzVerify feeds token strings to the verifier. It must never panic; an
// uncached and a caching verifier must agree; and an accepted token must
// carry the configured issuer and audience and a subject.
func FuzzVerify(f *testing.F) {
	fx := mustFixture(f)
	f.Add(edToken(fx.ed, edHeader, payload(nil)))
	f.Add(ecToken(f, fx.ec, ecHeader, payload(nil), false))
	f.Add(edToken(fx.ed, edHeader, `{"iss":"https://issuer.test","aud":["movies-api"],"sub":"x","exp":1700003600.5,"roles":[]}`))
	for _, a := range attacks() {
		f.Add(a.token(f, fx))
	}
	uncached := mustVerifier(f, fx, func(c *auth.Config) { c.CacheSize = -1 })
	cached := mustVerifier(f, fx, func(c *auth.Config) { c.CacheSize = 16 })
	f.Fuzz(func(t *testing.T, token string) {
		c1, err1 := uncached.Verify(auth.Token(token))
		c2, err2 := cached.Verify(auth.Token(token))
		c3, err3 := cached.Verify(auth.Token(token)) // a second time, possibly from the cache
		if (err1 == nil) != (err2 == nil) || (err2 == nil) != (err3 == nil) {
			t.Fatalf("verifiers disagree: %v / %v / %v", err1, err2, err3)
		}
		if err1 != nil {
			if !errors.Is(err1, auth.ErrInvalidToken) || !errors.Is(err2, auth.ErrInvalidToken) {
				t.Fatalf("error does not wrap ErrInvalidToken: %v / %v", err1, err2)
			}
			return
		}
		for _, c := range []auth.Claims{c1, c2, c3} {
			if c.Issuer != testIssuer || !slices.Contains(c.Audience, testAudience) || c.Subject == "" ||
				c.Roles == nil || !c.Expiry.After(testNow.Add(-auth.DefaultLeeway)) {
				t.Fatalf("accepted claims break the rules: %+v", c)
			}
		}
		if c1.Subject != c3.Subject || !slices.Equal(c1.Roles, c3.Roles) {
			t.Fatalf("cached claims differ: %+v vs %+v", c1, c3)
		}
	})
}
