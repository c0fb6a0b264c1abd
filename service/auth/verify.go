package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidToken is wrapped by every verification failure. The wrapping
// error's text says why, for logs only: clients get a generic answer.
var ErrInvalidToken = errors.New("auth: invalid token")

// Defaults and limits for [Config].
const (
	DefaultLeeway        = 30 * time.Second
	MaxLeeway            = 5 * time.Minute
	DefaultMaxTokenBytes = 8192
	DefaultCacheSize     = 10000
	DefaultMaxLifetime   = 24 * time.Hour
)

// maxNumericDate is 9999-12-31T23:59:59Z; later or negative dates are
// rejected rather than overflowing time arithmetic.
const maxNumericDate = 253402300799

// Claims are the verified claims of a token.
type Claims struct {
	Subject   string
	Roles     []string // from the "roles" claim; empty if absent
	Issuer    string
	Audience  []string // "aud" as a list, whether the token had a string or an array
	Expiry    time.Time
	NotBefore time.Time // zero if absent
	IssuedAt  time.Time // zero if absent
}

func (c Claims) clone() Claims {
	c.Roles = slices.Clone(c.Roles)
	c.Audience = slices.Clone(c.Audience)
	return c
}

// Config configures a [Verifier].
type Config struct {
	Keys     *KeySet // verification keys; required
	Issuer   string  // required "iss"; required
	Audience string  // "aud" must contain it; required

	// Leeway is the clock skew allowed for exp, nbf and iat: 0 means
	// DefaultLeeway, a negative value means none, and values above
	// MaxLeeway are clamped to it.
	Leeway time.Duration

	// MaxTokenBytes bounds the token length; 0 or less means
	// DefaultMaxTokenBytes. Longer tokens are rejected before decoding.
	MaxTokenBytes int

	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	// MaxLifetime bounds exp - iat: 0 means DefaultMaxLifetime. A token
	// that would be valid longer, or that has no "iat", is rejected.
	MaxLifetime time.Duration

	// CacheSize bounds the cache of verified tokens: 0 means
	// DefaultCacheSize and a negative value disables the cache.
	CacheSize int
}

// Verifier verifies bearer tokens against a [Config]. It is safe for
// concurrent use.
type Verifier struct {
	keys     *KeySet
	issuer   string
	audience string
	leeway   time.Duration
	maxBytes int
	lifetime time.Duration
	now      func() time.Time
	cache    *cache // nil when disabled
}

// NewVerifier returns a Verifier for cfg, applying its defaults. It fails if
// cfg has no keys, no issuer or no audience.
func NewVerifier(cfg Config) (*Verifier, error) {
	switch {
	case cfg.Keys.Len() == 0:
		return nil, errors.New("auth: verifier needs at least one key")
	case cfg.Issuer == "":
		return nil, errors.New("auth: verifier needs an issuer")
	case cfg.Audience == "":
		return nil, errors.New("auth: verifier needs an audience")
	}
	v := &Verifier{
		keys:     cfg.Keys,
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		leeway:   cfg.Leeway,
		maxBytes: cfg.MaxTokenBytes,
		lifetime: cfg.MaxLifetime,
		now:      cfg.Now,
	}
	if v.lifetime <= 0 {
		v.lifetime = DefaultMaxLifetime
	}
	switch {
	case v.leeway == 0:
		v.leeway = DefaultLeeway
	case v.leeway < 0:
		v.leeway = 0
	case v.leeway > MaxLeeway:
		v.leeway = MaxLeeway
	}
	if v.maxBytes <= 0 {
		v.maxBytes = DefaultMaxTokenBytes
	}
	if v.now == nil {
		v.now = time.Now
	}
	switch {
	case cfg.CacheSize == 0:
		v.cache = newCache(DefaultCacheSize)
	case cfg.CacheSize > 0:
		v.cache = newCache(cfg.CacheSize)
	}
	return v, nil
}

