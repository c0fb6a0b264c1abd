package api

import (
	"bytes"
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
)

// maxBody is the largest request body accepted.
const maxBody = 64 << 10

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
	// Not every ResponseWriter supports deadlines (httptest's does not); the
	// server's ReadTimeout still bounds the read there.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return &httpError{status: http.StatusRequestTimeout, detail: "the body did not arrive in time"}
		}
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &httpError{status: http.StatusRequestEntityTooLarge, detail: fmt.Sprintf("the body must be at most %d bytes", maxBody)}
		}
		return &httpError{status: http.StatusBadRequest, detail: "the body could not be read"}
	}
	if e := decodeBytes(body, v); e != nil {
		return e // not a typed nil in the error interface
	}
	return nil
}

func decodeBytes(body []byte, v any) *httpError {
	bad := func(detail string) *httpError { return &httpError{status: http.StatusBadRequest, detail: detail} }
	if !utf8.Valid(body) {
		return bad("the body must be valid UTF-8")
	}
	if err := checkStructure(body); err != nil {
		return bad(err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return &httpError{status: http.StatusBadRequest, detail: "the body has invalid fields",
				fields: []fieldError{{Field: te.Field, Message: "must be " + jsonKind(te.Type.Kind().String())}}}
		}
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return &httpError{status: http.StatusBadRequest, detail: "the body has invalid fields",
				fields: []fieldError{{Field: strings.Trim(field, `"`), Message: "is not a known field"}}}
		}
		return bad("the body must be one JSON object")
	}
	return nil
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

// checkStructure walks the JSON tokens once: the body must be exactly one
// object, with no duplicate key in any object, and nothing after it.
func checkStructure(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return errors.New("the body must be one JSON object")
	}
	if err := walkObject(dec, 1); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("the body must hold exactly one JSON object and nothing after it")
	}
	return nil
}

const maxDepth = 32

// walkObject consumes the rest of an object whose '{' was read.
func walkObject(dec *json.Decoder, depth int) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("the body must be one JSON object")
		}
		key := tok.(string)
		if seen[key] {
			return fmt.Errorf("the body has the key %q more than once", truncate(key, 64))
		}
		seen[key] = true
		if err := walkValue(dec, depth); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return errors.New("the body must be one JSON object")
	}
	return nil
}

func walkValue(dec *json.Decoder, depth int) error {
	if depth > maxDepth {
		return errors.New("the body is nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return errors.New("the body must be one JSON object")
	}
	switch tok {
	case json.Delim('{'):
		return walkObject(dec, depth+1)
	case json.Delim('['):
		for dec.More() {
			if err := walkValue(dec, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return errors.New("the body must be one JSON object")
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
