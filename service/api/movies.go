package api

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/service/authz"
	"github.com/secure-movie-service/sms/service/store"
)

const (
	collectionRoute = "/v1/movies"
	itemRoute       = "/v1/movies/{id}"
)

// movieList is the body of GET /v1/movies.
type movieList struct {
	Items      []store.Movie `json:"items"`
	NextCursor *string       `json:"next_cursor"`
}

func listMovies(c *Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorize(c, w, r, collectionRoute, nil) {
			return
		}
		q, errs := parseListQuery(r.URL.Query(), c.Now())
		if errs != nil {
			writeProblem(w, r, http.StatusBadRequest, "the query has invalid parameters", errs)
			return
		}
		items, next, err := c.Store.List(r.Context(), q)
		if err != nil {
			storeProblem(c, w, r, err)
			return
		}
		out := movieList{Items: items}
		if next != "" {
			cur := encodeCursor(next)
			out.NextCursor = &cur
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func getMovie(c *Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, ok := loadAndAuthorize(c, w, r)
		if !ok {
			return
		}
		w.Header().Set("ETag", etag(m.Version))
		writeJSON(w, http.StatusOK, m)
	})
}

func createMovie(c *Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorize(c, w, r, collectionRoute, nil) {
			return
		}
		in, ok := readMovie(c, w, r)
		if !ok {
			return
		}
		now := c.Now().UTC()
		m := in.movie()
		m.ID, m.CreatedBy, m.CreatedAt, m.UpdatedAt = newID(now), identity(r).Sub, now, now
		m, err := c.Store.Create(r.Context(), m)
		if err != nil {
			storeProblem(c, w, r, err)
			return
		}
		w.Header().Set("Location", collectionRoute+"/"+m.ID)
		w.Header().Set("ETag", etag(m.Version))
		writeJSON(w, http.StatusCreated, m)
	})
}

func updateMovie(c *Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		old, ok := loadAndAuthorize(c, w, r)
		if !ok || !preconditions(w, r, old, true) {
			return
		}
		in, ok := readMovie(c, w, r)
		if !ok {
			return
		}
		m := in.movie()
		m.ID, m.CreatedBy, m.CreatedAt, m.UpdatedAt = old.ID, old.CreatedBy, old.CreatedAt, c.Now().UTC()
		m, err := c.Store.Update(r.Context(), m, old.Version)
		if err != nil {
			storeProblem(c, w, r, err)
			return
		}
		w.Header().Set("ETag", etag(m.Version))
		writeJSON(w, http.StatusOK, m)
	})
}

func deleteMovie(c *Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		old, ok := loadAndAuthorize(c, w, r)
		if !ok || !preconditions(w, r, old, false) {
			return
		}
		if err := c.Store.Delete(r.Context(), old.ID, old.Version); err != nil {
			storeProblem(c, w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// loadAndAuthorize loads the movie the request names and asks OPA about
// it, so ownership is decided on the stored owner. When the movie does not
// exist, the client learns that only if OPA lets it read the collection.
func loadAndAuthorize(c *Config, w http.ResponseWriter, r *http.Request) (store.Movie, bool) {
	id := r.PathValue("id")
	var m store.Movie
	err := store.ErrNotFound
	if validID(id) {
		m, err = c.Store.Get(r.Context(), id)
	}
	if errors.Is(err, store.ErrNotFound) {
		if authorizeAs(c, w, r, http.MethodGet, collectionRoute, nil) {
			storeProblem(c, w, r, err)
		}
		return m, false
	}
	if err != nil {
		storeProblem(c, w, r, err)
		return m, false
	}
	return m, authorize(c, w, r, itemRoute, &authz.Resource{Type: "movie", ID: m.ID, Owner: m.CreatedBy})
}

func authorize(c *Config, w http.ResponseWriter, r *http.Request, route string, res *authz.Resource) bool {
	return authorizeAs(c, w, r, r.Method, route, res)
}

// authorizeAs asks OPA and answers 403 (it said no) or 503 (it could not
// answer). The decision id and reasons go to the audit log only.
func authorizeAs(c *Config, w http.ResponseWriter, r *http.Request, method, route string, res *authz.Resource) bool {
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
	d, err := c.Authorizer.Decide(r.Context(), in)
	ri := info(r)
	ri.decisionID = d.ID
	attrs := []any{"log", "audit", "request_id", ri.id, "subject", id.Sub, "method", method, "route", route,
		"allow", d.Allow, "decision_id", d.ID, "reasons", d.Reasons, "cached", d.Cached}
	if res != nil {
		attrs = append(attrs, "resource_id", res.ID, "owner", res.Owner)
	}
	if err != nil {
		c.Logger.Warn("authorization unavailable", append(attrs, "error", err.Error())...)
		w.Header().Set("Retry-After", "1")
		writeProblem(w, r, http.StatusServiceUnavailable, "authorization is unavailable; try again later", nil)
		return false
	}
	c.Logger.Info("authorization", attrs...)
	if !d.Allow {
		writeProblem(w, r, http.StatusForbidden, "you are not allowed to do this", nil)
		return false
	}
	return true
}

// preconditions applies If-Match: PUT requires it (428), DELETE honours it
// when sent; a tag that is not the current one is 412.
func preconditions(w http.ResponseWriter, r *http.Request, m store.Movie, required bool) bool {
	vals := r.Header.Values("If-Match")
	if len(vals) == 0 {
		if required {
			writeProblem(w, r, http.StatusPreconditionRequired, "send If-Match with the ETag you last read", nil)
			return false
		}
		return true
	}
	current := etag(m.Version)
	for _, v := range vals {
		for tag := range strings.SplitSeq(v, ",") {
			if tag = strings.TrimSpace(tag); tag == "*" || tag == current {
				return true
			}
		}
	}
	writeProblem(w, r, http.StatusPreconditionFailed, "the movie changed since you read it; GET it again for its current ETag", nil)
	return false
}

// readMovie decodes and validates a movie body, answering 4xx on failure.
func readMovie(c *Config, w http.ResponseWriter, r *http.Request) (movieInput, bool) {
	var in movieInput
	if e := decode(r, w, &in); e != nil {
		writeProblem(w, r, e.status, e.detail, e.fields)
		return in, false
	}
	if errs := in.validate(c.Now()); errs != nil {
		writeProblem(w, r, http.StatusBadRequest, "the movie has invalid fields", errs)
		return in, false
	}
	return in, true
}

func (in movieInput) movie() store.Movie {
	m := store.Movie{Title: *in.Title, Year: *in.Year, Genres: in.Genres}
	if m.Genres == nil {
		m.Genres = []string{}
	}
	if in.Director != nil {
		m.Director = *in.Director
	}
	return m
}

func etag(version uint64) string { return `"` + strconv.FormatUint(version, 10) + `"` }

// newID returns a 32-hex-digit id: 48 bits of milliseconds, so ids sort by
// creation time and pages come in that order, then 80 random bits.
func newID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}

func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
