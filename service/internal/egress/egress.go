// Package egress is the service's one way out to other servers: an HTTP
// client that GETs one JSON document at a time from public HTTPS addresses
// and refuses anything else (server-side request forgery, OWASP API7).
//
//   - Only https URLs; plain http only to loopback addresses a test listed
//     in Config.TestLoopbackHTTP.
//   - Its dialer resolves a name once, refuses it when any address is
//     loopback, private, link-local, multicast, unspecified, carrier-grade
//     NAT or otherwise not public (IPv4-mapped, NAT64 and 6to4 forms
//     included), and connects to the address it checked: no second lookup
//     can swap it (DNS rebinding). Redirects are checked the same way, at
//     most MaxRedirects of them. No environment proxy is ever used.
//   - Deadlines for the dial, the TLS handshake, the response headers and
//     the whole fetch; the body is capped before and after decompression;
//     only 200 with Content-Type application/json is a document.
//
// Errors wrap one of the sentinels below (or are a *StatusError) and never
// carry the URL, which may hold an API key. It imports only the standard
// library.
package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"time"
)

// Sentinel errors; every error Get returns wraps one of them or is a *StatusError.
var (
	// ErrRefused: the URL, a redirect or a resolved address is not one the
	// guard lets the service reach.
	ErrRefused = errors.New("egress: destination refused")
	// ErrTimeout: a deadline passed (dial, TLS, headers or the whole fetch).
	ErrTimeout = errors.New("egress: upstream too slow")
	// ErrTooLarge: the body is over MaxBytes, compressed or decompressed.
	ErrTooLarge = errors.New("egress: response too large")
	// ErrBadResponse: the answer is not a JSON document (content type,
	// encoding, a broken gzip stream).
	ErrBadResponse = errors.New("egress: unacceptable response")
	// ErrUnreachable: no connection or no TLS session (refused, reset, no
	// such host, certificate not trusted).
	ErrUnreachable = errors.New("egress: upstream unreachable")
)

// StatusError is an answer other than 200. RetryAfter is set for 429 and
// 503: the upstream's Retry-After, bounded to [1s, 10m] (30s when absent).
type StatusError struct {
	Code       int
	RetryAfter time.Duration
}

func (e *StatusError) Error() string { return fmt.Sprintf("egress: upstream answered %d", e.Code) }

// Resolver looks names up; *net.Resolver is one. Tests give their own.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Client. Zero durations and sizes take the defaults.
type Config struct {
	Resolver      Resolver      // nil: net.DefaultResolver
	DialTimeout   time.Duration // default 3s
	TLSTimeout    time.Duration // TLS handshake; default 5s
	HeaderTimeout time.Duration // from request sent to response headers; default 5s
	Timeout       time.Duration // the whole fetch, body included; default 10s
	MaxBytes      int64         // body cap, before and after decompression; default 4 MiB
	MaxRedirects  int           // default 3; negative: none
	UserAgent     string
	RootCAs       *x509.CertPool // nil: the system's
	// TestLoopbackHTTP is for tests only: these loopback addresses may be
	// fetched over plain http (and are exempt from the address check).
	// Nothing else ever is; production configuration leaves it empty.
	TestLoopbackHTTP []netip.AddrPort

	// dial connects to a checked address; nil: a net.Dialer. Tests replace it.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Client fetches JSON documents through the guard. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	cfg = withDefaults(cfg)
	c := &Client{cfg: cfg}
	if c.cfg.dial == nil {
		d := &net.Dialer{Timeout: cfg.DialTimeout, Control: c.control}
		c.cfg.dial = d.DialContext
	}
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would resolve and connect where the guard cannot see
		DialContext:            c.dialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs},
		TLSHandshakeTimeout:    cfg.TLSTimeout,
		ResponseHeaderTimeout:  cfg.HeaderTimeout,
		DisableCompression:     true, // Get decompresses itself, with a cap
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           16,
		IdleConnTimeout:        30 * time.Second,
	}
	c.http = &http.Client{Transport: tr, CheckRedirect: c.checkRedirect}
	return c
}

func withDefaults(cfg Config) Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.DialTimeout, 3*time.Second)
	def(&cfg.TLSTimeout, 5*time.Second)
	def(&cfg.HeaderTimeout, 5*time.Second)
	def(&cfg.Timeout, 10*time.Second)
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 4 << 20
	}
	switch {
	case cfg.MaxRedirects == 0:
		cfg.MaxRedirects = 3
	case cfg.MaxRedirects < 0:
		cfg.MaxRedirects = 0
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	return cfg
}

// Get fetches the JSON document at rawURL within the Timeout and returns
// its body, decompressed and at most MaxBytes long.
func (c *Client) Get(ctx context.Context, rawURL string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: unparsable URL", ErrRefused)
	}
	if err := c.checkURL(u); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	if c.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, classify(ctx, err)
	}
	defer resp.Body.Close()
	if err := checkStatus(resp); err != nil {
		return nil, err
	}
	if err := checkContentType(resp.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	body, err := readBody(resp, c.cfg.MaxBytes)
	if err != nil {
		return nil, classify(ctx, err)
	}
	return body, nil
}

// classify turns a transport or body error into one of the sentinels. The
// *url.Error around it is dropped: its text holds the URL.
func classify(ctx context.Context, err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	for _, s := range []error{ErrRefused, ErrTooLarge, ErrBadResponse, ErrTimeout} {
		if errors.Is(err, s) {
			return err
		}
	}
	if ne, ok := errors.AsType[net.Error](err); (ok && ne.Timeout()) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %v", ErrUnreachable, err)
}
