package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Algorithms a key may pin.
const (
	algEdDSA = "EdDSA" // Ed25519 (RFC 8037)
	algES256 = "ES256" // ECDSA P-256 with SHA-256 (RFC 7518)
)

// maxJWKSBytes bounds the JWKS document LoadJWKS reads.
const maxJWKSBytes = 1 << 20

// privateMembers are JWK members that only private or symmetric keys carry.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// KeySet is a set of public verification keys, each with a unique key id and
// the one algorithm it may verify. It is immutable and safe for concurrent
// use. Build one with [ParseJWKS] or [LoadJWKS].
type KeySet struct {
	keys map[string]*publicKey
}

// publicKey is one verification key and the algorithm it pins.
type publicKey struct {
	kid string
	alg string
	ed  ed25519.PublicKey // when alg is EdDSA
	ec  *ecdsa.PublicKey  // when alg is ES256
}

// Len returns the number of keys in the set.
func (s *KeySet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// KeyIDs returns the key ids in the set, sorted.
func (s *KeySet) KeyIDs() []string {
	if s == nil {
		return nil
	}
	ids := make([]string, 0, len(s.keys))
	for kid := range s.keys {
		ids = append(ids, kid)
	}
	slices.Sort(ids)
	return ids
}

// LoadJWKS reads the JWKS file at path (at most 1 MiB) and parses it with
// [ParseJWKS].
func LoadJWKS(path string) (*KeySet, error) {
	f, err := os.Open(path) // #nosec G304 -- the JWKS path is operator configuration (-jwks), never request data
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks: read %s: %w", path, err)
	}
	ks, err := ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ks, nil
}

// ParseJWKS parses a JSON Web Key Set (RFC 7517) of public signing keys:
// {"keys":[…]} with at least one key. It accepts kty "OKP" with crv
// "Ed25519" (pinned to alg EdDSA) and kty "EC" with crv "P-256" (pinned to
// ES256, the point checked to be on the curve). Every key needs a unique
// "kid"; "alg", if present, must be the pinned algorithm and "use", if
// present, "sig". Symmetric keys (kty "oct"), keys with private members
// ("d", "p", "q", …), other key types and curves, duplicate JSON members and
// malformed base64url are errors that name the key.
func ParseJWKS(data []byte) (*KeySet, error) {
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("jwks: document larger than %d bytes", maxJWKSBytes)
	}
	doc, err := decodeObject(data)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	rawKeys, ok := doc["keys"]
	if !ok {
		return nil, errors.New(`jwks: missing "keys"`)
	}
	if rawKeys[0] != '[' {
		return nil, errors.New(`jwks: "keys" is not an array`)
	}
	var keys []json.RawMessage
	if err := json.Unmarshal(rawKeys, &keys); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: no keys")
	}
	set := &KeySet{keys: make(map[string]*publicKey, len(keys))}
	for i, raw := range keys {
		k, err := parseJWK(raw)
		if err != nil {
			if k != nil && k.kid != "" {
				return nil, fmt.Errorf("jwks: key %s: %w", quote(k.kid), err)
			}
			return nil, fmt.Errorf("jwks: key #%d: %w", i, err)
		}
		if _, dup := set.keys[k.kid]; dup {
			return nil, fmt.Errorf("jwks: key %s: duplicate kid", quote(k.kid))
		}
		set.keys[k.kid] = k
	}
	return set, nil
}

