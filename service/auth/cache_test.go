package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	cacheIssuer   = "https://issuer.test"
	cacheAudience = "movies-api"
)

// clock is a settable Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func mustKeySet(tb testing.TB, keys map[string]crypto.PublicKey) *KeySet {
	tb.Helper()
	doc, err := MarshalJWKS(keys)
	if err != nil {
		tb.Fatal(err)
	}
	ks, err := ParseJWKS(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return ks
}

func mustSign(tb testing.TB, key crypto.Signer, sub string, exp time.Time) string {
	tb.Helper()
	tok, err := Sign(key, "k", map[string]any{"iss": cacheIssuer, "aud": cacheAudience, "sub": sub, "exp": exp.Unix(), "iat": exp.Unix() - 3600})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// cacheFixture returns a verifier over one Ed25519 key, its clock at start,
// and the key.
func cacheFixture(tb testing.TB, size int) (*Verifier, *clock, ed25519.PrivateKey) {
	tb.Helper()
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	v, err := NewVerifier(Config{
		Keys:      mustKeySet(tb, map[string]crypto.PublicKey{"k": key.Public()}),
		Issuer:    cacheIssuer,
		Audience:  cacheAudience,
		Now:       clk.Now,
		CacheSize: size,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return v, clk, key
}

func TestCache(t *testing.T) {
	t.Run("C-AUTHN cached token rejected once expired", func(t *testing.T) {
		v, clk, key := cacheFixture(t, 0)
		start := clk.Now()
		exp := start.Add(time.Minute)
		tok := mustSign(t, key, "alice", exp)
		if _, err := v.Verify(Token(tok)); err != nil {
			t.Fatal(err)
		}
		if _, ok := v.cache.entries[sha256.Sum256([]byte(tok))]; !ok || v.cache.len() != 1 {
			t.Fatal("verified token not cached under its SHA-256")
		}
		clk.Set(exp.Add(DefaultLeeway))
		_, err := v.Verify(Token(tok))
		if err == nil || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("Verify of an expired cached token: err = %v", err)
		}
		if n := v.cache.len(); n != 0 {
			t.Fatalf("expired entry still cached (%d entries)", n)
		}
	})

	t.Run("C-AUTHN cache entry never used at or after exp", func(t *testing.T) {
		v, clk, key := cacheFixture(t, 0)
		exp := clk.Now().Add(time.Minute)
		tok := mustSign(t, key, "alice", exp)
		if _, err := v.Verify(Token(tok)); err != nil {
			t.Fatal(err)
		}
		// Swap in a key set without the signing key: from here on only a
		// cache hit can accept the token.
		v.keys = mustKeySet(t, map[string]crypto.PublicKey{"other": ed25519.NewKeyFromSeed(make([]byte, 32)).Public()})
		clk.Set(exp.Add(-time.Nanosecond))
		if _, err := v.Verify(Token(tok)); err != nil {
			t.Fatalf("just before exp the cache answers: %v", err)
		}
		clk.Set(exp) // within the leeway, but the cache must not answer
		if _, err := v.Verify(Token(tok)); err == nil || !strings.Contains(err.Error(), "unknown kid") {
			t.Fatalf("at exp the token was served from the cache: err = %v", err)
		}
	})

	t.Run("C-AUTHN cached token rechecked for nbf when the clock goes back", func(t *testing.T) {
		v, clk, key := cacheFixture(t, 0)
		start := clk.Now()
		tok, err := Sign(key, "k", map[string]any{"iss": cacheIssuer, "aud": cacheAudience, "sub": "a",
			"nbf": start.Unix(), "iat": start.Unix(), "exp": start.Add(time.Hour).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(Token(tok)); err != nil {
			t.Fatal(err)
		}
		clk.Set(start.Add(-time.Minute))
		if _, err := v.Verify(Token(tok)); err == nil || !strings.Contains(err.Error(), "not valid before") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("C-AUTHN token accepted within the leeway after exp is not cached", func(t *testing.T) {
		v, clk, key := cacheFixture(t, 0)
		tok := mustSign(t, key, "alice", clk.Now().Add(-time.Second))
		if _, err := v.Verify(Token(tok)); err != nil {
			t.Fatal(err)
		}
		if n := v.cache.len(); n != 0 {
			t.Fatalf("token past its exp cached (%d entries)", n)
		}
	})

	t.Run("C-AUTHN cache never exceeds its size", func(t *testing.T) {
		const size = 8
		v, clk, key := cacheFixture(t, size)
		exp := clk.Now().Add(time.Hour)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 50 {
					tok := mustSign(t, key, fmt.Sprintf("user-%d-%d", g, i), exp)
					if _, err := v.Verify(Token(tok)); err != nil {
						t.Error(err)
						return
					}
					if n := v.cache.len(); n > size {
						t.Errorf("cache holds %d entries, limit %d", n, size)
						return
					}
				}
			})
		}
		wg.Wait()
		if n := v.cache.len(); n != size {
			t.Fatalf("cache holds %d entries after 200 tokens, want %d", n, size)
		}
	})

	t.Run("eviction drops the entry expiring first", func(t *testing.T) {
		c := newCache(evictSample)
		base := time.Unix(1_700_000_000, 0)
		for i, d := range []time.Duration{3, 1, 4, 2} {
			c.put([32]byte{byte(i)}, Claims{Expiry: base.Add(d * time.Minute)})
		}
		c.put([32]byte{9}, Claims{Expiry: base.Add(time.Hour)})
		if _, ok := c.entries[[32]byte{1}]; ok || c.len() != evictSample {
			t.Fatalf("entries after eviction: %d, soonest still present: %v", c.len(), ok)
		}
	})

	t.Run("negative size disables the cache", func(t *testing.T) {
		v, _, key := cacheFixture(t, -1)
		if v.cache != nil {
			t.Fatal("cache enabled")
		}
		if _, err := v.Verify(Token(mustSign(t, key, "a", time.Unix(1_700_000_000, 0).Add(time.Hour)))); err != nil {
			t.Fatal(err)
		}
	})
}
