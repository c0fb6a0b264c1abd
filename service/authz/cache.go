package authz

import (
	"sync"
	"time"
)

// cache keeps recent answers of OPA (decisions keyed by their input,
// compiled residuals by roles, method and route) for at most ttl.
// It holds at most size entries; when full it drops expired entries, and if
// none have expired, it starts over. Only answers OPA gave are cached, never
// "unavailable".
type cache[K comparable, V any] struct {
	mu   sync.Mutex
	size int
	ttl  time.Duration
	now  func() time.Time
	m    map[K]cacheEntry[V]
}

type cacheEntry[V any] struct {
	v       V
	expires time.Time
}

func newCache[K comparable, V any](size int, ttl time.Duration, now func() time.Time) *cache[K, V] {
	return &cache[K, V]{size: size, ttl: ttl, now: now, m: make(map[K]cacheEntry[V])}
}

func (c *cache[K, V]) get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		var zero V
		return zero, false
	}
	if !c.now().Before(e.expires) {
		delete(c.m, key)
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *cache[K, V]) put(key K, v V) {
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
	c.m[key] = cacheEntry[V]{v: v, expires: now.Add(c.ttl)}
}
