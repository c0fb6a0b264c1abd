// Package keyless verifies cosign keyless material (a Fulcio certificate, its SCT and a
// Rekor entry) with sigstore-go against a trusted root the operator ships as a file, and
// validates the keyless part of the trust policy in policy/data.
//
// It establishes who signed — an OIDC issuer, a certificate subject and the GitHub workflow
// claims the certificate carries — and never decides whether that signer is trusted for an
// image: policy/admission does, from policy data. Nothing found beside the signature (the
// chain annotation, a key in a bundle) is trusted for being there: the certificate must chain
// to a Fulcio CA of the trusted root, carry an SCT from one of its CT logs, and be valid at a
// time a Rekor entry of one of its logs (or, with the tlog switched off, a timestamp
// authority of the root, or the current time) vouches for.
package keyless

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// Trust is one entry of policy data's supply_chain.trust: the keys and identities trusted to
// sign images whose repository is Repository (exact) or under it (when it ends in "/").
type Trust struct {
	Repository string     `json:"repository"`
	Keys       []string   `json:"keys,omitempty"`
	Identities []Identity `json:"identities,omitempty"`
}

// Identity is a trusted keyless signer: the issuer exactly, the subject exactly or by an
// anchored regular expression, and, where named, the GitHub workflow claims.
type Identity struct {
	Issuer        string  `json:"issuer"`
	Subject       string  `json:"subject,omitempty"`
	SubjectRegexp string  `json:"subject_regexp,omitempty"`
	GitHub        *GitHub `json:"github,omitempty"`
}

// GitHub holds the GitHub Actions claims Fulcio puts in a certificate (v2 extensions, or the
// deprecated v1 ones where only those are present).
type GitHub struct {
	Repository  string `json:"repository,omitempty"`   // https://github.com/OWNER/REPO
	Ref         string `json:"ref,omitempty"`          // refs/tags/v1.2.3
	Trigger     string `json:"trigger,omitempty"`      // push, workflow_dispatch, …
	WorkflowSHA string `json:"workflow_sha,omitempty"` // the commit the workflow ran at
}

// ErrUnanchored is wrapped by CheckPolicy for a subject pattern that is not ^…$.
var ErrUnanchored = errors.New("subject_regexp must be anchored: start with ^ and end with $")

// Anchored reports whether a pattern is anchored at both ends, the only patterns trusted:
// "release.yml@refs/tags/v" unanchored also matches evil/…/release.yml@refs/tags/v1.
func Anchored(re string) bool {
	return strings.HasPrefix(re, "^") && strings.HasSuffix(re, "$") && !strings.HasSuffix(re, `\$`)
}

// Whole is the pattern as policy/admission matches an anchored one: ^(?:…)$, so that
// ^a|b$ means exactly a or exactly b, not "starts with a, or ends with b".
func Whole(anchored string) string {
	return "^(?:" + anchored[1:len(anchored)-1] + ")$"
}

// CheckPolicy validates the trust entries of a policy data document ({"supply_chain":
// {"trust": […]}}): every identity names an issuer and exactly one of subject and
// subject_regexp, every pattern compiles and is anchored, every repository is non-empty.
// A document without trust entries is valid.
func CheckPolicy(doc []byte) error {
	var d struct {
		SupplyChain struct {
			Trust []Trust `json:"trust"`
		} `json:"supply_chain"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return fmt.Errorf("trust policy: %w", err)
	}
	for i, t := range d.SupplyChain.Trust {
		if t.Repository == "" {
			return fmt.Errorf("trust policy: entry %d names no repository", i)
		}
		for j, id := range t.Identities {
			if err := checkIdentity(id); err != nil {
				return fmt.Errorf("trust policy: %s identity %d: %w", t.Repository, j, err)
			}
		}
	}
	return nil
}

func checkIdentity(id Identity) error {
	switch {
	case id.Issuer == "":
		return errors.New("no issuer")
	case (id.Subject == "") == (id.SubjectRegexp == ""):
		return errors.New("give exactly one of subject and subject_regexp")
	case id.SubjectRegexp == "":
		return nil
	case !Anchored(id.SubjectRegexp):
		return fmt.Errorf("%q: %w", id.SubjectRegexp, ErrUnanchored)
	}
	if _, err := regexp.Compile(Whole(id.SubjectRegexp)); err != nil {
		return fmt.Errorf("subject_regexp: %w", err)
	}
	return nil
}

// MaxRootSize bounds a trusted root file.
const MaxRootSize = 4 << 20

// LoadRoot reads a trusted root (sigstore's TrustedRoot JSON, trusted_root.json).
func LoadRoot(path string) (*root.TrustedRoot, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the trusted root the operator names
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	if len(b) > MaxRootSize {
		return nil, fmt.Errorf("trusted root: %s is larger than %d bytes", path, MaxRootSize)
	}
	tr, err := root.NewTrustedRootFromJSON(b)
	if err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", path, err)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 {
		return nil, fmt.Errorf("trusted root %s: no Fulcio certificate authority", path)
	}
	return tr, nil
}
