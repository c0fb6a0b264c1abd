// Package auth verifies the JWS bearer tokens that authenticate API clients.
//
// A [Verifier] accepts only compact JWS tokens signed by a key from a
// configured JWKS file ([LoadJWKS]). The key is found by the token's "kid"
// header in that set and nowhere else ("jku", "x5u", "jwk" and "x5c" are
// never used), and the key pins the algorithm: EdDSA for Ed25519 keys, ES256
// for P-256 keys. "none", HMAC and RSA algorithms are never accepted. The
// claims "iss", "aud", "exp", "iat" and "sub" are required, "nbf" and "iat"
// are checked with a bounded clock skew, exp - iat is at most the maximum
// lifetime (24h by default), and token size is bounded before any
// decoding. Every failure wraps [ErrInvalidToken].
//
// Verified tokens are cached by the SHA-256 of the token (never the token
// itself) and a cached entry is never used at or after the token's expiry.
//
// [Sign] and [MarshalJWKS] exist for the development token minter and for
// tests; the service itself only verifies.
//
// The package imports only the Go standard library, like the rest of the
// service module.
package auth
