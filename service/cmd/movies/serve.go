package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/service"
	"github.com/secure-movie-service/sms/service/api"
	"github.com/secure-movie-service/sms/service/auth"
	"github.com/secure-movie-service/sms/service/authz"
	"github.com/secure-movie-service/sms/service/limit"
	"github.com/secure-movie-service/sms/service/logbuf"
	"github.com/secure-movie-service/sms/service/logjson"
	"github.com/secure-movie-service/sms/service/metrics"
	"github.com/secure-movie-service/sms/service/store"
)

// serve runs the API until ctx is cancelled, then shuts down gracefully.
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	setGCPercent(getenv)
	// Log lines are batched: a request costs no write system call; at most the last 5ms of
	// lines are lost if the process dies, and every line is written before serve returns.
	logOut := logbuf.New(stderr, 5*time.Millisecond, 1<<20)
	defer logOut.Close()
	log := slog.New(logjson.New(logOut, nil)) // slog.JSONHandler's lines, cheaper per request
	if err := checkFileModes(c); err != nil {
		return err
	}
	reg := metrics.NewRegistry()
	tlsConfig, err := loadTLS(c.tlsCert, c.tlsKey)
	if err != nil {
		return err
	}
	handler, st, err := newHandler(c, log, reg)
	if err != nil {
		return err
	}
	defer st.Close()
	srv := newServer(c, handler, tlsConfig, log)
	ln, err := listen(c, tlsConfig, log)
	if err != nil {
		return err
	}
	msrv, err := serveMetrics(c, reg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer msrv.Close()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", c.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// gcPercent is the collector's setting when GOGC is not in the environment.
// A request allocates a few KB that die with it while the live heap (the
// catalogue, the caches) stays small, so at Go's default of 100 the collector
// ran every few hundred requests and took about a fifth of a request's CPU
// under load (make bench); at 400 it runs a quarter as often. GOMEMLIMIT,
// which deploy/kubernetes sets below the container's memory limit, makes it
// collect sooner before the heap could reach that limit.
const gcPercent = 400

func setGCPercent(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// newHandler builds the API's dependencies (token verifier, OPA client,
// limits, store) and the handler over them.
func newHandler(c config, log *slog.Logger, reg *metrics.Registry) (http.Handler, store.Store, error) {
	keys, err := auth.LoadJWKS(c.jwks)
	if err != nil {
		return nil, nil, err
	}
	verifier, err := auth.NewVerifier(auth.Config{Keys: keys, Issuer: c.issuer, Audience: c.audience,
		Leeway: c.tokenLeeway, MaxLifetime: c.tokenMaxLifetime, CacheSize: c.tokenCacheSize})
	if err != nil {
		return nil, nil, err
	}
	opaToken, err := readSecretFile(c.opaTokenFile, "OPA token file")
	if err != nil {
		return nil, nil, err
	}
	sm := newServiceMetrics(reg)
	catalogue, err := newCatalogue(c.upstream, log, sm)
	if err != nil {
		return nil, nil, err
	}
	decider, err := authz.New(authz.Config{URL: c.opaURL, Token: auth.Token(opaToken), Timeout: c.opaTimeout,
		CacheTTL: c.decisionCacheTTL, Observe: sm.observeOPA})
	if err != nil {
		return nil, nil, err
	}
	proxies, err := limit.ParseProxies(c.trustedProxies)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	st, err := store.Open(c.dataDir, store.Options{Logger: log, OnSync: sm.observeSync})
	if err != nil {
		return nil, nil, fmt.Errorf("open data dir: %w", err)
	}
	return api.New(api.Config{
		Store: st,
		Authenticate: func(token auth.Token) (api.Identity, error) {
			cl, err := verifier.Verify(token)
			return api.Identity{Sub: cl.Subject, Roles: cl.Roles}, err
		},
		Authorizer:            decider,
		Logger:                log,
		Proxies:               proxies,
		SubjectLimit:          limit.New(c.subjectRate, c.subjectBurst, c.limiterKeys, nil),
		IPLimit:               limit.New(c.ipRate, c.ipBurst, c.limiterKeys, nil),
		ProbeLimit:            limit.New(c.probeRate, c.probeBurst, c.limiterKeys, nil),
		MaxInFlight:           c.maxInFlight,
		MaxInFlightPerIP:      c.maxInFlightIP,
		MaxInFlightPerSubject: c.maxInFlightSubject,
		BodyTimeout:           c.bodyTimeout,
		IPv6PrefixBits:        c.ipv6PrefixBits,
		OpenAPI:               service.OpenAPI,
		Metrics:               reg,
		Importer:              catalogue,
		ImportSubjectLimit:    limit.New(c.upstream.subjectRate, c.upstream.subjectBurst, c.limiterKeys, nil),
		ImportLimit:           limit.New(c.upstream.globalRate, c.upstream.globalBurst, 1, nil),
		MaxImportsInFlight:    c.upstream.maxInFlight,
	}), st, nil
}

func newServer(c config, handler http.Handler, tlsConfig *tls.Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: c.readHeaderTimeout,
		ReadTimeout:       c.readTimeout,
		WriteTimeout:      c.writeTimeout,
		IdleTimeout:       c.idleTimeout,
		MaxHeaderBytes:    c.maxHeaderBytes,
		TLSConfig:         tlsConfig,
		ConnContext:       api.ConnContext, // lets the handler close connections that reset streams abusively
		// One line per failed TLS handshake would let anyone fill the disk.
		ErrorLog: stdlog.New(api.NewSampledLog(log, 1, 10), "", 0),
	}
}

// listen opens the API listener: at most -max-conns connections, TLS when
// configured (never a plaintext fallback).
func listen(c config, tlsConfig *tls.Config, log *slog.Logger) (net.Listener, error) {
	tcp, err := net.Listen("tcp", c.addr)
	if err != nil {
		return nil, err
	}
	var ln net.Listener = limit.NewListener(tcp, c.maxConns)
	scheme := "http"
	if tlsConfig != nil {
		ln, scheme = tls.NewListener(ln, tlsConfig), "https"
	}
	log.Info("listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String())
	return ln, nil
}

// loadTLS loads the certificate pair. A bad pair is an error: the server
// never falls back to plaintext.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load certificate and key: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 suites are all modern.
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		// No CurvePreferences: Go's default list leads with the post-quantum
		// hybrid X25519MLKEM768, which an explicit list would turn off.
		NextProtos: []string{"h2", "http/1.1"},
	}, nil
}

// readSecretFile reads a one-line secret (what names it in errors); an
// empty path means no secret.
func readSecretFile(path, what string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the secret file paths are operator configuration (-opa-token-file, -omdb-key-file)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", what)
	}
	return s, nil
}
