package residual

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// operand is a string-valued term: a constant, a field, or trim_space of one.
type operand struct {
	kind  operandKind
	s     string // the constant
	field fieldID
	index int // path element, for fieldPath
}

type operandKind uint8

const (
	constant operandKind = iota + 1
	fieldValue
	trimmed // trim_space of the field
)

type fieldID uint8

const (
	fieldType fieldID = iota + 1
	fieldResourceID
	fieldOwner
	fieldPath
	fieldSub
)

var resourceFields = map[string]fieldID{"type": fieldType, "id": fieldResourceID, "owner": fieldOwner}

// value returns the operand's value and whether it is defined (a path
// element past the end is not, and an expression over it does not hold).
func (o operand) value(f *Fields) (string, bool) {
	if o.kind == constant {
		return o.s, true
	}
	var v string
	switch o.field {
	case fieldType:
		v = f.Type
	case fieldResourceID:
		v = f.ID
	case fieldOwner:
		v = f.Owner
	case fieldSub:
		v = f.Sub
	case fieldPath:
		if o.index >= len(f.Path) {
			return "", false
		}
		v = f.Path[o.index]
	}
	if o.kind == trimmed {
		v = strings.TrimSpace(v) // what OPA's trim_space does
	}
	return v, true
}

// expr is one understood expression.
type expr struct {
	op      string // eq, neq, is_string, member, count
	a, b    operand
	members []string
	n       int
}

func (x *expr) holds(f *Fields) bool {
	if x.op == "count" {
		return len(f.Path) == x.n
	}
	a, ok := x.a.value(f)
	if !ok {
		return false
	}
	switch x.op {
	case "is_string":
		return true // every field is a string
	case "member":
		return slices.Contains(x.members, a)
	}
	b, ok := x.b.value(f)
	if !ok {
		return false
	}
	if x.op == "eq" {
		return a == b
	}
	return a != b // neq
}

func parseExpr(t []term) (expr, error) {
	op := ""
	if len(t) > 0 {
		op = t[0].operator()
	}
	var x expr
	var err error
	switch {
	case (op == "eq" || op == "equal" || op == "neq") && len(t) == 3:
		x.op = map[string]string{"eq": "eq", "equal": "eq", "neq": "neq"}[op]
		if x.a, err = parseOperand(t[1]); err == nil {
			x.b, err = parseOperand(t[2])
		}
	case op == "is_string" && len(t) == 2:
		x.op = op
		x.a, err = parseOperand(t[1])
	case op == "internal.member_2" && len(t) == 3:
		x.op = "member"
		if x.a, err = parseOperand(t[1]); err == nil {
			x.members, err = parseStrings(t[2])
		}
	case op == "count" && len(t) == 3 && isWholePath(t[1]):
		x.op = op
		x.n, err = parseSmallInt(t[2], maxPath)
	default:
		return x, fmt.Errorf("%w: operator %q with %d operands", ErrUnsupported, op, max(0, len(t)-1))
	}
	return x, err
}

func parseOperand(t term) (operand, error) {
	switch t.Type {
	case "string":
		var s string
		if err := json.Unmarshal(t.Value, &s); err != nil {
			return operand{}, fmt.Errorf("%w: string constant", ErrUnsupported)
		}
		return operand{kind: constant, s: s}, nil
	case "ref":
		return parseField(t)
	case "call":
		var call []term
		if json.Unmarshal(t.Value, &call) != nil || len(call) != 2 || call[0].operator() != "trim_space" {
			return operand{}, fmt.Errorf("%w: call", ErrUnsupported)
		}
		o, err := parseField(call[1])
		o.kind = trimmed
		return o, err
	}
	return operand{}, fmt.Errorf("%w: operand of type %q", ErrUnsupported, t.Type)
}

// parseField reads input.resource.{type,id,owner}, input.path[N] or
// input.subject.sub.
func parseField(t term) (operand, error) {
	parts, ok := refParts(t)
	if !ok || len(parts) != 3 || parts[0].Type != "var" || string(parts[0].Value) != `"input"` || parts[1].Type != "string" {
		return operand{}, fmt.Errorf("%w: reference", ErrUnsupported)
	}
	var root string
	json.Unmarshal(parts[1].Value, &root)
	switch {
	case root == "resource" && parts[2].Type == "string":
		var name string
		json.Unmarshal(parts[2].Value, &name)
		if id, ok := resourceFields[name]; ok {
			return operand{kind: fieldValue, field: id}, nil
		}
	case root == "path" && parts[2].Type == "number":
		i, err := parseSmallInt(parts[2], maxPath-1)
		return operand{kind: fieldValue, field: fieldPath, index: i}, err
	case root == "subject" && parts[2].Type == "string" && string(parts[2].Value) == `"sub"`:
		return operand{kind: fieldValue, field: fieldSub}, nil
	}
	return operand{}, fmt.Errorf("%w: field", ErrUnsupported)
}

func refParts(t term) ([]term, bool) {
	var parts []term
	if t.Type != "ref" || json.Unmarshal(t.Value, &parts) != nil {
		return nil, false
	}
	return parts, true
}

func isWholePath(t term) bool {
	parts, ok := refParts(t)
	return ok && len(parts) == 2 && parts[0].Type == "var" && string(parts[0].Value) == `"input"` &&
		parts[1].Type == "string" && string(parts[1].Value) == `"path"`
}

func parseSmallInt(t term, limit int) (int, error) {
	n, err := strconv.Atoi(string(t.Value))
	if t.Type != "number" || err != nil || n < 0 || n > limit {
		return 0, fmt.Errorf("%w: number %s", ErrUnsupported, t.Value)
	}
	return n, nil
}

// parseStrings reads a set or array of string constants.
func parseStrings(t term) ([]string, error) {
	var elems []term
	if (t.Type != "set" && t.Type != "array") || json.Unmarshal(t.Value, &elems) != nil || len(elems) > maxMembers {
		return nil, fmt.Errorf("%w: collection", ErrUnsupported)
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		var s string
		if e.Type != "string" || json.Unmarshal(e.Value, &s) != nil {
			return nil, fmt.Errorf("%w: collection member", ErrUnsupported)
		}
		out = append(out, s)
	}
	return out, nil
}
