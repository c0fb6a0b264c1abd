package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// config is the server's configuration. Every flag has an environment
// default named MOVIES_<FLAG> (dashes become underscores). Secrets never
// travel in flags or the environment: the OPA token is read from a file.
type config struct {
	addr, metricsAddr, dataDir string
	jwks, issuer, audience     string
	opaURL, opaTokenFile       string
	tlsCert, tlsKey            string
	trustedProxies             string

	maxInFlight, maxHeaderBytes                 int
	maxInFlightIP, maxInFlightSubject, maxConns int
	bodyTimeout                                 time.Duration
	ipv6PrefixBits                              int
	readHeaderTimeout, readTimeout              time.Duration
	writeTimeout, idleTimeout, shutdownTimeout  time.Duration
	subjectRate, ipRate, probeRate              float64
	subjectBurst, ipBurst, probeBurst           int
	limiterKeys                                 int
	opaTimeout, decisionCacheTTL                time.Duration
	tokenCacheSize                              int
	tokenLeeway, tokenMaxLifetime               time.Duration
	upstream                                    upstreamConfig
}

// upstreamConfig configures the catalogues POST /v1/movies/import reads
// and the egress guard it reads them through.
type upstreamConfig struct {
	wikidataURL, omdbURL, omdbKeyFile      string
	testLoopbackHTTP                       bool // tests only
	timeout, dialTimeout                   time.Duration
	tlsTimeout, headerTimeout              time.Duration
	maxBytes                               int64
	subjectRate, globalRate                float64
	subjectBurst, globalBurst, maxInFlight int
}

