package auth

import (
	"encoding/json"
	"errors"

	"github.com/secure-movie-service/sms/service/internal/strictjson"
)

// decodeObject parses data as exactly one strict JSON object (see
// strictjson) and returns its members unparsed. Member names are matched
// exactly by the caller, never case-insensitively as encoding/json does.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	return strictjson.Object(data)
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

// quote quotes s for an error message, cut short.
func quote(s string) string { return strictjson.Quote(s) }
