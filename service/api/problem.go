package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/secure-movie-service/sms/service/store"
)

// problem is an RFC 9457 problem detail. Detail is always a sentence we
// wrote, never the text of an internal error.
type problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance"`
	Errors   []fieldError `json:"errors,omitempty"`
}

// fieldError names one invalid input field and what is wrong with it.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail string, errs []fieldError) {
	p := problem{
		Type:     "about:blank",
		Title:    http.StatusText(status),
		Status:   status,
		Detail:   detail,
		Instance: "urn:request:" + info(r).id,
		Errors:   errs,
	}
	if errs != nil {
		p.Type = "https://secure-movie-service.dev/problems/validation"
	}
	body, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del("ETag")
	w.WriteHeader(status)
	w.Write(body)
}

// storeErrors maps store errors to what the client is told.
var storeErrors = []struct {
	err    error
	status int
	detail string
}{
	{store.ErrNotFound, http.StatusNotFound, "no movie has that id"},
	{store.ErrVersionMismatch, http.StatusPreconditionFailed, "the movie changed since you read it; GET it again for its current ETag"},
	{store.ErrExists, http.StatusConflict, "a movie with that id exists"},
	{store.ErrNoSpace, http.StatusInsufficientStorage, "the service cannot store more data right now; try again later"},
	{store.ErrUnavailable, http.StatusServiceUnavailable, "storage is unavailable; try again later"},
}

// storeProblem answers a store error: known errors by the table, anything
// else as a generic 500. The error text goes only to the log.
func storeProblem(c *Config, w http.ResponseWriter, r *http.Request, err error) {
	for _, e := range storeErrors {
		if errors.Is(err, e.err) {
			if e.status >= 500 {
				c.Logger.Error("store", "log", "error", "request_id", info(r).id, "error", err.Error())
				w.Header().Set("Retry-After", "5")
			}
			writeProblem(w, r, e.status, e.detail, nil)
			return
		}
	}
	c.Logger.Error("store", "log", "error", "request_id", info(r).id, "error", err.Error())
	writeProblem(w, r, http.StatusInternalServerError, "internal error", nil)
}

func notFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, "no such resource", nil)
	})
}

func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeProblem(w, r, http.StatusMethodNotAllowed, "method not allowed on this resource", nil)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own types are encoded; this is a bug
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}
