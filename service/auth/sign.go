package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// Sign returns a compact JWS of claims signed by key, with the header
// {"alg","kid","typ":"JWT"}. The algorithm follows the key: EdDSA for an
// Ed25519 key, ES256 (raw r||s signature) for a P-256 ECDSA key; other keys
// are an error. It is for the development token minter and for tests.
func Sign(key crypto.Signer, kid string, claims map[string]any) (string, error) {
	if key == nil {
		return "", errors.New("auth: sign: no key")
	}
	if kid == "" {
		return "", errors.New("auth: sign: empty kid")
	}
	if claims == nil {
		claims = map[string]any{}
	}
	var alg string
	switch pub := key.Public().(type) {
	case ed25519.PublicKey:
		alg = algEdDSA
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return "", errors.New("auth: sign: only P-256 ECDSA keys are supported")
		}
		alg = algES256
	default:
		return "", fmt.Errorf("auth: sign: unsupported key type %T", pub)
	}
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, "JWT"})
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("auth: sign: claims: %w", err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	signed := enc(header) + "." + enc(payload)
	var sig []byte
	switch alg {
	case algEdDSA:
		sig, err = key.Sign(rand.Reader, []byte(signed), crypto.Hash(0))
	case algES256:
		digest := sha256.Sum256([]byte(signed))
		var der []byte
		if der, err = key.Sign(rand.Reader, digest[:], crypto.SHA256); err == nil {
			sig, err = rawECDSASignature(der)
		}
	}
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return signed + "." + enc(sig), nil
}

// rawECDSASignature converts an ASN.1 DER ECDSA P-256 signature to the
// 64-byte r||s form JWS uses (RFC 7518 §3.4).
func rawECDSASignature(der []byte) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &rs)
	if err != nil || len(rest) != 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 ||
		rs.R.BitLen() > 256 || rs.S.BitLen() > 256 {
		return nil, errors.New("malformed ECDSA signature")
	}
	sig := make([]byte, 64)
	rs.R.FillBytes(sig[:32])
	rs.S.FillBytes(sig[32:])
	return sig, nil
}
