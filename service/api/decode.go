package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/secure-movie-service/sms/service/internal/strictjson"
)

// maxBody is the largest request body accepted.
const maxBody = 64 << 10

var errTooLarge = &httpError{status: http.StatusRequestEntityTooLarge, detail: fmt.Sprintf("the body must be at most %d bytes", maxBody)}

// decode reads exactly one JSON object from r's body into v: the content type
// must be JSON, the body at most maxBody bytes of valid UTF-8, with no
// duplicate keys, no unknown fields and nothing after the object. The body
// must arrive within timeout (408 otherwise), so a client that declares a
// body and sends nothing holds its slot only that long.
func decode(w http.ResponseWriter, r *http.Request, timeout time.Duration, v any) error {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
		return &httpError{status: http.StatusUnsupportedMediaType, detail: "the body must be application/json"}
	}
	if r.ContentLength > maxBody { // declared too large: answer before reading a byte
		return errTooLarge
	}
	// Not every ResponseWriter supports deadlines (httptest's does not); the
	// server's ReadTimeout still bounds the read there.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return &httpError{status: http.StatusRequestTimeout, detail: "the body did not arrive in time"}
		}
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return errTooLarge
		}
		return &httpError{status: http.StatusBadRequest, detail: "the body could not be read"}
	}
	if e := decodeBytes(body, v); e != nil {
		return e // not a typed nil in the error interface
	}
	return nil
}

func decodeBytes(body []byte, v any) *httpError {
	err := strictjson.Decode(body, v)
	if err == nil {
		return nil
	}
	fieldErr := func(field, msg string) *httpError {
		return &httpError{status: http.StatusBadRequest, detail: "the body has invalid fields",
			fields: []fieldError{{Field: truncate(field, 64), Message: msg}}}
	}
	if ue, ok := errors.AsType[*strictjson.UnknownFieldError](err); ok {
		return fieldErr(ue.Name, "is not a known field")
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
		return fieldErr(te.Field, "must be "+jsonKind(te.Type.Kind().String()))
	}
	if se, ok := errors.AsType[*strictjson.Error](err); ok {
		return &httpError{status: http.StatusBadRequest, detail: "the body must be one strict JSON object: " + se.Reason}
	}
	return &httpError{status: http.StatusBadRequest, detail: "the body must be one JSON object"}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64":
		return "an integer"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	}
	return "of another type"
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
