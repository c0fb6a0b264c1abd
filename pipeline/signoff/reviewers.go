package signoff

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// MaxReviewersSize bounds the reviewers document.
const MaxReviewersSize = 1 << 20

// Reviewer is one reviewer key as policy/data/reviewers.json lists it.
type Reviewer struct {
	Name      string   `json:"name"`
	PublicKey string   `json:"public_key"` // PEM
	Roles     []string `json:"roles"`
}

// Holds reports whether the reviewer may attest in role.
func (r Reviewer) Holds(role string) bool { return slices.Contains(r.Roles, role) }

// Reviewers is the parsed reviewers document: the only keys whose attestations count.
type Reviewers struct {
	byID map[string]reviewerKey
	ids  []string // sorted, so verification tries keys in a stable order
}

type reviewerKey struct {
	Reviewer
	verifier *keys.Verifier
}

// ParseReviewers reads {"reviewers": {"<key id>": {"name", "public_key", "roles"}}} strictly.
// Every key id must be the id of its public key (pipeline/keys.ID), every reviewer must have
// a name and at least one role. An empty set is valid: no attestation then counts.
func ParseReviewers(raw []byte) (*Reviewers, error) {
	if len(raw) > MaxReviewersSize {
		return nil, fmt.Errorf("reviewers: larger than %d bytes", MaxReviewersSize)
	}
	var doc struct {
		Reviewers map[string]Reviewer `json:"reviewers"`
	}
	if err := predicate.Strict(raw, &doc); err != nil {
		return nil, fmt.Errorf("reviewers: %w", err)
	}
	if doc.Reviewers == nil {
		return nil, errors.New(`reviewers: no "reviewers" object`)
	}
	rs := &Reviewers{byID: map[string]reviewerKey{}}
	for id, r := range doc.Reviewers {
		v, err := keys.VerifierFromPEM([]byte(r.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("reviewers: %s: public key: %w", id, err)
		}
		switch {
		case v.ID != id:
			return nil, fmt.Errorf("reviewers: %s: the public key's id is %s", id, v.ID)
		case strings.TrimSpace(r.Name) == "":
			return nil, fmt.Errorf("reviewers: %s: no name", id)
		case len(r.Roles) == 0 || slices.Contains(r.Roles, ""):
			return nil, fmt.Errorf("reviewers: %s: no roles, or an empty role", id)
		}
		rs.byID[id] = reviewerKey{Reviewer: r, verifier: v}
		rs.ids = append(rs.ids, id)
	}
	sort.Strings(rs.ids)
	return rs, nil
}

// Len is the number of reviewer keys.
func (rs *Reviewers) Len() int { return len(rs.ids) }

// Lookup returns the reviewer of a key id.
func (rs *Reviewers) Lookup(id string) (Reviewer, bool) {
	r, ok := rs.byID[id]
	return r.Reviewer, ok
}
