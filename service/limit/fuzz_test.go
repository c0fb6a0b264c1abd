package limit

import (
	"net/http/httptest"
	"testing"
)

// FuzzClientIP feeds attacker-controlled X-Forwarded-For values through a
// trusted proxy: never a panic, always a valid, unmapped address.
func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"198.51.100.7", "203.0.113.7:51234", "[2001:db8::7]", "[2001:db8::7]:443", " , ,", "garbage, 10.0.0.1", "::ffff:1.2.3.4", "[1.2.3.4]"} {
		f.Add(s)
	}
	proxies, err := ParseProxies("10.0.0.0/8, ::ffff:172.16.0.0/108")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.1.2.3:80"
		r.Header.Set("X-Forwarded-For", xff)
		a := proxies.ClientIP(r)
		if !a.IsValid() || a.Is4In6() {
			t.Fatalf("X-Forwarded-For %q gave %v", xff, a)
		}
	})
}