// Verify verifies a compact JWS token and returns its claims, a copy the
// caller may keep and change. Every failure wraps [ErrInvalidToken].
//
// A token is valid when it has three unpadded base64url parts; its header
// names a known "kid" and exactly the algorithm that key pins, has no "crit"
// and a "typ", if any, of "JWT" or "at+jwt"; the signature verifies; and the
// payload has "iss" equal to the issuer, an "aud" containing the audience, a
// non-empty "sub", an "exp" not yet passed, no "nbf" in the future, an "iat"
// not in the future (each with the leeway) and at most MaxLifetime before
// "exp", and "roles", if any, a list of
// strings. Duplicate JSON members anywhere are rejected.
func (v *Verifier) Verify(t Token) (Claims, error) {
	token := string(t)
	if len(token) > v.maxBytes {
		return Claims{}, invalid("token is %d bytes, limit %d", len(token), v.maxBytes)
	}
	now := v.now()
	var sum [sha256.Size]byte
	if v.cache != nil {
		sum = hashToken(token)
		if c, ok := v.cache.get(sum, now); ok && v.checkTimes(&c, now) == nil {
			return c.clone(), nil
		}
	}
	c, err := v.verify(token, now)
	if err != nil {
		return Claims{}, err
	}
	if v.cache != nil && now.Before(c.Expiry) {
		v.cache.put(sum, c)
	}
	return c.clone(), nil
}

// invalid returns an error wrapping ErrInvalidToken.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

func (v *Verifier) verify(token string, now time.Time) (Claims, error) {
	parts := strings.SplitN(token, ".", 4)
	if len(parts) != 3 {
		return Claims{}, invalid("not a compact JWS: %d parts, want 3", len(parts))
	}
	for i, p := range parts {
		if p == "" {
			return Claims{}, invalid("not a compact JWS: part %d is empty", i+1)
		}
	}
	key, err := v.header(parts[0])
	if err != nil {
		return Claims{}, err
	}
	sig, err := decodeSegment(parts[2])
	if err != nil {
		return Claims{}, invalid("signature: %v", err)
	}
	signed := token[:len(parts[0])+1+len(parts[1])]
	if err := verifySignature(key, signed, sig); err != nil {
		return Claims{}, err
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return Claims{}, invalid("payload: %v", err)
	}
	return v.claims(payload, now)
}

// header checks the protected header and returns the key it names.
func (v *Verifier) header(segment string) (*publicKey, error) {
	data, err := decodeSegment(segment)
	if err != nil {
		return nil, invalid("header: %v", err)
	}
	h, err := decodeObject(data)
	if err != nil {
		return nil, invalid("header: %v", err)
	}
	if _, ok := h["crit"]; ok {
		return nil, invalid(`header: "crit" present; no extensions are understood`)
	}
	if raw, ok := h["typ"]; ok {
		typ, err := decodeString(raw)
		if err != nil {
			return nil, invalid(`header: "typ": %v`, err)
		}
		if !strings.EqualFold(typ, "JWT") && !strings.EqualFold(typ, "at+jwt") {
			return nil, invalid(`header: "typ" %s not accepted`, quote(typ))
		}
	}
	alg, err := headerString(h, "alg")
	if err != nil {
		return nil, err
	}
	kid, err := headerString(h, "kid")
	if err != nil {
		return nil, err
	}
	// jku, x5u, jwk and x5c are deliberately never read: keys come only
	// from the configured set.
	key, ok := v.keys.keys[kid]
	if !ok {
		return nil, invalid("header: unknown kid %s", quote(kid))
	}
	if alg != key.alg {
		return nil, invalid("header: alg %s not allowed for key %s, which pins %s", quote(alg), quote(kid), key.alg)
	}
	return key, nil
}

func headerString(h map[string]json.RawMessage, name string) (string, error) {
	raw, ok := h[name]
	if !ok {
		return "", invalid("header: missing %q", name)
	}
	s, err := decodeString(raw)
	if err != nil {
		return "", invalid("header: %q: %v", name, err)
	}
	if s == "" {
		return "", invalid("header: empty %q", name)
	}
	return s, nil
}

