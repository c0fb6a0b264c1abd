// Package api is the movie service's HTTP layer: routes, middleware, input
// decoding and validation, and the one table that turns errors into
// application/problem+json responses. Authentication is a function it is
// given; every authorization decision is asked of OPA through Authorizer, or
// applied from a residual OPA compiled when the Authorizer is also a Compiler.
// It imports only the standard library and the service's own packages.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/secure-movie-service/sms/service/auth"
	"github.com/secure-movie-service/sms/service/authz"
	"github.com/secure-movie-service/sms/service/limit"
	"github.com/secure-movie-service/sms/service/metrics"
	"github.com/secure-movie-service/sms/service/store"
	"github.com/secure-movie-service/sms/service/upstream"
)

// Identity is who a verified token says the caller is.
type Identity struct {
	Sub   string
	Roles []string
}

// Authenticator verifies a bearer token and returns its identity; any
// error means 401.
type Authenticator func(token auth.Token) (Identity, error)

// Authorizer decides requests; *authz.Client is the implementation.
type Authorizer interface {
	Decide(ctx context.Context, in authz.Input) (authz.Decision, error)
	Ping(ctx context.Context) error
}

// Importer fetches movie records from upstream catalogues;
// *upstream.Catalogue is the implementation.
type Importer interface {
	Known(source string) bool
	ValidID(source, id string) bool
	Fetch(ctx context.Context, source, id string) (upstream.Record, error)
}

// Config is everything the handler depends on.
type Config struct {
	Store        store.Store
	Authenticate Authenticator
	Authorizer   Authorizer
	Logger       *slog.Logger
	Proxies      limit.Proxies
	SubjectLimit *limit.Limiter // per authenticated subject
	IPLimit      *limit.Limiter // per client address, for unauthenticated traffic
	ProbeLimit   *limit.Limiter // per client address, for /healthz and /readyz only
	MaxInFlight  int            // requests served at once; more get 503
	// IPv6PrefixBits is the prefix length that keys IPv6 clients in the
	// per-address limits (default 64: one host typically holds a /64).
	IPv6PrefixBits int
	// MaxInFlightPerIP and MaxInFlightPerSubject cap the requests one client
	// address and one authenticated subject have in flight; more get 429.
	MaxInFlightPerIP      int
	MaxInFlightPerSubject int
	// BodyTimeout bounds reading a request body, from when the handler
	// starts reading it; a body slower than that is answered 408.
	BodyTimeout time.Duration
	// RefusalLogInterval is how often one line sums up the rate-limited
	// requests per address (default 10s); they get no access line each.
	RefusalLogInterval time.Duration
	OpenAPI            []byte // served at /openapi.yaml
	// Importer reads records from the configured catalogues for
	// POST /v1/movies/import (nil: no source is configured).
	Importer Importer
	// ImportSubjectLimit (per subject; 429) and ImportLimit (all subjects
	// together; 503) are token buckets for imports; MaxImportsInFlight caps
	// the imports fetching at once (default 4; more get 503).
	ImportSubjectLimit *limit.Limiter
	ImportLimit        *limit.Limiter
	MaxImportsInFlight int
	// Metrics receives the HTTP layer's metrics (nil: not exported).
	Metrics *metrics.Registry
	Now     func() time.Time
}

// New returns the service's handler.
func New(cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 256
	}
	if cfg.MaxInFlightPerIP <= 0 {
		cfg.MaxInFlightPerIP = max(1, cfg.MaxInFlight/4)
	}
	if cfg.MaxInFlightPerSubject <= 0 {
		cfg.MaxInFlightPerSubject = max(1, cfg.MaxInFlight/16)
	}
	if cfg.IPv6PrefixBits <= 0 || cfg.IPv6PrefixBits > 128 {
		cfg.IPv6PrefixBits = 64
	}
	if cfg.RefusalLogInterval <= 0 {
		cfg.RefusalLogInterval = 10 * time.Second
	}
	if cfg.Importer == nil {
		cfg.Importer = upstream.New(nil, nil)
	}
	if cfg.MaxImportsInFlight <= 0 {
		cfg.MaxImportsInFlight = 4
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 5 * time.Second
	}
	return routes(&cfg)
}
