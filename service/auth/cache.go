package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// tokenBufs hold a token's bytes while it is hashed, so that hashing does
// not copy each token to the heap.
var tokenBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// hashToken is the token's SHA-256, its key in the cache.
func hashToken(token string) [sha256.Size]byte {
	bp := tokenBufs.Get().(*[]byte)
	*bp = append((*bp)[:0], token...)
	sum := sha256.Sum256(*bp)
	clear(*bp) // no token bytes linger in the pool
	tokenBufs.Put(bp)
	return sum
}

// evictSample is how many entries an insert into a full cache looks at; it
// evicts the one that expires first.
const evictSample = 4

// cache holds the claims of verified tokens by the SHA-256 of the token, so
// the tokens themselves are never kept. It is bounded and safe for
// concurrent use. An entry is never returned at or after its expiry.
type cache struct {
	mu      sync.RWMutex
	max     int
	entries map[[sha256.Size]byte]Claims
}

func newCache(max int) *cache {
	return &cache{max: max, entries: make(map[[sha256.Size]byte]Claims)}
}

// get returns the claims cached under key if they have not expired at now.
// The caller must not change the slices in the returned claims.
func (c *cache) get(key [sha256.Size]byte, now time.Time) (Claims, bool) {
	c.mu.RLock()
	cl, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok {
		return Claims{}, false
	}
	if !now.Before(cl.Expiry) {
		c.mu.Lock()
		delete(c.entries, key)
		c.mu.Unlock()
		return Claims{}, false
	}
	return cl, true
}

// put caches cl under key, evicting an entry if the cache is full.
func (c *cache) put(key [sha256.Size]byte, cl Claims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		c.evict()
	}
	c.entries[key] = cl
}

// evict removes the entry expiring first among a few that map iteration,
// which starts at a random position, yields: cheap, and it drops expired
// or soon-useless entries first.
func (c *cache) evict() {
	var victim [sha256.Size]byte
	var first time.Time
	n := 0
	for k, cl := range c.entries {
		if n == 0 || cl.Expiry.Before(first) {
			victim, first = k, cl.Expiry
		}
		if n++; n == evictSample {
			break
		}
	}
	delete(c.entries, victim)
}

// len returns the number of cached entries.
func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
