package api

import "github.com/secure-movie-service/sms/service/metrics"

// apiMetrics are the families the HTTP layer counts. Every label value comes
// from a small fixed set (route patterns, status codes, reason names), never
// from the request.
type apiMetrics struct {
	requests      *metrics.CounterVec
	authnFailures *metrics.CounterVec
	authzDenials  *metrics.CounterVec
	rateLimited   *metrics.CounterVec
}

func newAPIMetrics(r *metrics.Registry) *apiMetrics {
	return &apiMetrics{
		requests: r.Counter("movies_http_requests_total",
			"HTTP requests answered, by route pattern and status code.", "route", "status"),
		authnFailures: r.Counter("movies_authn_failures_total",
			"Requests to /v1 refused 401, by reason: missing (no well-formed bearer token), invalid (verification failed), query_token.", "reason"),
		authzDenials: r.Counter("movies_authz_denials_total",
			"Requests OPA denied (403), by route.", "route"),
		rateLimited: r.Counter("movies_rate_limited_total",
			"Requests refused 429 by a rate or concurrency limit, by route.", "route"),
	}
}
