package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/service/limit"
	"github.com/secure-movie-service/sms/service/store"
	"github.com/secure-movie-service/sms/service/upstream"
)

const importRoute = "/v1/movies/import"

// importInput is the body of POST /v1/movies/import: a configured source
// and a record id in that source's syntax. Nothing else reaches the URL.
type importInput struct {
	Source *string `json:"source"`
	ID     *string `json:"id"`
}

// importer holds what an import needs beyond the store and OPA.
type importer struct {
	src        Importer
	perSubject *bucket        // 429
	global     *limit.Limiter // 503
	inflight   chan struct{}  // 503 when full
	log        *slog.Logger
}

// importMovie reads a record from an upstream catalogue and stores it as a
// movie the caller owns: 201 with Location and ETag, or 200 with the movie
// already imported from that record (before any fetch, and when a
// concurrent import won the race).
func importMovie(st store.Store, az *authorizer, im *importer, now func() time.Time, bodyTimeout time.Duration) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in importInput
		if err := decode(w, r, bodyTimeout, &in); err != nil {
			return err
		}
		if errs := in.validate(im.src); errs != nil {
			return invalid("the import has invalid fields", errs)
		}
		source, id := *in.Source, *in.ID
		if err := az.checkImport(r, source); err != nil {
			return err
		}
		if m, err := st.BySource(r.Context(), source, id); !errors.Is(err, store.ErrNotFound) {
			return existing(w, m, err)
		}
		m, err := im.fetch(w, r, source, id, now())
		if err != nil {
			im.audit(r, source, id, "", err)
			return err
		}
		m, err = st.Create(r.Context(), m)
		if errors.Is(err, store.ErrSourceExists) {
			m, err = st.BySource(r.Context(), source, id)
			return existing(w, m, err)
		}
		im.audit(r, source, id, m.ID, err)
		if err != nil {
			return err
		}
		w.Header().Set("Location", collectionRoute+"/"+m.ID)
		w.Header().Set("ETag", etag(m.Version))
		return writeJSON(w, http.StatusCreated, m)
	}
}

func existing(w http.ResponseWriter, m store.Movie, err error) error {
	if err != nil {
		return err
	}
	w.Header().Set("Location", collectionRoute+"/"+m.ID)
	w.Header().Set("ETag", etag(m.Version))
	return writeJSON(w, http.StatusOK, m)
}

// fetch applies the import limits, reads the record and turns it into a
// movie owned by the caller, validated with the rules of a client's body.
func (im *importer) fetch(w http.ResponseWriter, r *http.Request, source, id string, now time.Time) (store.Movie, error) {
	release, err := im.acquire(w, identity(r).Sub)
	if err != nil {
		return store.Movie{}, err
	}
	defer release()
	rec, err := im.src.Fetch(r.Context(), source, id)
	if err != nil {
		return store.Movie{}, err
	}
	in := recordInput(rec)
	if errs := in.validate(now); errs != nil {
		return store.Movie{}, &httpError{status: http.StatusUnprocessableEntity,
			detail: "the source's record does not make a valid movie", fields: errs[:min(len(errs), maxFieldErrors)]}
	}
	t := now.UTC()
	m := in.movie()
	m.ID, m.CreatedBy, m.CreatedAt, m.UpdatedAt = newID(t), identity(r).Sub, t, t
	m.Source, m.SourceID = source, id
	return m, nil
}

// acquire takes a token from the caller's import bucket (429), one from the
// global bucket and a fetch slot (503); release gives the slot back.
func (im *importer) acquire(w http.ResponseWriter, sub string) (release func(), err error) {
	if err := im.perSubject.take(w, "sub:"+sub); err != nil {
		return nil, err
	}
	if im.global != nil {
		if res := im.global.Take("all"); !res.OK {
			return nil, &waitError{err: errImportsAtCapacity, wait: res.Wait}
		}
	}
	select {
	case im.inflight <- struct{}{}:
		return func() { <-im.inflight }, nil
	default:
		return nil, errImportsAtCapacity
	}
}

// recordInput is a catalogue record as a client's body would state it.
// Genres that a client could not send (too long, unprintable, repeated) are
// left out rather than failing the import; the rest is validated as sent.
func recordInput(rec upstream.Record) movieInput {
	in := movieInput{Title: &rec.Title, Year: &rec.Year, Director: &rec.Director, Genres: []string{}}
	seen := map[string]bool{}
	for _, g := range rec.Genres {
		if k := strings.ToLower(g); printable(g, 1, maxGenre) && !seen[k] && len(in.Genres) < maxGenres {
			seen[k] = true
			in.Genres = append(in.Genres, g)
		}
	}
	return in
}

func (in *importInput) validate(src Importer) []fieldError {
	var errs []fieldError
	switch {
	case in.Source == nil:
		errs = append(errs, fieldError{Field: "source", Message: "is required"})
	case !src.Known(*in.Source):
		errs = append(errs, fieldError{Field: "source", Message: "is not a configured source"})
	case in.ID == nil:
	case !src.ValidID(*in.Source, *in.ID):
		errs = append(errs, fieldError{Field: "id", Message: "is not an id of that source"})
	}
	if in.ID == nil {
		errs = append(errs, fieldError{Field: "id", Message: "is required"})
	}
	return errs
}

// audit logs the outcome of a fetch: source and id (both checked against
// fixed syntax), never anything the catalogue sent.
func (im *importer) audit(r *http.Request, source, id, movieID string, err error) {
	im.log.Info("import", "log", "audit", "request_id", info(r).id, "subject", identity(r).Sub,
		"source", source, "source_id", id, "outcome", upstream.Outcome(err), "movie_id", movieID)
}
