package auth_test

import (
	"fmt"
	"testing"

	"github.com/secure-movie-service/sms/service/auth"
)

// BenchmarkVerify compares full verification with a cache hit, per
// algorithm; a cache hit hashes the token and copies the claims.
func BenchmarkVerify(b *testing.B) {
	f := mustFixture(b)
	tokens := map[string]string{
		"EdDSA": edToken(f.ed, edHeader, payload(nil)),
		"ES256": ecToken(b, f.ec, ecHeader, payload(nil), false),
	}
	for _, alg := range []string{"EdDSA", "ES256"} {
		tok := tokens[alg]
		for _, size := range []int{-1, 0} {
			name := "uncached"
			if size == 0 {
				name = "cached"
			}
			v := mustVerifier(b, f, func(c *auth.Config) { c.CacheSize = size })
			b.Run(fmt.Sprintf("%s/%s", alg, name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.Verify(auth.Token(tok)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	v := mustVerifier(b, f)
	b.Run("EdDSA/cached-parallel", func(b *testing.B) {
		tok := tokens["EdDSA"]
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(auth.Token(tok)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
