// Package residual reads the answer of OPA's Compile API (partial evaluation
// of data.movies.authz.allow with input.resource, input.path and
// input.subject.sub unknown, the subject's roles, the method and the route
// known) and applies it to one request's resource, path and subject.
//
// It understands only what policy/api leaves behind: equality, inequality
// and set membership between those fields and constants or each other,
// is_string, trim_space and the count of the path, conjunction within a
// query, disjunction across queries, and the empty (deny) and always-true
// residuals. Anything else — support modules, negation, with, variables,
// other operators, other fields (the subject's roles, which were known),
// oversized answers — is ErrUnsupported, and the caller asks OPA for a full
// decision instead. It imports only the standard library.
package residual

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrUnsupported means the answer holds something this evaluator does not
// understand; the caller falls back to a full decision.
var ErrUnsupported = errors.New("residual: unsupported")

// RevisionVar is the query variable the compile query binds to the policy's
// revision; its binding is metadata, not a condition.
const RevisionVar = "revision"

// Limits on what is parsed, so that evaluation stays small and bounded.
const (
	maxQueries = 64
	maxExprs   = 64
	maxMembers = 256
	maxPath    = 16
)

// Fields are the values a residual may read: the stored resource, the
// request path and the subject. Every field is a string, as the service
// sends it.
type Fields struct {
	Type, ID, Owner string
	Path            []string
	Sub             string
}

// Residual is a parsed compile answer: allow holds when every expression of
// at least one query holds.
type Residual struct {
	queries  [][]expr
	Revision string // the policy revision OPA bound, "" when the answer has no query
}

// Allow applies the residual to f.
func (r *Residual) Allow(f *Fields) bool {
	for _, q := range r.queries {
		ok := true
		for i := range q {
			if !q[i].holds(f) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Always reports whether the residual allows without reading any field, and
// Never whether it denies so.
func (r *Residual) Always() bool {
	for _, q := range r.queries {
		if len(q) == 0 {
			return true
		}
	}
	return false
}

// Queries is the number of queries (0: always deny).
func (r *Residual) Queries() int { return len(r.queries) }

// Never reports whether no query can hold.
func (r *Residual) Never() bool { return len(r.queries) == 0 }

// Parse reads OPA's answer to POST /v1/compile: {"result":{"queries":[…]}}.
func Parse(raw []byte) (*Residual, error) {
	var resp struct {
		Result *struct {
			Queries []json.RawMessage `json:"queries"`
			Support json.RawMessage   `json:"support"`
		} `json:"result"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return nil, fmt.Errorf("%w: malformed answer: %v", ErrUnsupported, err)
	}
	if resp.Result == nil {
		return nil, fmt.Errorf("%w: no result", ErrUnsupported)
	}
	if s := bytes.TrimSpace(resp.Result.Support); len(s) > 0 && string(s) != "null" && string(s) != "[]" {
		return nil, fmt.Errorf("%w: support modules", ErrUnsupported)
	}
	if len(resp.Result.Queries) > maxQueries {
		return nil, fmt.Errorf("%w: %d queries", ErrUnsupported, len(resp.Result.Queries))
	}
	r := &Residual{}
	for i, q := range resp.Result.Queries {
		exprs, rev, err := parseQuery(q)
		if err != nil {
			return nil, err
		}
		if i > 0 && rev != r.Revision {
			return nil, fmt.Errorf("%w: queries bind different revisions", ErrUnsupported)
		}
		r.Revision = rev
		r.queries = append(r.queries, exprs)
	}
	return r, nil
}

// rawExpr is one expression of a query as OPA encodes it; any other key
// (with, negated true, …) makes it unsupported.
type rawExpr struct {
	Index     int             `json:"index"`
	Terms     json.RawMessage `json:"terms"`
	Negated   bool            `json:"negated"`
	Generated bool            `json:"generated"`
}

func parseQuery(raw json.RawMessage) ([]expr, string, error) {
	var exprs []json.RawMessage
	if err := json.Unmarshal(raw, &exprs); err != nil {
		return nil, "", fmt.Errorf("%w: query is not an array", ErrUnsupported)
	}
	if len(exprs) > maxExprs {
		return nil, "", fmt.Errorf("%w: %d expressions", ErrUnsupported, len(exprs))
	}
	out := make([]expr, 0, len(exprs))
	rev, haveRev := "", false
	for _, e := range exprs {
		var re rawExpr
		dec := json.NewDecoder(bytes.NewReader(e))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&re); err != nil || re.Negated {
			return nil, "", fmt.Errorf("%w: expression %s", ErrUnsupported, clip(e))
		}
		var terms []term
		if err := json.Unmarshal(re.Terms, &terms); err != nil {
			return nil, "", fmt.Errorf("%w: expression is not a call: %s", ErrUnsupported, clip(e))
		}
		if v, ok := revisionBinding(terms); ok {
			if haveRev {
				return nil, "", fmt.Errorf("%w: revision bound twice", ErrUnsupported)
			}
			rev, haveRev = v, true
			continue
		}
		x, err := parseExpr(terms)
		if err != nil {
			return nil, "", fmt.Errorf("%w: %s", err, clip(e))
		}
		out = append(out, x)
	}
	return out, rev, nil
}

// revisionBinding recognises eq(revision, "<string>"), in either order.
func revisionBinding(t []term) (string, bool) {
	if len(t) != 3 || t[0].operator() != "eq" {
		return "", false
	}
	for _, p := range [][2]term{{t[1], t[2]}, {t[2], t[1]}} {
		if p[0].Type == "var" && string(p[0].Value) == `"`+RevisionVar+`"` {
			var s string
			if p[1].Type == "string" && json.Unmarshal(p[1].Value, &s) == nil {
				return s, true
			}
		}
	}
	return "", false
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// term is an AST term as OPA encodes it: {"type": …, "value": …}.
type term struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// operator names a call's operator, "" if the term is not a plain one
// (e.g. eq, or internal.member_2 as "internal.member_2").
func (t term) operator() string {
	if t.Type != "ref" {
		return ""
	}
	var parts []term
	if json.Unmarshal(t.Value, &parts) != nil || len(parts) == 0 || parts[0].Type != "var" {
		return ""
	}
	var names []string
	for i, p := range parts {
		var s string
		if json.Unmarshal(p.Value, &s) != nil || (i > 0 && p.Type != "string") {
			return ""
		}
		names = append(names, s)
	}
	return strings.Join(names, ".")
}
