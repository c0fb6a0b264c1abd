package api

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/service/auth"
	"github.com/secure-movie-service/sms/service/limit"
	"github.com/secure-movie-service/sms/service/logjson"
	"github.com/secure-movie-service/sms/service/metrics"
)

// reqInfo is what the middleware learns about a request: for the access
// log, and the verified identity for the handlers. One allocation holds it,
// the response recorder and the request id's header value.
type reqInfo struct {
	id         string
	clientIP   string // the client's address, for the log
	clientKey  string // the address's limit key: IPv6 by prefix
	subject    string
	decisionID string
	identity   Identity // set by authenticate
	rec        recorder
	idHeader   [1]string
}

type ctxKey struct{}

// errPanic answers a recovered panic: a generic 500.
var errPanic = errors.New("api: handler panicked")

func info(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// recorder remembers the status a handler wrote.
type recorder struct {
	http.ResponseWriter
	status int
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// frame is the outermost middleware: request id, security headers, panic
// recovery and the access log. The log line never holds the raw path or
// query, headers, or bodies: only the route pattern and what we derived.
func frame(c *Config, m *apiMetrics, next http.Handler) http.Handler {
	refused := newRefusals(c.Logger, c.RefusalLogInterval)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{id: newRequestID()}
		ri.clientIP, ri.clientKey = clientAddr(r, c.Proxies, c.IPv6PrefixBits)
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri))
		h := w.Header()
		// Canonical keys and shared values: no canonicalisation or allocation per header.
		ri.idHeader[0] = ri.id
		h["X-Request-Id"] = ri.idHeader[:]
		h["X-Content-Type-Options"] = hdrNosniff
		h["Cache-Control"] = hdrNoStore
		h["Content-Security-Policy"] = hdrCSP
		h["Referrer-Policy"] = hdrNoReferrer
		if r.TLS != nil {
			h["Strict-Transport-Security"] = hdrHSTS
		}
		rec := &ri.rec
		rec.ResponseWriter = w
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				// The panic value may hold request data; log only where it happened.
				c.Logger.Error("panic recovered", "log", "error", "request_id", ri.id, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeError(c.Logger, rec, r, errPanic)
				}
			}
			if cs := connOf(r.Context()); cs != nil && r.ProtoMajor == 2 && r.Context().Err() != nil && cs.reset(time.Now()) {
				c.Logger.Warn("closed an HTTP/2 connection that reset too many streams", "log", "audit",
					"client_ip", ri.clientIP, "max_resets", maxResets, "window_s", resetWindow.Seconds())
			}
			m.requests.Inc(routeLabel(r), strconv.Itoa(rec.status))
			if rec.status == http.StatusTooManyRequests {
				m.rateLimited.Inc(routeLabel(r))
				refused.add(ri.clientIP)
				return
			}
			logAttrs(r.Context(), c.Logger, slog.LevelInfo, "request", slog.String("log", "access"),
				slog.String("request_id", ri.id), slog.String("method", r.Method), slog.String("route", r.Pattern),
				slog.Int("status", rec.status), slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("subject", ri.subject), slog.String("client_ip", ri.clientIP), slog.String("decision_id", ri.decisionID))
		}()
		next.ServeHTTP(rec, r)
	})
}

// logAttrs logs as l.LogAttrs does, without the caller's program counter:
// the per-request lines skip the stack walk it costs (the service's handler
// does not add the source), and with the movies binary's handler, copying
// their attributes into a slog.Record.
func logAttrs(ctx context.Context, l *slog.Logger, level slog.Level, msg string, attrs ...slog.Attr) {
	h := l.Handler()
	if lh, ok := h.(*logjson.Handler); ok {
		lh.LogAttrs(ctx, level, msg, attrs...)
		return
	}
	if !h.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(attrs...)
	_ = h.Handle(ctx, r)
}

// The security headers every response carries. Each slice has len == cap,
// so an Add by anyone appends to a copy, never to these.
var (
	hdrNosniff    = []string{"nosniff"}
	hdrNoStore    = []string{"no-store"}
	hdrCSP        = []string{"default-src 'none'; frame-ancestors 'none'"}
	hdrNoReferrer = []string{"no-referrer"}
	hdrHSTS       = []string{"max-age=63072000; includeSubDomains"}
)

// newRequestID returns 24 hex digits from the runtime's per-thread ChaCha8
// generator (seeded from the OS at start): unique and unpredictable enough
// for correlating logs, without a system call per request. The id is no
// secret and authorizes nothing.
func newRequestID() string {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64()) // #nosec G404 -- a log-correlation id, not a secret or a token
	binary.LittleEndian.PutUint32(b[8:], rand.Uint32()) // #nosec G404 -- a log-correlation id, not a secret or a token
	return hex.EncodeToString(b[:])
}

// limitInFlight serves at most n requests at once (503 past that) and at
// most perIP's cap from one client address (429 past that), without
// queueing. The global cap is the last line; the per-address one keeps one
// client from taking it all.
func limitInFlight(n int, perIP *limit.Concurrency, reg *metrics.Registry, next http.Handler) handlerFunc {
	sem := make(chan struct{}, n)
	reg.GaugeFunc("movies_inflight_requests", "Requests being served now.", func() float64 { return float64(len(sem)) })
	reg.GaugeFunc("movies_inflight_limit", "Requests served at once at most (-max-inflight).", func() float64 { return float64(n) })
	return func(w http.ResponseWriter, r *http.Request) error {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		default:
			return errAtCapacity
		}
		slot, ok := perIP.Acquire(info(r).clientKey)
		if !ok {
			return errTooManyInFlight
		}
		defer slot.Release()
		next.ServeHTTP(w, r)
		return nil
	}
}

