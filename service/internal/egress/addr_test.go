package egress

import (
	"net/netip"
	"testing"
)

// TestNotPublicAddresses is evidence for C-EGRESS-SSRF: every address class the service
// must never reach is refused, in IPv4, IPv6, IPv4-mapped, NAT64 and 6to4 form; public
// unicast addresses pass.
func TestNotPublicAddresses(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1", "loopback"},
		{"127.1.2.3", "loopback"},
		{"::1", "loopback"},
		{"10.0.0.1", "private"},
		{"172.16.5.4", "private"},
		{"192.168.1.1", "private"},
		{"fd00::1", "private"},
		{"169.254.169.254", "link-local"}, // cloud metadata
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "scoped (zone)"},
		{"224.0.0.1", "link-local"},
		{"239.1.2.3", "multicast"},
		{"ff02::1", "link-local"},
		{"ff05::2", "multicast"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"0.1.2.3", "this-network"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.127.255.254", "carrier-grade NAT"},
		{"255.255.255.255", "not global unicast"},
		{"240.0.0.1", "reserved"},
		{"192.0.2.10", "documentation"},
		{"2001:db8::1", "documentation"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:10.0.0.1", "private"},
		{"::ffff:169.254.169.254", "link-local"},
		{"::ffff:100.64.0.1", "carrier-grade NAT"},
		{"::127.0.0.1", "IPv4-compatible"},
		{"::10.0.0.1", "IPv4-compatible"},
		{"64:ff9b::a9fe:a9fe", "link-local (embedded in IPv6)"},
		{"64:ff9b::7f00:1", "loopback (embedded in IPv6)"},
		{"64:ff9b:1::1", "local-use NAT64"},
		{"2002:7f00:1::1", "loopback (embedded in IPv6)"},
		{"2002:c0a8:101::1", "private (embedded in IPv6)"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"},
		{"93.184.215.14", ""},
		{"1.1.1.1", ""},
		{"2606:4700:4700::1111", ""},
		{"::ffff:1.1.1.1", ""},
		{"64:ff9b::101:101", ""},
	} {
		t.Run("C-EGRESS-SSRF "+tc.addr, func(t *testing.T) {
			a, err := netip.ParseAddr(tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			if got := notPublicReason(a); got != tc.want {
				t.Fatalf("notPublicReason(%s) = %q, want %q", tc.addr, got, tc.want)
			}
		})
	}
}
