package api

import "net/http"

// routes lists every route and its middleware. /v1 routes need a verified
// token and an allow from OPA; the health and document routes are public.
func routes(c *Config) http.Handler {
	mux := http.NewServeMux()
	v1 := func(h http.Handler) http.Handler { return authenticate(c, h) }
	public := func(h http.Handler) http.Handler { return limitIP(c, h) }

	mux.Handle("GET /v1/movies", v1(listMovies(c)))
	mux.Handle("POST /v1/movies", v1(createMovie(c)))
	mux.Handle("GET /v1/movies/{id}", v1(getMovie(c)))
	mux.Handle("PUT /v1/movies/{id}", v1(updateMovie(c)))
	mux.Handle("DELETE /v1/movies/{id}", v1(deleteMovie(c)))

	mux.Handle("GET /healthz", public(healthz()))
	mux.Handle("GET /readyz", public(readyz(c)))
	mux.Handle("GET /openapi.yaml", public(openapi(c.OpenAPI)))

	// Known paths with other methods: 405 with Allow. Anything else: 404.
	mux.Handle("/v1/movies", public(methodNotAllowed("GET, HEAD, POST")))
	mux.Handle("/v1/movies/{id}", public(methodNotAllowed("GET, HEAD, PUT, DELETE")))
	for _, p := range []string{"/healthz", "/readyz", "/openapi.yaml"} {
		mux.Handle(p, public(methodNotAllowed("GET, HEAD")))
	}
	mux.Handle("/", public(notFound()))

	return frame(c, limitInFlight(c.MaxInFlight, mux))
}
