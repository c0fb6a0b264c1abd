package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of JSON values in headers, payloads and
// JWKS documents.
const maxJSONDepth = 32

// decodeObject parses data as exactly one JSON object and returns its members
// unparsed. It is strict where encoding/json is lenient: invalid UTF-8,
// duplicate member names at any depth, nesting deeper than maxJSONDepth and
// trailing data are errors. Member names are matched exactly by the caller
// (never case-insensitively, as encoding/json does for struct fields).
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("invalid UTF-8")
	}
	if err := checkStrict(data); err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// frame is one open object or array while checkStrict walks a document.
type frame struct {
	seen    map[string]bool // member names so far; nil for arrays
	wantKey bool            // the next token of an object is a member name
}

// checkStrict walks data token by token and fails on a top level that is not
// an object, a duplicate member name, excessive nesting or trailing data.
func checkStrict(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*frame
	for first := true; ; first = false {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) != 0 || first {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if err != nil {
			return err
		}
		if first && tok != json.Delim('{') {
			return errors.New("not a JSON object")
		}
		if !first && len(stack) == 0 {
			return errors.New("trailing data after JSON object")
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.seen != nil && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				valueDone(stack)
				continue
			}
			name, _ := tok.(string) // a member name is always a string token
			if top.seen[name] {
				return fmt.Errorf("duplicate member %s", quote(name))
			}
			top.seen[name] = true
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxJSONDepth {
				return errors.New("JSON nested too deeply")
			}
			f := &frame{}
			if tok == json.Delim('{') {
				f.seen, f.wantKey = map[string]bool{}, true
			}
			stack = append(stack, f)
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone(stack)
		default:
			valueDone(stack)
		}
	}
}

// valueDone records that a complete value was read inside the innermost open
// object, whose next token is then a member name again.
func valueDone(stack []*frame) {
	if len(stack) > 0 && stack[len(stack)-1].seen != nil {
		stack[len(stack)-1].wantKey = true
	}
}

// decodeString decodes a JSON string. Unlike json.Unmarshal into a string, it
// fails on null and on every other type.
func decodeString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", errors.New("not a string")
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// decodeStrings decodes a JSON array whose elements are all strings.
func decodeStrings(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, errors.New("not an array")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		s, err := decodeString(e)
		if err != nil {
			return nil, errors.New("array element is not a string")
		}
		out = append(out, s)
	}
	return out, nil
}

// quote quotes s for an error message, cut to a length that keeps logs
// readable whatever an attacker sent.
func quote(s string) string {
	const limit = 64
	if len(s) > limit {
		return fmt.Sprintf("%q…", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}
