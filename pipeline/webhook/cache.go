package webhook

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/secure-movie-service/sms/pipeline/admit"
	"github.com/secure-movie-service/sms/pipeline/verify"
)

// VerifyFunc verifies one digest-pinned image reference (verify.Check, in production).
type VerifyFunc func(ctx context.Context, ref string) (*verify.Facts, error)

// CacheOptions configure a Cache.
type CacheOptions struct {
	Size        int           // entries kept; the least recently used goes first
	TTL         time.Duration // how long a verified result is reused
	NegativeTTL time.Duration // how long a failed verification is reused
	// FetchTimeout bounds one verification, whoever waits for it: a fetch shared by many
	// reviews runs on its own, not under the first review's deadline.
	FetchTimeout time.Duration
	Now          func() time.Time
}

// Cache holds verification outcomes per image reference (repository@digest: what a digest
// names never changes, but the signatures attached to it can). Concurrent Gets of one
// reference share one verification.
type Cache struct {
	o       CacheOptions
	verify  VerifyFunc
	group   singleflight.Group
	fetches atomic.Int64

	mu      sync.Mutex
	order   *list.List // of *entry, most recently used first
	entries map[string]*list.Element
}

type entry struct {
	ref     string
	v       admit.Verification
	expires time.Time
}

// NewCache returns a cache over fn.
func NewCache(fn VerifyFunc, o CacheOptions) (*Cache, error) {
	if o.Size < 1 || o.TTL <= 0 || o.NegativeTTL <= 0 || o.FetchTimeout <= 0 {
		return nil, errors.New("cache: size, TTLs and fetch timeout must be positive")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Cache{o: o, verify: fn, order: list.New(), entries: map[string]*list.Element{}}, nil
}

// Fetches counts the verifications run (cache misses that reached the registry).
func (c *Cache) Fetches() int64 { return c.fetches.Load() }

// Len is the number of entries held.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Get returns the verification of ref, from the cache or by verifying it (once, however many
// callers ask at the same time). An error means no outcome within ctx or the fetch timeout;
// a verification that failed is an outcome (Verification.Err), not an error.
func (c *Cache) Get(ctx context.Context, ref string) (admit.Verification, error) {
	if v, ok := c.lookup(ref); ok {
		return v, nil
	}
	ch := c.group.DoChan(ref, func() (any, error) {
		if v, ok := c.lookup(ref); ok {
			return v, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.FetchTimeout)
		defer cancel()
		c.fetches.Add(1)
		f, err := c.verify(fctx, ref)
		if fctx.Err() != nil {
			return nil, fmt.Errorf("verify %s: %w", ref, fctx.Err()) // not an outcome: not cached
		}
		v := admit.Verification{Facts: f, Err: err}
		c.store(ref, v)
		return v, nil
	})
	select {
	case <-ctx.Done():
		return admit.Verification{}, fmt.Errorf("verify %s: %w", ref, ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return admit.Verification{}, r.Err
		}
		return r.Val.(admit.Verification), nil
	}
}

func (c *Cache) lookup(ref string) (admit.Verification, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[ref]
	if !ok {
		return admit.Verification{}, false
	}
	e := el.Value.(*entry)
	if !c.o.Now().Before(e.expires) {
		c.order.Remove(el)
		delete(c.entries, ref)
		return admit.Verification{}, false
	}
	c.order.MoveToFront(el)
	return e.v, true
}

func (c *Cache) store(ref string, v admit.Verification) {
	ttl := c.o.TTL
	if v.Err != nil {
		ttl = c.o.NegativeTTL
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[ref]; ok {
		c.order.Remove(el)
	}
	c.entries[ref] = c.order.PushFront(&entry{ref: ref, v: v, expires: c.o.Now().Add(ttl)})
	for c.order.Len() > c.o.Size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.entries, last.Value.(*entry).ref)
	}
}
