package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// UnknownFieldError is a member whose name is not exactly a field of the
// target: unknown, or a known name in another case.
type UnknownFieldError struct{ Name string }

func (e *UnknownFieldError) Error() string { return "unknown field " + Quote(e.Name) }

// Decode checks data and decodes it into v, a pointer to a struct: every
// member name must be exactly the JSON name of a field (at every depth).
// A value of the wrong type is a *json.UnmarshalTypeError.
func Decode(data []byte, v any) error {
	if err := Check(data); err != nil {
		return err
	}
	if err := exactNames(data, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// exactNames walks data along t and fails on the first member (in sorted
// order) whose name is not exactly one of its struct's JSON field names.
func exactNames(data []byte, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return nil
	}
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return nil
	case t.Kind() == reflect.Struct && data[0] == '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil {
			return nil // the decoder reports it
		}
		fields := fieldTypes(t)
		for _, name := range slices.Sorted(maps.Keys(m)) {
			ft, ok := fields[name]
			if !ok {
				return &UnknownFieldError{Name: name}
			}
			if err := exactNames(m[name], ft); err != nil {
				return err
			}
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && data[0] == '[':
		var elems []json.RawMessage
		if json.Unmarshal(data, &elems) != nil {
			return nil
		}
		for _, e := range elems {
			if err := exactNames(e, t.Elem()); err != nil {
				return err
			}
		}
	}
	return nil
}

// fieldTypes maps the JSON names of t's exported fields to their types.
func fieldTypes(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
