// Package upstream reads movie records from the public catalogues the
// operator configured (Wikidata's entity data, an OMDb-compatible API)
// through the egress guard, and maps their JSON to a Record. A client names
// only a source from that list and an id matching the source's pattern;
// URLs are built here from the operator's base URL and the checked id.
//
// Answers are untrusted input (OWASP API10): they are read with the
// service's strict JSON reader (strictjson.Pick: duplicate keys, depth,
// UTF-8, numbers, exact names), ids found in them are checked against the
// id pattern before they go into another request, and no error carries
// their text. The API validates the Record with the rules of a client's
// body before anything is stored. It imports only the standard library and
// the service's own packages.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/service/internal/egress"
)

// Record is a movie as a catalogue describes it, before validation.
type Record struct {
	Title    string
	Year     int
	Genres   []string
	Director string
}

// Sentinels; every error Fetch returns wraps one of them.
var (
	// ErrNotFound: the catalogue has no record with that id.
	ErrNotFound = errors.New("upstream: no such record")
	// ErrNotAMovie: the record lacks what a movie needs (a title, a year).
	ErrNotAMovie = errors.New("upstream: the record is not a movie")
	// ErrBusy: the catalogue asked us to slow down (429); see RetryAfter.
	ErrBusy = errors.New("upstream: catalogue rate limited us")
	// ErrTimeout: the catalogue did not answer in time.
	ErrTimeout = errors.New("upstream: catalogue too slow")
	// ErrBadGateway: anything else: unreachable, refused by the egress
	// guard, an error status, an oversized or malformed answer.
	ErrBadGateway = errors.New("upstream: catalogue failed")
)

// BusyError is ErrBusy with the wait the catalogue asked for.
type BusyError struct{ Wait time.Duration }

func (e *BusyError) Error() string             { return fmt.Sprintf("%v (retry after %v)", ErrBusy, e.Wait) }
func (e *BusyError) Unwrap() error             { return ErrBusy }
func (e *BusyError) RetryAfter() time.Duration { return e.Wait }

// Fetcher GETs one JSON document; *egress.Client is the implementation.
type Fetcher interface {
	Get(ctx context.Context, url string) ([]byte, error)
}

// Source is one configured catalogue.
type Source interface {
	Name() string
	// ValidID reports whether id has the catalogue's id syntax.
	ValidID(id string) bool
	// Fetch reads record id (already valid) through f.
	Fetch(ctx context.Context, f Fetcher, id string) (Record, error)
}

// Catalogue is the set of configured sources. It is safe for concurrent use.
type Catalogue struct {
	fetch   Fetcher
	sources map[string]Source
	observe func(source string, d time.Duration, err error)
}

// New returns a Catalogue over sources, fetching through f. observe, if
// set, is told how each import's fetch went (for metrics).
func New(f Fetcher, observe func(source string, d time.Duration, err error), sources ...Source) *Catalogue {
	c := &Catalogue{fetch: f, sources: map[string]Source{}, observe: observe}
	for _, s := range sources {
		c.sources[s.Name()] = s
	}
	return c
}

// Sources lists the configured source names, sorted.
func (c *Catalogue) Sources() []string {
	names := make([]string, 0, len(c.sources))
	for n := range c.sources {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Known reports whether source is configured.
func (c *Catalogue) Known(source string) bool { _, ok := c.sources[source]; return ok }

// ValidID reports whether source is configured and id has its syntax.
func (c *Catalogue) ValidID(source, id string) bool {
	s, ok := c.sources[source]
	return ok && s.ValidID(id)
}

// Fetch reads record id from source. The source and id must be valid.
func (c *Catalogue) Fetch(ctx context.Context, source, id string) (Record, error) {
	s, ok := c.sources[source]
	if !ok || !s.ValidID(id) {
		return Record{}, fmt.Errorf("%w: unknown source or invalid id", ErrBadGateway)
	}
	start := time.Now()
	r, err := s.Fetch(ctx, c.fetch, id)
	err = classify(source, err)
	if c.observe != nil {
		c.observe(source, time.Since(start), err)
	}
	return r, err
}

// classify wraps a source's error in the sentinel the API maps to a status.
func classify(source string, err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{ErrNotFound, ErrNotAMovie, ErrBusy, ErrTimeout, ErrBadGateway} {
		if errors.Is(err, s) {
			return fmt.Errorf("%s: %w", source, err)
		}
	}
	if se, ok := errors.AsType[*egress.StatusError](err); ok {
		switch se.Code {
		case 404, 410:
			return fmt.Errorf("%s: %w (status %d)", source, ErrNotFound, se.Code)
		case 429:
			return fmt.Errorf("%s: %w", source, &BusyError{Wait: se.RetryAfter})
		}
		return fmt.Errorf("%s: %w: %w", source, ErrBadGateway, err)
	}
	if errors.Is(err, egress.ErrTimeout) {
		return fmt.Errorf("%s: %w: %w", source, ErrTimeout, err)
	}
	return fmt.Errorf("%s: %w: %w", source, ErrBadGateway, err)
}

// Outcome names how a fetch ended, for metrics: ok, not_found, not_a_movie,
// busy, timeout, refused (the egress guard), too_large, failed.
func Outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrNotAMovie):
		return "not_a_movie"
	case errors.Is(err, ErrBusy):
		return "busy"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, egress.ErrRefused):
		return "refused"
	case errors.Is(err, egress.ErrTooLarge):
		return "too_large"
	}
	return "failed"
}

// BaseURL checks an operator's base URL: absolute, no credentials, query or
// fragment. The egress guard decides the scheme and the address.
func BaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("upstream: base URL %q must be https://host[:port][/path] without credentials, query or fragment", raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// Key is a catalogue API key. It logs and prints redacted.
type Key string

func (Key) String() string       { return "[REDACTED]" }
func (Key) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }
func (k Key) GoString() string   { return k.String() }
