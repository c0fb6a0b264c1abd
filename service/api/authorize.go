package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/secure-movie-service/sms/service/authz"
	"github.com/secure-movie-service/sms/service/metrics"
)

// authorizer asks OPA about requests and writes the audit log line.
type authorizer struct {
	az       Authorizer
	compiler Compiler // nil: every decision is a full one
	log      *slog.Logger
	denials  *metrics.CounterVec
}

// check asks OPA about r acting on route (and res, when it names a stored
// movie): nil when allowed, errForbidden when OPA said no, an error wrapping
// authz.ErrUnavailable when it could not answer. The decision id and reasons
// go to the audit log only.
func (a *authorizer) check(r *http.Request, method, route string, res *authz.Resource) error {
	return a.decide(r, input(r, method, route, res))
}

// checkImport asks OPA about an import from source.
func (a *authorizer) checkImport(r *http.Request, source string) error {
	in := input(r, r.Method, importRoute, nil)
	in.Source = source
	return a.decide(r, in)
}

func input(r *http.Request, method, route string, res *authz.Resource) authz.Input {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	id := identity(r)
	if id.Roles == nil {
		id.Roles = []string{} // the policy reads a missing roles array as bad input
	}
	in := authz.Input{
		Method:   method,
		Route:    route,
		Path:     strings.Split(strings.Trim(r.URL.Path, "/"), "/"),
		Subject:  &authz.Subject{Sub: id.Sub, Roles: id.Roles},
		Resource: res,
	}
	if route == collectionRoute {
		in.Path = []string{"v1", "movies"}
	}
	return in
}

// Compiler compiles decisions; *authz.Client is the implementation. An
// Authorizer that is also a Compiler decides stored movies on the item route
// with the residual it compiled for the roles, method and route.
type Compiler interface {
	Compile(ctx context.Context, in authz.Input) (authz.Compiled, error)
}

func (a *authorizer) decide(r *http.Request, in authz.Input) error {
	method, route, res, id := in.Method, in.Route, in.Resource, in.Subject
	d, err := a.compiled(r, in)
	if errors.Is(err, authz.ErrNotCompiled) || errors.Is(err, authz.ErrUnavailable) {
		d, err = a.az.Decide(r.Context(), in) // OPA decides in full
	}
	ri := info(r)
	ri.decisionID = d.ID
	// Typed attributes (LogAttrs): no boxing or pairing of arguments per request.
	attrs := make([]slog.Attr, 0, 15)
	attrs = append(attrs, slog.String("log", "audit"), slog.String("request_id", ri.id), slog.String("subject", id.Sub),
		slog.String("method", method), slog.String("route", route), slog.Bool("allow", d.Allow),
		slog.String("decision_id", d.ID), slog.Any("reasons", d.Reasons), slog.Bool("cached", d.Cached),
		slog.Bool("compiled", d.Compiled))
	if res != nil {
		attrs = append(attrs, slog.String("resource_id", res.ID), slog.String("owner", res.Owner))
	}
	if in.Source != "" {
		attrs = append(attrs, slog.String("source", in.Source))
	}
	if err != nil {
		logAttrs(r.Context(), a.log, slog.LevelWarn, "authorization unavailable", attrs...)
		if !errors.Is(err, authz.ErrUnavailable) {
			err = fmt.Errorf("%w: %w", authz.ErrUnavailable, err)
		}
		return err
	}
	logAttrs(r.Context(), a.log, slog.LevelInfo, "authorization", attrs...)
	if !d.Allow {
		a.denials.Inc(route)
		return errForbidden
	}
	return nil
}

// compiled decides in with a compiled decision when it can: a stored movie
// on the item route. A new compile gets an audit line of its own, which the
// line of every request it decides names by its id. ErrNotCompiled (or
// ErrUnavailable) means: ask for the full decision.
func (a *authorizer) compiled(r *http.Request, in authz.Input) (authz.Decision, error) {
	if a.compiler == nil || in.Route != itemRoute || in.Resource == nil || in.Source != "" {
		return authz.Decision{}, authz.ErrNotCompiled
	}
	c, err := a.compiler.Compile(r.Context(), in)
	if err != nil {
		return authz.Decision{}, err
	}
	if !c.Cached {
		a.log.Info("authorization compiled", "log", "audit", "request_id", info(r).id, "compile_id", c.ID,
			"subject", in.Subject.Sub, "roles", in.Subject.Roles, "method", in.Method, "route", in.Route,
			"revision", c.Revision, "queries", c.Residual.Queries())
	}
	return authz.Decision{Allow: c.Apply(in), ID: c.ID, Cached: c.Cached, Compiled: true}, nil
}
