package limit

import "sync"

// Concurrency caps how many requests each key (a subject, a client address)
// has in flight at once. It remembers only keys with requests in flight, so
// its memory is bounded by the requests being served. It is safe for
// concurrent use.
type Concurrency struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

// NewConcurrency returns a cap of max requests in flight per key.
func NewConcurrency(max int) *Concurrency {
	return &Concurrency{max: max, n: make(map[string]int)}
}

// Acquire takes one of key's slots. When ok, release must be called once
// the request is done.
func (c *Concurrency) Acquire(key string) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key] >= c.max {
		return nil, false
	}
	c.n[key]++
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.n[key]--; c.n[key] <= 0 {
			delete(c.n, key)
		}
	}, true
}

// Len reports how many keys have requests in flight.
func (c *Concurrency) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.n)
}
