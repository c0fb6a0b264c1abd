// Package limit holds the service's abuse limits: token-bucket rate limits
// keyed by subject or client address with bounded memory, and the client
// address rule that trusts X-Forwarded-For only from configured proxies.
// It imports only the standard library.
package limit

import (
	"math"
	"sync"
	"time"
)

// Limiter is a set of token buckets, one per key, each refilled at Rate
// tokens per second up to Burst. It remembers at most MaxKeys buckets: when
// full it forgets buckets that have refilled (forgetting them loses
// nothing), and if none has, the one idle longest. It is safe for
// concurrent use.
type Limiter struct {
	rate    float64
	burst   float64
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a Limiter; rate is in tokens per second.
func New(rate float64, burst, maxKeys int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate, burst: float64(max(burst, 1)), maxKeys: max(maxKeys, 1), now: now, buckets: make(map[string]*bucket)}
}

// Allow takes one token from key's bucket. When the bucket is empty it
// returns false and how long until a token is available.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	r := l.Take(key)
	return r.OK, r.Wait
}

// Result is the outcome of Take.
type Result struct {
	OK        bool          // a token was taken
	Remaining int           // whole tokens left in the bucket
	Wait      time.Duration // until the next token, when !OK
	Full      time.Duration // until the bucket is full again
}

// Quota is the bucket size (the burst) and Window the time an empty bucket
// takes to fill: the IETF RateLimit-Policy of this limiter.
func (l *Limiter) Quota() (quota int, window time.Duration) {
	if l.rate <= 0 {
		return int(l.burst), time.Duration(math.MaxInt64)
	}
	return int(l.burst), time.Duration(l.burst / l.rate * float64(time.Second))
}

// Take takes one token from key's bucket and reports what is left.
func (l *Limiter) Take(key string) Result {
	r := l.take(key)
	if l.rate > 0 {
		r.Full = time.Duration(math.Ceil((l.burst - float64(r.Remaining)) / l.rate * float64(time.Second)))
	}
	return r
}

func (l *Limiter) take(key string) Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return Result{OK: true, Remaining: int(b.tokens)}
	}
	if l.rate <= 0 {
		return Result{Wait: time.Hour}
	}
	return Result{Wait: time.Duration(math.Ceil((1 - b.tokens) / l.rate * float64(time.Second)))}
}

// Has reports whether key's bucket holds a token now, without taking it or
// changing anything.
func (l *Limiter) Has(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	return !ok || l.available(b, l.now()) >= 1
}

// available is what b would hold after refilling at now.
func (l *Limiter) available(b *bucket, now time.Time) float64 {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		return math.Min(l.burst, b.tokens+el*l.rate)
	}
	return b.tokens
}

func (l *Limiter) refill(b *bucket, now time.Time) {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
}

// evict makes room for one more bucket: it forgets every bucket that would
// be full by now, else the one seen least recently. It changes no bucket it
// keeps.
func (l *Limiter) evict(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, b := range l.buckets {
		if l.available(b, now) >= l.burst {
			delete(l.buckets, k)
			continue
		}
		if oldestKey == "" || b.last.Before(oldest) {
			oldestKey, oldest = k, b.last
		}
	}
	if len(l.buckets) >= l.maxKeys {
		delete(l.buckets, oldestKey)
	}
}

// Len reports how many buckets are remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