// parseJWK parses one key. On error it still returns the key with its kid
// when the kid could be read, so the caller can name it.
func parseJWK(raw json.RawMessage) (*publicKey, error) {
	if raw[0] != '{' {
		return nil, errors.New("not an object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	member := func(name string) (string, bool, error) {
		v, ok := m[name]
		if !ok {
			return "", false, nil
		}
		s, err := decodeString(v)
		if err != nil {
			return "", true, fmt.Errorf("%q: %w", name, err)
		}
		return s, true, nil
	}
	kid, _, err := member("kid")
	if err != nil {
		return nil, err
	}
	if kid == "" {
		return nil, errors.New(`missing "kid"`)
	}
	k := &publicKey{kid: kid}
	kty, _, err := member("kty")
	if err != nil {
		return k, err
	}
	if kty == "oct" {
		return k, errors.New(`kty "oct": symmetric keys are not accepted`)
	}
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return k, fmt.Errorf("private key member %q present; publish only public keys", name)
		}
	}
	if use, ok, err := member("use"); err != nil {
		return k, err
	} else if ok && use != "sig" {
		return k, fmt.Errorf(`"use" is %s, want "sig"`, quote(use))
	}
	crv, _, err := member("crv")
	if err != nil {
		return k, err
	}
	coord := func(name string, size int) ([]byte, error) {
		s, ok, err := member(name)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("missing %q", name)
		}
		b, err := decodeSegment(s)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", name, err)
		}
		if len(b) != size {
			return nil, fmt.Errorf("%q is %d bytes, want %d", name, len(b), size)
		}
		return b, nil
	}
	switch {
	case kty == "OKP" && crv == "Ed25519":
		x, err := coord("x", ed25519.PublicKeySize)
		if err != nil {
			return k, err
		}
		k.alg, k.ed = algEdDSA, ed25519.PublicKey(x)
	case kty == "EC" && crv == "P-256":
		x, err := coord("x", 32)
		if err != nil {
			return k, err
		}
		y, err := coord("y", 32)
		if err != nil {
			return k, err
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return k, fmt.Errorf("invalid P-256 point: %w", err)
		}
		k.alg, k.ec = algES256, pub
	case kty == "OKP" || kty == "EC":
		return k, fmt.Errorf("unsupported crv %s for kty %q", quote(crv), kty)
	default:
		return k, fmt.Errorf("unsupported kty %s (want OKP/Ed25519 or EC/P-256)", quote(kty))
	}
	if alg, ok, err := member("alg"); err != nil {
		return k, err
	} else if ok && alg != k.alg {
		return k, fmt.Errorf(`"alg" is %s but a %s key pins %q`, quote(alg), crv, k.alg)
	}
	return k, nil
}

// MarshalJWKS encodes public keys, by key id, as a JWKS document that
// [ParseJWKS] accepts, with "alg" and "use":"sig" set on every key. Keys must
// be ed25519.PublicKey or P-256 *ecdsa.PublicKey. It is for the development
// token minter and for tests.
func MarshalJWKS(keys map[string]crypto.PublicKey) ([]byte, error) {
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Y   string `json:"y,omitempty"`
		Kid string `json:"kid"`
		Alg string `json:"alg"`
		Use string `json:"use"`
	}
	kids := make([]string, 0, len(keys))
	for kid := range keys {
		kids = append(kids, kid)
	}
	slices.Sort(kids)
	doc := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, kid := range kids {
		if kid == "" {
			return nil, errors.New("jwks: empty kid")
		}
		p, err := jwkParams(keys[kid])
		if err != nil {
			return nil, fmt.Errorf("jwks: key %s: %w", quote(kid), err)
		}
		doc.Keys = append(doc.Keys, jwk{Kty: p.kty, Crv: p.crv, X: p.x, Y: p.y, Kid: kid, Alg: p.alg, Use: "sig"})
	}
	return json.MarshalIndent(doc, "", "  ")
}

// Thumbprint returns the RFC 7638 JWK thumbprint (SHA-256, base64url) of an
// ed25519.PublicKey or P-256 *ecdsa.PublicKey: a key id derived from the key
// itself.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	p, err := jwkParams(pub)
	if err != nil {
		return "", err
	}
	// RFC 7638 §3.2: the required members only, in lexicographic order, no
	// whitespace. The values are base64url and fixed names, so no escaping.
	var s string
	if p.kty == "EC" {
		s = fmt.Sprintf(`{"crv":%q,"kty":%q,"x":%q,"y":%q}`, p.crv, p.kty, p.x, p.y)
	} else {
		s = fmt.Sprintf(`{"crv":%q,"kty":%q,"x":%q}`, p.crv, p.kty, p.x)
	}
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// params are the public JWK members of a key.
type params struct{ kty, crv, x, y, alg string }

func jwkParams(pub crypto.PublicKey) (params, error) {
	enc := base64.RawURLEncoding.EncodeToString
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return params{}, errors.New("invalid Ed25519 public key")
		}
		return params{kty: "OKP", crv: "Ed25519", x: enc(pub), alg: algEdDSA}, nil
	case *ecdsa.PublicKey:
		if pub == nil || pub.Curve != elliptic.P256() {
			return params{}, errors.New("only P-256 ECDSA keys are supported")
		}
		b, err := pub.Bytes()
		if err != nil {
			return params{}, err
		}
		return params{kty: "EC", crv: "P-256", x: enc(b[1:33]), y: enc(b[33:]), alg: algES256}, nil
	default:
		return params{}, fmt.Errorf("unsupported key type %T (want Ed25519 or P-256)", pub)
	}
}

// decodeSegment decodes unpadded base64url strictly: only the URL alphabet
// (the standard decoder would skip CR and LF), no padding, zero trailing bits.
func decodeSegment(s string) ([]byte, error) {
	if i := strings.IndexFunc(s, func(r rune) bool { return !isB64URL(r) }); i >= 0 {
		return nil, fmt.Errorf("invalid base64url character at offset %d", i)
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

func isB64URL(r rune) bool {
	return 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_'
}
