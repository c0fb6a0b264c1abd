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

func listMovies(st store.Store, az *authorizer, now func() time.Time) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := az.check(r, r.Method, collectionRoute, nil); err != nil {
			return err
		}
		q, errs := parseListQuery(r.URL.Query(), now())
		if errs != nil {
			return invalid("the query has invalid parameters", errs)
		}
		items, next, err := st.List(r.Context(), q)
		if err != nil {
			return err
		}
		out := movieList{Items: items}
		if next != "" {
			cur := encodeCursor(next)
			out.NextCursor = &cur
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

func getMovie(st store.Store, az *authorizer, bs *bodies) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		m, err := loadAndAuthorize(st, az, r)
		if err != nil {
			return err
		}
		body, err := bs.get(m)
		if err != nil {
			return err
		}
		w.Header()["Etag"] = body.etag
		writeBody(w, http.StatusOK, body.json)
		return nil
	}
}

func createMovie(st store.Store, az *authorizer, now func() time.Time, bodyTimeout time.Duration) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := az.check(r, r.Method, collectionRoute, nil); err != nil {
			return err
		}
		in, err := readMovie(w, r, now(), bodyTimeout)
		if err != nil {
			return err
		}
		t := now().UTC()
		m := in.movie()
		m.ID, m.CreatedBy, m.CreatedAt, m.UpdatedAt = newID(t), identity(r).Sub, t, t
		if m, err = st.Create(r.Context(), m); err != nil {
			return err
		}
		w.Header().Set("Location", collectionRoute+"/"+m.ID)
		w.Header().Set("ETag", etag(m.Version))
		return writeJSON(w, http.StatusCreated, m)
	}
}

func updateMovie(st store.Store, az *authorizer, now func() time.Time, bodyTimeout time.Duration) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		old, err := loadAndAuthorize(st, az, r)
		if err != nil {
			return err
		}
		if err := preconditions(r, old, true); err != nil {
			return err
		}
		in, err := readMovie(w, r, now(), bodyTimeout)
		if err != nil {
			return err
		}
		m := in.movie()
		m.ID, m.CreatedBy, m.CreatedAt, m.UpdatedAt = old.ID, old.CreatedBy, old.CreatedAt, now().UTC()
		m.Source, m.SourceID = old.Source, old.SourceID
		if m, err = st.Update(r.Context(), m, old.Version); err != nil {
			return err
		}
		w.Header().Set("ETag", etag(m.Version))
		return writeJSON(w, http.StatusOK, m)
	}
}

func deleteMovie(st store.Store, az *authorizer) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		old, err := loadAndAuthorize(st, az, r)
		if err != nil {
			return err
		}
		if err := preconditions(r, old, false); err != nil {
			return err
		}
		if err := st.Delete(r.Context(), old.ID, old.Version); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// loadAndAuthorize loads the movie the request names and asks OPA about
// it, so ownership is decided on the stored owner. When the movie does not
// exist, the client learns that only if OPA lets it read the collection.
func loadAndAuthorize(st store.Store, az *authorizer, r *http.Request) (store.Movie, error) {
	id := r.PathValue("id")
	var m store.Movie
	err := store.ErrNotFound
	if validID(id) {
		m, err = st.Get(r.Context(), id)
	}
	if errors.Is(err, store.ErrNotFound) {
		if aerr := az.check(r, http.MethodGet, collectionRoute, nil); aerr != nil {
			return m, aerr
		}
		return m, err
	}
	if err != nil {
		return m, err
	}
	return m, az.check(r, r.Method, itemRoute, &authz.Resource{Type: "movie", ID: m.ID, Owner: m.CreatedBy})
}

// preconditions applies If-Match: PUT requires it with a concrete ETag
// (428 when missing or only "*", which would let a blind overwrite through),
// DELETE honours it when sent; a tag that is not the current one is 412.
func preconditions(r *http.Request, m store.Movie, required bool) error {
	current := etag(m.Version)
	sent, concrete := false, false
	for _, v := range r.Header.Values("If-Match") {
		for tag := range strings.SplitSeq(v, ",") {
			tag = strings.TrimSpace(tag)
			sent = true
			if tag == current {
				return nil
			}
			if tag == "*" && !required {
				return nil
			}
			concrete = concrete || tag != "*"
		}
	}
	if required && !concrete {
		return errPreconditionRequired
	}
	if !sent {
		return nil
	}
	return store.ErrVersionMismatch
}

// readMovie decodes and validates a movie body.
func readMovie(w http.ResponseWriter, r *http.Request, now time.Time, timeout time.Duration) (movieInput, error) {
	var in movieInput
	if err := decode(w, r, timeout, &in); err != nil {
		return in, err
	}
	if errs := in.validate(now); errs != nil {
		return in, invalid("the movie has invalid fields", errs)
	}
	return in, nil
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
