// Package strictjson is the service's one reader of untrusted JSON (request
// bodies, token headers and payloads, JWKS documents). It is strict where
// encoding/json is lenient: invalid UTF-8, a member name repeated in one
// object (also when the two differ only by case or Unicode folding, which
// encoding/json would merge), nesting deeper than MaxDepth, a number no
// float64 holds (1e400), anything but one object at the top, and trailing
// data are errors; Decode accepts only the exact field names of its target,
// Pick (for documents from other services) reads the members its target
// names and skips the rest. It imports only the standard library.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of objects and arrays.
const MaxDepth = 32

// Error says why data is not strict JSON; its text is safe to show the
// sender (names in it are quoted and cut short).
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

func bad(format string, args ...any) error { return &Error{Reason: fmt.Sprintf(format, args...)} }

var errNotObject = &Error{Reason: "not a JSON object"}

// Check reports whether data is exactly one strict JSON object.
func Check(data []byte) error {
	if !utf8.Valid(data) {
		return bad("invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return syntax(err)
	}
	if err := walkObject(dec, 1); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("trailing data after the JSON object")
	}
	return nil
}

// syntax describes a token error: the decoder's syntax error (which quotes
// at most one character of the input), else "not a JSON object".
func syntax(err error) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return &Error{Reason: se.Error()}
	}
	return errNotObject
}

// walkObject consumes the rest of an object whose '{' was read.
func walkObject(dec *json.Decoder, depth int) error {
	seen := map[string]string{} // folded name → name as sent
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntax(err)
		}
		name, _ := tok.(string) // the decoder yields only strings in name position
		folded := fold(name)
		if first, ok := seen[folded]; ok {
			if first == name {
				return bad("duplicate member %s", Quote(name))
			}
			return bad("duplicate member %s (as %s, which differs only in case)", Quote(first), Quote(name))
		}
		seen[folded] = name
		if err := walkValue(dec, depth); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return errNotObject
	}
	return nil
}

func walkValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return syntax(err)
	}
	if n, ok := tok.(json.Number); ok {
		// Beyond float64 (1e400): encoding/json would refuse it only where a
		// field reads it, and every other reader would disagree on its value.
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			return bad("number %s out of range", Quote(string(n)))
		}
		return nil
	}
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return nil
	}
	if depth >= MaxDepth {
		return bad("JSON nested too deeply (more than %d levels)", MaxDepth)
	}
	if tok == json.Delim('{') {
		return walkObject(dec, depth+1)
	}
	for dec.More() {
		if err := walkValue(dec, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		return errNotObject
	}
	return nil
}

// fold maps every rune to the smallest member of its Unicode simple-fold
// orbit: the equivalence encoding/json uses to match names to fields ("S",
// "s" and "ſ" fold together).
func fold(s string) string {
	var b strings.Builder
	for _, r := range s {
		low := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			low = min(low, f)
		}
		b.WriteRune(low)
	}
	return b.String()
}

// Object checks data and returns its members unparsed, for callers that
// look members up by their exact names.
func Object(data []byte) (map[string]json.RawMessage, error) {
	if err := Check(data); err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// Quote quotes s for an error message, cut to a length that keeps logs
// readable whatever an attacker sent.
func Quote(s string) string {
	const limit = 64
	if len(s) > limit {
		return fmt.Sprintf("%q…", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}
