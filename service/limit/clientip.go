package limit

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies is the set of reverse proxies whose X-Forwarded-For is believed.
type Proxies []netip.Prefix

// ParseProxies parses a comma-separated list of addresses or CIDR prefixes.
func ParseProxies(s string) (Proxies, error) {
	var ps Proxies
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", f, err)
			}
			ps = append(ps, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", f, err)
		}
		ps = append(ps, unmapPrefix(p).Masked())
	}
	return ps, nil
}

// unmapPrefix turns an IPv4-mapped prefix (::ffff:10.0.0.0/104) into the
// IPv4 prefix it means (10.0.0.0/8): clients are compared unmapped.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// AddrKey is the limit key of client address a: an IPv4 address as
// itself, an IPv6 address by its first v6Bits bits, since one host usually
// holds a whole /64 and could otherwise take a fresh bucket per address.
func AddrKey(a netip.Addr, v6Bits int) string {
	if !a.Is6() || v6Bits >= 128 {
		return a.String()
	}
	p, err := a.Prefix(v6Bits)
	if err != nil {
		return a.String()
	}
	return p.String()
}

func (ps Proxies) trusted(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop reads one X-Forwarded-For element: an address, an address with
// a port (203.0.113.7:51234, [2001:db8::7]:443) or a bracketed IPv6 address.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if inner, ok = strings.CutSuffix(inner, "]"); ok {
			a, err := netip.ParseAddr(inner)
			return a, err == nil && a.Is6()
		}
	}
	return netip.Addr{}, false
}

// ClientIP returns the address of the client that sent r. X-Forwarded-For
// is read only when the connection comes from a trusted proxy, and then from
// the right: the first address that is not itself a trusted proxy is the
// client. A malformed entry stops the walk at the last trusted hop.
func (ps Proxies) ClientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !ps.trusted(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop := strings.TrimSpace(parts[j])
			if hop == "" {
				continue
			}
			a, ok := parseHop(hop)
			if !ok {
				return client
			}
			client = a.Unmap()
			if !ps.trusted(client) {
				return client
			}
		}
	}
	return client
}