// verifySignature checks sig over signed with key, by the key's algorithm.
func verifySignature(key *publicKey, signed string, sig []byte) error {
	switch key.alg {
	case algEdDSA:
		if len(sig) != ed25519.SignatureSize {
			return invalid("EdDSA signature is %d bytes, want %d", len(sig), ed25519.SignatureSize)
		}
		if !ed25519.Verify(key.ed, []byte(signed), sig) {
			return invalid("bad signature")
		}
	case algES256:
		// RFC 7518 §3.4: the raw 32-byte r followed by the 32-byte s,
		// never ASN.1 DER.
		if len(sig) != 64 {
			return invalid("ES256 signature is %d bytes, want 64 (raw r||s)", len(sig))
		}
		digest := sha256.Sum256([]byte(signed))
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(key.ec, digest[:], r, s) {
			return invalid("bad signature")
		}
	default:
		return invalid("no verifier for alg %s", quote(key.alg))
	}
	return nil
}

// claims checks the payload of a token whose signature verified.
func (v *Verifier) claims(payload []byte, now time.Time) (Claims, error) {
	m, err := decodeObject(payload)
	if err != nil {
		return Claims{}, invalid("payload: %v", err)
	}
	var c Claims
	if c.Issuer, err = claimString(m, "iss"); err != nil {
		return Claims{}, err
	}
	if c.Issuer != v.issuer {
		return Claims{}, invalid("iss %s is not the configured issuer", quote(c.Issuer))
	}
	raw, ok := m["aud"]
	if !ok {
		return Claims{}, invalid(`missing "aud"`)
	}
	if raw[0] == '[' {
		c.Audience, err = decodeStrings(raw)
	} else {
		var s string
		s, err = decodeString(raw)
		c.Audience = []string{s}
	}
	if err != nil {
		return Claims{}, invalid(`"aud": %v`, err)
	}
	if !slices.Contains(c.Audience, v.audience) {
		return Claims{}, invalid("aud does not contain the configured audience")
	}
	if c.Subject, err = claimString(m, "sub"); err != nil {
		return Claims{}, err
	}
	if c.Subject == "" {
		return Claims{}, invalid(`empty "sub"`)
	}
	if c.Expiry, err = numericDate(m, "exp"); err != nil {
		return Claims{}, err
	}
	if c.Expiry.IsZero() {
		return Claims{}, invalid(`missing "exp"`)
	}
	if c.NotBefore, err = numericDate(m, "nbf"); err != nil {
		return Claims{}, err
	}
	if c.IssuedAt, err = numericDate(m, "iat"); err != nil {
		return Claims{}, err
	}
	if c.IssuedAt.IsZero() {
		return Claims{}, invalid(`missing "iat"`)
	}
	if life := c.Expiry.Sub(c.IssuedAt); life > v.lifetime {
		return Claims{}, invalid("lifetime %s (exp - iat) exceeds the maximum %s", life, v.lifetime)
	}
	c.Roles = []string{}
	if raw, ok := m["roles"]; ok {
		if c.Roles, err = decodeStrings(raw); err != nil {
			return Claims{}, invalid(`"roles": %v`, err)
		}
	}
	if err := v.checkTimes(&c, now); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// checkTimes applies exp, nbf and iat at now, with the leeway.
func (v *Verifier) checkTimes(c *Claims, now time.Time) error {
	if !now.Before(c.Expiry.Add(v.leeway)) {
		return invalid("expired at %s", c.Expiry.Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && now.Before(c.NotBefore.Add(-v.leeway)) {
		return invalid("not valid before %s", c.NotBefore.Format(time.RFC3339))
	}
	if !c.IssuedAt.IsZero() && c.IssuedAt.After(now.Add(v.leeway)) {
		return invalid("issued in the future, at %s", c.IssuedAt.Format(time.RFC3339))
	}
	return nil
}

// claimString returns a required string claim.
func claimString(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok {
		return "", invalid("missing %q", name)
	}
	s, err := decodeString(raw)
	if err != nil {
		return "", invalid("%q: %v", name, err)
	}
	return s, nil
}

// numericDate returns an optional NumericDate claim (RFC 7519 §2: seconds
// since the epoch, a JSON number, possibly fractional), or the zero time if
// it is absent.
func numericDate(m map[string]json.RawMessage, name string) (time.Time, error) {
	raw, ok := m[name]
	if !ok {
		return time.Time{}, nil
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return time.Time{}, invalid("%q is not a number", name)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f < 0 || f > maxNumericDate {
		return time.Time{}, invalid("%q is out of range", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}
