package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"

	"github.com/secure-movie-service/sms/service/internal/egress"
	"github.com/secure-movie-service/sms/service/upstream"
)

// userAgent names the service to catalogues (Wikidata asks every client to).
const userAgent = "SecureMovieService/1.0 (+https://github.com/secure-movie-service/sms)"

// newCatalogue builds the configured sources and the egress guard they
// fetch through. A base URL must be https, unless -upstream-test-loopback-http
// lets an http:// URL on a loopback address through (tests only).
func newCatalogue(u upstreamConfig, log *slog.Logger, sm *serviceMetrics) (*upstream.Catalogue, error) {
	var sources []upstream.Source
	var loopback []netip.AddrPort
	base := func(flagName, raw string) (string, error) {
		b, err := upstream.BaseURL(raw)
		if err != nil {
			return "", fmt.Errorf("%w: -%s: %w", errUsage, flagName, err)
		}
		ap, isLoopback := loopbackAddr(b)
		switch {
		case isLoopback && u.testLoopbackHTTP:
			loopback = append(loopback, ap)
			log.Warn("TEST ONLY: plain HTTP to a loopback upstream is allowed (-upstream-test-loopback-http)", "flag", flagName)
		case len(b) < 8 || b[:8] != "https://":
			return "", fmt.Errorf("%w: -%s must be an https URL", errUsage, flagName)
		}
		return b, nil
	}
	if u.wikidataURL != "" {
		b, err := base("wikidata-url", u.wikidataURL)
		if err != nil {
			return nil, err
		}
		sources = append(sources, upstream.Wikidata{Base: b})
	}
	if u.omdbKeyFile != "" {
		b, err := base("omdb-url", u.omdbURL)
		if err != nil {
			return nil, err
		}
		key, err := readSecretFile(u.omdbKeyFile, "OMDb key file")
		if err != nil {
			return nil, err
		}
		sources = append(sources, upstream.OMDb{Base: b, Key: upstream.Key(key)})
	}
	guard := egress.New(egress.Config{DialTimeout: u.dialTimeout, TLSTimeout: u.tlsTimeout, HeaderTimeout: u.headerTimeout,
		Timeout: u.timeout, MaxBytes: u.maxBytes, UserAgent: userAgent, TestLoopbackHTTP: loopback})
	return upstream.New(guard, sm.observeUpstream, sources...), nil
}

// loopbackAddr returns the address of an http:// base URL whose host is a
// loopback IP literal.
func loopbackAddr(base string) (netip.AddrPort, bool) {
	pu, err := url.Parse(base)
	if err != nil || pu.Scheme != "http" {
		return netip.AddrPort{}, false
	}
	port := pu.Port()
	if port == "" {
		port = "80"
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(pu.Hostname(), port))
	return ap, err == nil && ap.Addr().IsLoopback()
}
