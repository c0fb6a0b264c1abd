package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/secure-movie-service/sms/service/authz"
	"github.com/secure-movie-service/sms/service/store"
	"github.com/secure-movie-service/sms/service/upstream"
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

// httpError is a failure that already knows its response: input errors,
// 401 and 429 with their headers, routing errors. Every other error is
// looked up in errorTable.
type httpError struct {
	status int
	detail string
	fields []fieldError
	header map[string]string // e.g. Retry-After, WWW-Authenticate, Allow
}

func (e *httpError) Error() string { return e.detail }

// Sentinels of the API layer itself; errorTable maps them with the store's and authz's.
var (
	errForbidden            = errors.New("api: forbidden")
	errPreconditionRequired = errors.New("api: If-Match required")
	errAtCapacity           = errors.New("api: at capacity")
	errTooManyInFlight      = errors.New("api: too many requests in flight from one client")
	errImportsAtCapacity    = errors.New("api: imports at capacity")
)

// retryError is an error that knows how long the client should wait; its
// Retry-After replaces the table's.
type retryError interface {
	error
	RetryAfter() time.Duration
}

// waitError is err with the wait a limiter computed.
type waitError struct {
	err  error
	wait time.Duration
}

func (e *waitError) Error() string             { return e.err.Error() }
func (e *waitError) Unwrap() error             { return e.err }
func (e *waitError) RetryAfter() time.Duration { return e.wait }

// errorTable is the one mapping from error to response. Anything not here
// and not an *httpError is a generic 500.
var errorTable = []struct {
	err        error
	status     int
	detail     string
	retryAfter string
}{
	{store.ErrNotFound, http.StatusNotFound, "no movie has that id", ""},
	{store.ErrVersionMismatch, http.StatusPreconditionFailed, "the movie changed since you read it; GET it again for its current ETag", ""},
	{store.ErrExists, http.StatusConflict, "a movie with that id exists", ""},
	{store.ErrNoSpace, http.StatusInsufficientStorage, "the service cannot store more data right now; try again later", "5"},
	{store.ErrUnavailable, http.StatusServiceUnavailable, "storage is unavailable; try again later", "5"},
	{authz.ErrUnavailable, http.StatusServiceUnavailable, "authorization is unavailable; try again later", "1"},
	{errForbidden, http.StatusForbidden, "you are not allowed to do this", ""},
	{errPreconditionRequired, http.StatusPreconditionRequired, "send If-Match with the ETag you last read (not *)", ""},
	{errAtCapacity, http.StatusServiceUnavailable, "the service is at capacity; try again shortly", "1"},
	{errTooManyInFlight, http.StatusTooManyRequests, "too many of your requests are in progress; wait for them to finish", "1"},
	{errImportsAtCapacity, http.StatusServiceUnavailable, "imports are at capacity; try again shortly", "1"},
	{store.ErrSourceExists, http.StatusConflict, "a movie from that source record exists", ""},
	{upstream.ErrNotFound, http.StatusUnprocessableEntity, "the source has no record with that id", ""},
	{upstream.ErrNotAMovie, http.StatusUnprocessableEntity, "the source's record is not a movie (it has no title or no year)", ""},
	{upstream.ErrBusy, http.StatusServiceUnavailable, "the source is busy; try again later", "30"},
	{upstream.ErrTimeout, http.StatusGatewayTimeout, "the source did not answer in time; try again later", ""},
	{upstream.ErrBadGateway, http.StatusBadGateway, "the source could not be read; try again later", ""},
}

// response returns what the client is told about err.
func response(err error) *httpError {
	if he, ok := errors.AsType[*httpError](err); ok {
		return he
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			he := &httpError{status: e.status, detail: e.detail}
			if e.retryAfter != "" {
				he.header = map[string]string{"Retry-After": e.retryAfter}
				if re, ok := errors.AsType[retryError](err); ok {
					he.header["Retry-After"] = strconv.Itoa(max(1, seconds(re.RetryAfter())))
				}
			}
			return he
		}
	}
	return &httpError{status: http.StatusInternalServerError, detail: "internal error"}
}

// handlerFunc is a handler that returns its failure instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// serve is the one adapter from handlerFunc to http.Handler: a returned
// error becomes a problem response; server-side failures are logged with
// their text, which the client never sees.
func serve(log *slog.Logger, fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			writeError(log, w, r, err)
		}
	})
}

func writeError(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	he := response(err)
	if he.status >= 500 {
		log.Error("request failed", "log", "error", "request_id", info(r).id, "status", he.status, "error", err.Error())
	}
	for k, v := range he.header {
		w.Header().Set(k, v)
	}
	if r.ProtoMajor == 1 && r.ContentLength != 0 {
		// The body may be unread; closing spares the server reading (and the
		// client sending) it before the answer goes out. (Not on HTTP/2, where
		// it would shut down every stream of the connection.)
		w.Header().Set("Connection", "close")
	}
	writeProblem(w, r, he)
}

func writeProblem(w http.ResponseWriter, r *http.Request, he *httpError) {
	p := problem{
		Type:     "about:blank",
		Title:    http.StatusText(he.status),
		Status:   he.status,
		Detail:   he.detail,
		Instance: "urn:request:" + info(r).id,
		Errors:   he.fields,
	}
	if he.fields != nil {
		p.Type = "https://secure-movie-service.dev/problems/validation"
	}
	body, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del("ETag")
	w.WriteHeader(he.status)
	w.Write(body)
}

// maxFieldErrors bounds the errors one problem lists (the document says so).
const maxFieldErrors = 20

func invalid(detail string, fields []fieldError) error {
	return &httpError{status: http.StatusBadRequest, detail: detail, fields: fields[:min(len(fields), maxFieldErrors)]}
}

func notFound(http.ResponseWriter, *http.Request) error {
	return &httpError{status: http.StatusNotFound, detail: "no such resource"}
}

func methodNotAllowed(allow string) handlerFunc {
	return func(http.ResponseWriter, *http.Request) error {
		return &httpError{status: http.StatusMethodNotAllowed, detail: "method not allowed on this resource",
			header: map[string]string{"Allow": allow}}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err // only our own types are encoded; this is a bug, answered 500
	}
	writeBody(w, status, body)
	return nil
}

var hdrJSON = []string{"application/json; charset=utf-8"} // len == cap: see hdrNosniff

// writeBody writes status and a JSON body (always encoding/json's output, which escapes <, >
// and &), served as application/json beside nosniff and CSP default-src 'none'.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = hdrJSON
	w.WriteHeader(status)
	w.Write(body) // #nosec G705 -- encoding/json output as application/json with nosniff and CSP default-src 'none': no HTML context
}
