package api

import (
	"net/http"

	"github.com/secure-movie-service/sms/service/limit"
)

// routes lists every route and its middleware. /v1 routes need a verified
// token and an allow from OPA; the health and document routes are public.
func routes(c *Config) http.Handler {
	m := newAPIMetrics(c.Metrics)
	az := &authorizer{az: c.Authorizer, log: c.Logger, denials: m.authzDenials}
	az.compiler, _ = c.Authorizer.(Compiler)
	h := func(fn handlerFunc) http.Handler { return serve(c.Logger, fn) }
	perSubject := limit.NewConcurrency(c.MaxInFlightPerSubject)
	authnLog := NewSampledLog(c.Logger, 5, 20) // "authentication failed": at most 5 lines a second
	ipBucket, subjectBucket := newBucket(c.IPLimit, "ip"), newBucket(c.SubjectLimit, "subject")
	v1 := func(fn handlerFunc) http.Handler {
		return h(authenticate(c.Authenticate, ipBucket, subjectBucket, perSubject, authnLog, m.authnFailures, fn))
	}
	public := func(fn handlerFunc) http.Handler { return h(limitIP(ipBucket, fn)) }
	// Probes have a budget of their own, so a flood from a prober's address
	// cannot starve them.
	probeBucket := newBucket(c.ProbeLimit, "probe")
	probe := func(fn handlerFunc) http.Handler { return h(limitIP(probeBucket, fn)) }

	mux := http.NewServeMux()
	mux.Handle("GET /v1/movies", v1(listMovies(c.Store, az, c.Now)))
	mux.Handle("POST /v1/movies", v1(createMovie(c.Store, az, c.Now, c.BodyTimeout)))
	mux.Handle("GET /v1/movies/{id}", v1(getMovie(c.Store, az, newBodies(4096))))
	mux.Handle("PUT /v1/movies/{id}", v1(updateMovie(c.Store, az, c.Now, c.BodyTimeout)))
	mux.Handle("DELETE /v1/movies/{id}", v1(deleteMovie(c.Store, az)))
	mux.Handle("POST "+importRoute, v1(importMovie(c.Store, az, newImporter(c), c.Now, c.BodyTimeout)))

	mux.Handle("GET /healthz", probe(healthz))
	mux.Handle("GET /readyz", probe(readyz(c.Logger, check{"store", c.Store.Ready}, check{"opa", c.Authorizer.Ping})))
	mux.Handle("GET /openapi.yaml", public(openapi(c.OpenAPI)))

	// Known paths with other methods: 405 with Allow. Anything else: 404.
	mux.Handle("/v1/movies", public(methodNotAllowed("GET, HEAD, POST")))
	mux.Handle("/v1/movies/{id}", public(itemMethodNotAllowed))
	for _, m := range []string{"GET", "PUT", "DELETE"} { // more specific than the item's routes
		mux.Handle(m+" "+importRoute, public(methodNotAllowed("POST")))
	}
	for _, p := range []string{"/healthz", "/readyz", "/openapi.yaml"} {
		mux.Handle(p, public(methodNotAllowed("GET, HEAD")))
	}
	mux.Handle("/", public(notFound))

	inflight := limitInFlight(c.MaxInFlight, limit.NewConcurrency(c.MaxInFlightPerIP), c.Metrics, mux)
	return frame(c, m, h(inflight))
}

// itemMethodNotAllowed answers the methods /v1/movies/{id} and
// /v1/movies/import do not take.
func itemMethodNotAllowed(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("id") == "import" {
		return methodNotAllowed("POST")(w, r)
	}
	return methodNotAllowed("GET, HEAD, PUT, DELETE")(w, r)
}

func newImporter(c *Config) *importer {
	return &importer{src: c.Importer, perSubject: newBucket(c.ImportSubjectLimit, "import"), global: c.ImportLimit,
		inflight: make(chan struct{}, c.MaxImportsInFlight), log: c.Logger}
}
