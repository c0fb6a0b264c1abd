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
	if err := exactNames(data, reflect.TypeOf(v), false); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// Pick checks data as Check does and decodes into v, a pointer to a struct,
// the members whose names are exactly v's JSON field names (at every depth),
// skipping every other member: for documents from other services, which
// carry much the service does not read. A member whose name differs from a
// field's only in case is an *UnknownFieldError, never read into the field.
// A value of the wrong type is a *json.UnmarshalTypeError.
func Pick(data []byte, v any) error {
	if err := Check(data); err != nil {
		return err
	}
	if err := exactNames(data, reflect.TypeOf(v), true); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// exactNames walks data along t and fails on the first member (in sorted
// order) whose name is not exactly one of its struct's JSON field names.
// With skip, only names that fold to a field's are failures; other unknown
// members are skipped (encoding/json ignores them too).
func exactNames(data []byte, t reflect.Type, skip bool) error {
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
		folded := map[string]bool{}
		for name := range fields {
			folded[fold(name)] = true
		}
		for _, name := range slices.Sorted(maps.Keys(m)) {
			ft, ok := fields[name]
			if !ok && skip && !folded[fold(name)] {
				continue
			}
			if !ok {
				return &UnknownFieldError{Name: name}
			}
			if err := exactNames(m[name], ft, skip); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Map && data[0] == '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil {
			return nil
		}
		for _, name := range slices.Sorted(maps.Keys(m)) {
			if err := exactNames(m[name], t.Elem(), skip); err != nil {
				return err
			}
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && data[0] == '[':
		var elems []json.RawMessage
		if json.Unmarshal(data, &elems) != nil {
			return nil
		}
		for _, e := range elems {
			if err := exactNames(e, t.Elem(), skip); err != nil {
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
