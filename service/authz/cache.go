package authz

import (
	"sync"
	"time"
)

// cache keeps recent decisions, keyed by the full decision input, for at
// most ttl. It holds at most size entries; when full it drops expired
// entries, and if none have expired, it starts over. Only answers OPA gave
// are cached, never "unavailable".
type cache struct {
	mu   sync.Mutex
	size int
	ttl  time.Duration
	now  func() time.Time
	m    map[string]cacheEntry
}

type cacheEntry struct {
	d       Decision
	expires time.Time
}

func newCache(size int, ttl time.Duration, now func() time.Time) *cache {
	return &cache{size: size, ttl: ttl, now: now, m: make(map[string]cacheEntry)}
}

func (c *cache) get(key string) (Decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return Decision{}, false
	}
	if !c.now().Before(e.expires) {
		delete(c.m, key)
		return Decision{}, false
	}
	return e.d, true
}

func (c *cache) put(key string, d Decision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.m) >= c.size {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.size {
			clear(c.m)
		}
	}
	c.m[key] = cacheEntry{d: d, expires: now.Add(c.ttl)}
}