func (u *upstreamConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&u.wikidataURL, "wikidata-url", "https://www.wikidata.org", "Wikidata base URL for imports (source \"wikidata\"; empty: off)")
	fs.StringVar(&u.omdbURL, "omdb-url", "https://www.omdbapi.com", "OMDb-compatible API base URL for imports (source \"omdb\", on with -omdb-key-file)")
	fs.StringVar(&u.omdbKeyFile, "omdb-key-file", "", "file holding the OMDb API key (empty: source \"omdb\" off)")
	fs.BoolVar(&u.testLoopbackHTTP, "upstream-test-loopback-http", false,
		"TESTS ONLY: let an http:// -wikidata-url or -omdb-url on a loopback address be fetched over plain HTTP; never set in production")
	fs.DurationVar(&u.timeout, "upstream-timeout", 10*time.Second, "time for one whole upstream fetch, body included (below -write-timeout)")
	fs.DurationVar(&u.dialTimeout, "upstream-dial-timeout", 3*time.Second, "time to connect to an upstream")
	fs.DurationVar(&u.tlsTimeout, "upstream-tls-timeout", 5*time.Second, "time for an upstream TLS handshake")
	fs.DurationVar(&u.headerTimeout, "upstream-header-timeout", 5*time.Second, "time from request sent to upstream response headers")
	fs.Int64Var(&u.maxBytes, "upstream-max-bytes", 4<<20, "largest upstream body, before and after decompression")
	fs.Float64Var(&u.subjectRate, "import-rate-subject", 0.1, "imports per second per authenticated subject")
	fs.IntVar(&u.subjectBurst, "import-burst-subject", 5, "burst of imports per authenticated subject")
	fs.Float64Var(&u.globalRate, "import-rate", 2, "imports per second, all subjects together")
	fs.IntVar(&u.globalBurst, "import-burst", 10, "burst of imports, all subjects together")
	fs.IntVar(&u.maxInFlight, "import-max-inflight", 4, "imports fetching from upstreams at once; more get 503")
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := newFlagSet("movies", stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "127.0.0.1:0", "listen address of the Prometheus /metrics listener, never the API's (default: a loopback port, logged)")
	fs.StringVar(&c.dataDir, "data-dir", "", "directory of the durable movie journal (required)")
	fs.StringVar(&c.jwks, "jwks", "", "JWKS file with the public keys that sign bearer tokens (required)")
	fs.StringVar(&c.issuer, "issuer", "", "required token issuer (iss)")
	fs.StringVar(&c.audience, "audience", "", "required token audience (aud)")
	fs.StringVar(&c.opaURL, "opa-url", "", "OPA base URL, e.g. http://127.0.0.1:8181 (required)")
	fs.StringVar(&c.opaTokenFile, "opa-token-file", "", "file holding the bearer token for OPA")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate (PEM); with -tls-key serves HTTPS only")
	fs.StringVar(&c.tlsKey, "tls-key", "", "TLS private key (PEM)")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed")
	fs.IntVar(&c.maxInFlight, "max-inflight", 256, "requests served at once; more get 503")
	fs.IntVar(&c.maxConns, "max-conns", 1024, "connections open at once; more are closed at accept")
	fs.IntVar(&c.maxInFlightIP, "max-inflight-ip", 64, "requests one client address may have in flight; more get 429")
	fs.IntVar(&c.maxInFlightSubject, "max-inflight-subject", 16, "requests one authenticated subject may have in flight; more get 429")
	fs.DurationVar(&c.bodyTimeout, "body-timeout", 5*time.Second, "time to receive a request body once the handler reads it (slower: 408)")
	fs.IntVar(&c.maxHeaderBytes, "max-header-bytes", 16<<10, "largest request header block (larger: 431)")
	fs.DurationVar(&c.readHeaderTimeout, "read-header-timeout", 5*time.Second, "time to read request headers")
	fs.DurationVar(&c.readTimeout, "read-timeout", 15*time.Second, "time to read a whole request")
	fs.DurationVar(&c.writeTimeout, "write-timeout", 20*time.Second, "time to write a response")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 60*time.Second, "keep-alive idle time")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 10*time.Second, "grace period on SIGTERM")
	fs.Float64Var(&c.subjectRate, "rate-subject", 20, "requests per second per authenticated subject")
	fs.IntVar(&c.subjectBurst, "burst-subject", 40, "burst per authenticated subject")
	fs.Float64Var(&c.ipRate, "rate-ip", 5, "requests per second per client address without a valid token")
	fs.IntVar(&c.ipBurst, "burst-ip", 20, "burst per client address without a valid token")
	fs.Float64Var(&c.probeRate, "rate-probe", 2, "/healthz and /readyz requests per second per client address (a budget of their own)")
	fs.IntVar(&c.probeBurst, "burst-probe", 10, "burst of /healthz and /readyz per client address")
	fs.IntVar(&c.ipv6PrefixBits, "ipv6-prefix", 64, "IPv6 clients share per-address limits by this prefix length (1-128)")
	fs.IntVar(&c.limiterKeys, "limiter-keys", 10000, "rate-limit buckets remembered per limiter")
	fs.DurationVar(&c.opaTimeout, "opa-timeout", 500*time.Millisecond, "time allowed for one OPA decision")
	fs.DurationVar(&c.decisionCacheTTL, "decision-cache-ttl", time.Second, "how long an OPA decision is reused for the identical input, and a compiled decision for the same roles, method and route (0 disables both; at most 10s)")
	fs.IntVar(&c.tokenCacheSize, "token-cache-size", 10000, "verified tokens remembered until their exp (negative disables)")
	fs.DurationVar(&c.tokenMaxLifetime, "token-max-lifetime", 24*time.Hour, "longest token accepted (exp - iat; iat required)")
	fs.DurationVar(&c.tokenLeeway, "token-leeway", 30*time.Second, "clock skew allowed for exp/nbf/iat (at most 5m)")
	c.upstream.flags(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	for _, req := range []struct{ name, val string }{{"jwks", c.jwks}, {"issuer", c.issuer}, {"audience", c.audience}, {"opa-url", c.opaURL}, {"data-dir", c.dataDir}} {
		if req.val == "" {
			return c, fmt.Errorf("%w: -%s (or %s) is required", errUsage, req.name, envName(req.name))
		}
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, fmt.Errorf("%w: -tls-cert and -tls-key go together", errUsage)
	}
	if c.upstream.timeout >= c.writeTimeout {
		return c, fmt.Errorf("%w: -upstream-timeout must be below -write-timeout", errUsage)
	}
	return c, nil
}

// parseFlags parses a command's flags, then fills unset ones from the
// environment (MOVIES_DATA_DIR and so on); -h shows each flag's variable.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	fs.VisitAll(func(f *flag.Flag) { f.Usage += " (env " + envName(f.Name) + ")" })
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return applyEnv(fs, getenv)
}

// applyEnv sets every flag not given on the command line from its
// environment variable, parsed as the flag itself would parse it.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" && !set[f.Name] && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%w: %s: %w", errUsage, envName(f.Name), e)
			}
		}
	})
	return err
}

func envName(flagName string) string {
	return "MOVIES_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}
