package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"syscall"
)

// checkURL admits https URLs without credentials, and plain http only to an
// address in TestLoopbackHTTP.
func (c *Client) checkURL(u *url.URL) error {
	switch {
	case u.User != nil:
		return fmt.Errorf("%w: credentials in the URL", ErrRefused)
	case u.Hostname() == "":
		return fmt.Errorf("%w: no host", ErrRefused)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && c.testLoopback(u):
		return nil
	}
	return fmt.Errorf("%w: scheme %s is not https", ErrRefused, strconv.QuoteToASCII(truncate(u.Scheme, 16)))
}

func (c *Client) testLoopback(u *url.URL) bool {
	port := u.Port()
	if port == "" {
		port = "80"
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(u.Hostname(), port))
	return err == nil && slices.Contains(c.cfg.TestLoopbackHTTP, ap)
}

// checkRedirect lets at most MaxRedirects redirects through, each to a URL
// checkURL admits; its address is checked when the dialer connects.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.cfg.MaxRedirects {
		return fmt.Errorf("%w: more than %d redirects", ErrRefused, c.cfg.MaxRedirects)
	}
	return c.checkURL(req.URL)
}

// dialContext resolves addr's host once, refuses the lot when any address
// is not one the service may reach, and connects to the checked addresses
// themselves, in order, until one answers.
func (c *Client) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("%w: bad port", ErrRefused)
	}
	addrs, err := c.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	checked := make([]netip.AddrPort, 0, len(addrs))
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a, uint16(port))
		if err := c.permit(ap); err != nil {
			return nil, fmt.Errorf("%w (resolved from %s)", err, strconv.QuoteToASCII(truncate(host, 64)))
		}
		checked = append(checked, ap)
	}
	var errs []error
	for _, ap := range checked {
		conn, err := c.cfg.dial(ctx, "tcp", ap.String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// resolve returns host's addresses: an IP literal as it is, a name looked
// up once.
func (c *Client) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	addrs, err := c.cfg.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("no address for %s", strconv.QuoteToASCII(truncate(host, 64)))
	}
	return addrs, nil
}

// permit reports whether the service may connect to ap.
func (c *Client) permit(ap netip.AddrPort) error {
	if slices.Contains(c.cfg.TestLoopbackHTTP, ap) {
		return nil
	}
	if r := notPublicReason(ap.Addr()); r != "" {
		return fmt.Errorf("%w: address %s is %s", ErrRefused, ap.Addr(), r)
	}
	return nil
}

// control runs just before the socket connects: whatever dialed, the
// address it connects to must pass permit (a second line behind dialContext).
func (c *Client) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	return c.permit(ap)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
