package predicate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// maxDepth bounds the nesting of a document that Unambiguous walks.
const maxDepth = 128

// Unambiguous checks that raw is exactly one JSON value that every reader understands the
// same way: no object holds two keys that encoding/json would treat as one (equal, or equal
// but for case — it matches field names case-insensitively and keeps the last), nothing
// follows the value, and nesting stays under maxDepth. A signed document with two
// "subject" keys would otherwise mean one thing to this verifier and another to the next.
func Unambiguous(raw []byte) error {
	if len(raw) > MaxSize {
		return fmt.Errorf("larger than %d bytes", MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next string token in this object is a key
	}
	var stack []*frame
	values := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top == nil && values > 0 {
			return errors.New("trailing data after the JSON value")
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].key = true
			}
			if len(stack) == 0 {
				values++
			}
			continue
		}
		if top != nil && top.object && top.key {
			k, _ := tok.(string) // the decoder only yields strings in key position
			fold := foldKey(k)
			if top.keys[fold] {
				return fmt.Errorf("duplicate key %q", k)
			}
			top.keys[fold] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxDepth {
				return fmt.Errorf("nested deeper than %d", maxDepth)
			}
			stack = append(stack, &frame{object: tok == json.Delim('{'), keys: map[string]bool{}, key: true})
			continue
		}
		// A scalar: a value in an object or array, or the whole document.
		if top == nil {
			values++
		} else if top.object {
			top.key = true
		}
	}
	if values != 1 {
		return errors.New("not a JSON value")
	}
	return nil
}

// foldKey maps every rune to the smallest member of its Unicode simple-fold orbit, the
// equivalence encoding/json uses to match keys to fields ("K", "k" and the Kelvin sign;
// "S", "s" and "ſ" all fold together).
func foldKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		low := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) { // an orbit has at most 4 runes
			low = min(low, f)
		}
		b.WriteRune(low)
	}
	return b.String()
}

// Strict decodes raw into v the way every signed document is read here: raw must be
// Unambiguous (one value, no duplicate or case-folded keys, bounded size and depth), and the
// decoding refuses unknown fields and trailing data.
func Strict(raw []byte, v any) error {
	if err := Unambiguous(raw); err != nil {
		return err
	}
	return strict(raw, v)
}