// limitIP applies a per-address limit to unauthenticated traffic.
func limitIP(b *bucket, next handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := b.take(w, info(r).clientKey); err != nil {
			return err
		}
		return next(w, r)
	}
}

// authenticate admits only requests with a verified bearer token in the
// Authorization header; then the per-subject limit applies. Failures count
// against the client address, so guessing tokens is rate limited too, and an
// address whose bucket is empty is refused before its token costs a
// signature verification or a log line.
func authenticate(authn Authenticator, ipLimit, subjectLimit *bucket, perSubject *limit.Concurrency, log *SampledLog,
	failures *metrics.CounterVec, next handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ri := info(r)
		if ipLimit.empty(ri.clientKey) {
			return ipLimit.take(w, ri.clientKey) // 429 with the bucket's Retry-After
		}
		refuse := func(reason, params string) error {
			if err := ipLimit.take(w, ri.clientKey); err != nil {
				return err
			}
			failures.Inc(reason)
			return unauthorized(params)
		}
		if r.URL.RawQuery != "" && queryHasToken(r.URL.Query()) { // parsed only when there is one
			return refuse("query_token", `error="invalid_request", error_description="send the token in the Authorization header"`)
		}
		token, ok := bearer(r)
		if !ok {
			return refuse("missing", "")
		}
		id, err := authn(token)
		if err != nil || id.Sub == "" {
			if err != nil {
				log.Info("authentication failed", "log", "audit", "request_id", ri.id, "client_ip", ri.clientIP, "error", err.Error())
			}
			return refuse("invalid", `error="invalid_token"`)
		}
		ri.subject, ri.identity = id.Sub, id
		if err := subjectLimit.take(w, "sub:"+id.Sub); err != nil {
			return err
		}
		slot, ok := perSubject.Acquire(id.Sub)
		if !ok {
			return errTooManyInFlight
		}
		defer slot.Release()
		return next(w, r)
	}
}

func queryHasToken(q url.Values) bool {
	return q.Has("access_token") || q.Has("token") || q.Has("id_token")
}

// routeLabel is the route pattern for metrics; requests no route matched
// (404, 405 by the catch-all) share one label.
func routeLabel(r *http.Request) string {
	if r.Pattern == "" {
		return "unmatched"
	}
	return r.Pattern
}

// identity is the verified identity of r's caller (zero before authenticate).
func identity(r *http.Request) Identity { return info(r).identity }

// bearer returns the token of the one Authorization header, if it is a
// well-formed Bearer credential.
func bearer(r *http.Request) (auth.Token, bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	for i := 0; i < len(token); i++ {
		if !token68[token[i]] {
			return "", false
		}
	}
	return auth.Token(token), true
}

// token68 marks the bytes of RFC 7235's token68: letters, digits and
// "-._~+/=".
var token68 = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/=", byte(c)) >= 0
	}
	return t
}()

func unauthorized(params string) error {
	challenge := `Bearer realm="movies"`
	if params != "" {
		challenge += ", " + params
	}
	return &httpError{status: http.StatusUnauthorized, detail: "a valid bearer token is required",
		header: map[string]string{"WWW-Authenticate": challenge}}
}

// bucket is a rate limiter as a route applies it, under the name its IETF
// RateLimit headers give it; nil means no limit.
type bucket struct {
	l      *limit.Limiter
	name   string
	policy []string // the RateLimit-Policy value, the same for every request
}

// newBucket names l (nil: no limit). name is one of this package's names (no
// quote or backslash in it), so quoting it is adding quotes.
func newBucket(l *limit.Limiter, name string) *bucket {
	if l == nil {
		return nil
	}
	quota, window := l.Quota()
	return &bucket{l: l, name: name, policy: []string{`"` + name + `";q=` + strconv.Itoa(quota) + ";w=" + strconv.Itoa(seconds(window))}}
}

// empty reports whether key's bucket has no token left (never, without a limit).
func (b *bucket) empty(key string) bool { return b != nil && !b.l.Has(key) }

// take takes a token from key's bucket, or returns a 429 with Retry-After.
// Either way the response carries the bucket's RateLimit-Policy and
// RateLimit headers.
func (b *bucket) take(w http.ResponseWriter, key string) error {
	if b == nil {
		return nil
	}
	res := b.l.Take(key)
	reset := res.Full
	if !res.OK {
		reset = res.Wait
	}
	// Canonical keys, a shared policy value (len == cap, so an Add copies) and one string
	// for the state: no fmt, no canonicalisation.
	var buf [64]byte
	v := append(append(append(buf[:0], '"'), b.name...), `";r=`...)
	v = append(strconv.AppendInt(v, int64(res.Remaining), 10), ";t="...)
	v = strconv.AppendInt(v, int64(seconds(reset)), 10)
	h := w.Header()
	h["Ratelimit-Policy"] = b.policy
	h["Ratelimit"] = []string{string(v)}
	if res.OK {
		return nil
	}
	return &httpError{status: http.StatusTooManyRequests, detail: "rate limit exceeded; retry after the time in Retry-After",
		header: map[string]string{"Retry-After": strconv.Itoa(max(1, seconds(res.Wait)))}}
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
