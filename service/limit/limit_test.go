package limit

import (
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"testing"
	"time"
)

func TestLimiterTokenBucket(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(2, 3, 100, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d within burst refused", i)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("past burst: ok=%v wait=%v, want refused with 500ms", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key shares the bucket")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("not refilled after Retry-After")
	}
}

func TestLimiterMemoryBounded(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(1, 5, 50, func() time.Time { return now })
	for i := range 10_000 {
		l.Allow(fmt.Sprint("ip-", i))
		if l.Len() > 50 {
			t.Fatalf("limiter remembers %d keys, bound 50", l.Len())
		}
	}
	// When full, a refilled bucket is forgotten before a limited one, so a
	// flood of new keys cannot hand a limited client a fresh burst.
	l = New(1, 2, 2, func() time.Time { return now })
	l.Allow("limited")
	l.Allow("limited") // empty now
	now = now.Add(100 * time.Millisecond)
	l.Allow("idle")
	now = now.Add(1100 * time.Millisecond) // idle refilled to 2; limited holds 1.2
	l.Allow("new")                         // evicts idle, not the older limited
	if ok, _ := l.Allow("limited"); !ok {
		t.Fatal("limited lost its refilled token")
	}
	if ok, _ := l.Allow("limited"); ok {
		t.Fatal("C-RATE eviction reset a limited client's bucket")
	}
}

func TestClientIP(t *testing.T) {
	proxies, err := ParseProxies("10.0.0.0/8, 192.168.1.1, ::ffff:172.16.0.0/108")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"C-RATE-XFF untrusted peer's XFF ignored", "203.0.113.9:5555", []string{"1.2.3.4"}, "203.0.113.9"},
		{"trusted proxy's XFF used", "10.1.2.3:80", []string{"198.51.100.7"}, "198.51.100.7"},
		{"C-RATE-XFF spoofed left entries ignored", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies walked", "10.1.2.3:80", []string{"198.51.100.7, 192.168.1.1", "10.9.9.9"}, "198.51.100.7"},
		{"malformed entry stops at last trusted hop", "10.1.2.3:80", []string{"garbage"}, "10.1.2.3"},
		{"no XFF from proxy", "10.1.2.3:80", nil, "10.1.2.3"},
		{"ipv6 peer", "[2001:db8::1]:443", []string{"1.2.3.4"}, "2001:db8::1"},
		{"C-RATE-XFF client with a port", "10.1.2.3:80", []string{"203.0.113.7:51234"}, "203.0.113.7"},
		{"C-RATE-XFF bracketed ipv6 client", "10.1.2.3:80", []string{"[2001:db8::7]"}, "2001:db8::7"},
		{"C-RATE-XFF bracketed ipv6 client with a port", "10.1.2.3:80", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"C-RATE-XFF empty elements skipped", "10.1.2.3:80", []string{"198.51.100.7, ,", ""}, "198.51.100.7"},
		{"C-RATE-XFF proxy given as an IPv4-mapped prefix", "172.16.0.5:80", []string{"198.51.100.8"}, "198.51.100.8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := proxies.ClientIP(r).String(); got != tc.want {
				t.Fatalf("ClientIP = %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := ParseProxies("10.0.0.0/33"); err == nil {
		t.Error("bad prefix accepted")
	}
}

func TestConcurrencyPerKey(t *testing.T) {
	c := NewConcurrency(2)
	r1, ok1 := c.Acquire("a")
	r2, ok2 := c.Acquire("a")
	if !ok1 || !ok2 {
		t.Fatal("C-DOS-INFLIGHT slots within the cap refused")
	}
	if _, ok := c.Acquire("a"); ok {
		t.Fatal("C-DOS-INFLIGHT a third request of one key admitted past a cap of 2")
	}
	rb, ok := c.Acquire("b")
	if !ok {
		t.Fatal("another key shares the cap")
	}
	r1.Release()
	if r, ok := c.Acquire("a"); !ok {
		t.Fatal("a released slot was not given back")
	} else {
		r.Release()
	}
	r2.Release()
	rb.Release()
	if c.Len() != 0 {
		t.Fatalf("%d idle keys remembered", c.Len())
	}
}

func TestAddrKeyGroupsIPv6ByPrefix(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		bits int
		same bool
	}{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", 64, true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", 64, false},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", 48, true},
		{"2001:db8::1", "2001:db8::2", 128, false},
		{"192.0.2.1", "192.0.2.2", 64, false},
	} {
		ka, kb := AddrKey(netip.MustParseAddr(tc.a), tc.bits), AddrKey(netip.MustParseAddr(tc.b), tc.bits)
		if (ka == kb) != tc.same {
			t.Errorf("C-RATE %s (%s) and %s (%s) at /%d: same key %v, want %v", tc.a, ka, tc.b, kb, tc.bits, ka == kb, tc.same)
		}
	}
}

// TestLimiterEvictsLeastRecentlySeen: when full of drained buckets, the one
// seen longest ago goes, and the others stay drained.
func TestLimiterEvictsLeastRecentlySeen(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(0.0001, 1, 50, func() time.Time { return now })
	for i := range 50 {
		now = now.Add(time.Second)
		l.Allow(fmt.Sprint("k", i)) // drains the bucket
	}
	now = now.Add(time.Second)
	l.Allow("new")
	for i := 1; i < 50; i++ {
		if ok, _ := l.Allow(fmt.Sprint("k", i)); ok {
			t.Fatalf("C-DOS-BOUNDED k%d came back full after an eviction; the least recently seen k0 should have gone", i)
		}
	}
}

func TestListenerCapsOpenConnections(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(inner, 2)
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", inner.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	wait := func() net.Conn {
		select {
		case c := <-accepted:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("connection within the cap not accepted")
			return nil
		}
	}
	dial()
	first := wait()
	dial()
	wait()
	over := dial()
	over.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := over.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("C-DOS-INFLIGHT a third connection past a cap of 2 was kept open: %v", err)
	}
	first.Close()
	dial()
	wait()
	if ln.Refused.Load() != 1 {
		t.Fatalf("refused %d, want 1", ln.Refused.Load())
	}
}
