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

// Acquire takes one of key's slots. When ok, the slot's Release must be
// called once the request is done.
func (c *Concurrency) Acquire(key string) (slot Slot, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key] >= c.max {
		return Slot{}, false
	}
	c.n[key]++
	return Slot{c: c, key: key}, true
}

// Slot is one request's place under a Concurrency cap (a value: taking one
// allocates nothing).
type Slot struct {
	c   *Concurrency
	key string
}

// Release gives the slot back.
func (s Slot) Release() {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if s.c.n[s.key]--; s.c.n[s.key] <= 0 {
		delete(s.c.n, s.key)
	}
}

// Len reports how many keys have requests in flight.
func (c *Concurrency) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.n)
}
