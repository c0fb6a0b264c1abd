// Package keys creates and loads signing keys in cosign's format: an ECDSA P-256 private key
// encrypted with scrypt and secretbox under COSIGN_PASSWORD ("ENCRYPTED SIGSTORE PRIVATE KEY"),
// and its PEM public key. Keys made here work with the stock cosign CLI and the reverse.
package keys

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// File names written by Generate, the same that `cosign generate-key-pair` writes.
const (
	PrivateKeyFile = "cosign.key"
	PublicKeyFile  = "cosign.pub"
)

// ErrNoPassword is returned when a key would be written or read without a password.
var ErrNoPassword = errors.New("COSIGN_PASSWORD is empty")

// Generate writes a new encrypted key pair into dir and returns the public key's id.
// It refuses to overwrite an existing key.
func Generate(dir string, password []byte) (string, error) {
	if len(password) == 0 {
		return "", ErrNoPassword
	}
	priv, pub := filepath.Join(dir, PrivateKeyFile), filepath.Join(dir, PublicKeyFile)
	for _, p := range []string{priv, pub} {
		if _, err := os.Stat(p); err == nil {
			return "", fmt.Errorf("keygen: %s already exists", p)
		}
	}
	kb, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return password, nil })
	if err != nil {
		return "", fmt.Errorf("keygen: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("keygen: %w", err)
	}
	if err := os.WriteFile(priv, kb.PrivateBytes, 0o600); err != nil {
		return "", fmt.Errorf("keygen: %w", err)
	}
	if err := os.WriteFile(pub, kb.PublicBytes, 0o644); err != nil { // #nosec G306 -- a public key is meant to be read by others
		return "", fmt.Errorf("keygen: %w", err)
	}
	return IDFromPEM(kb.PublicBytes)
}

// Signer is a loaded private key with the id of its public half.
type Signer struct {
	signature.SignerVerifier
	ID string
}

// LoadSigner decrypts a cosign private key file.
func LoadSigner(path string, password []byte) (*Signer, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the key path is the operator's choice
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	sv, err := cosign.LoadPrivateKey(b, password, nil)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", path, err)
	}
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", path, err)
	}
	id, err := ID(pub)
	if err != nil {
		return nil, err
	}
	return &Signer{SignerVerifier: sv, ID: id}, nil
}

// Verifier is a public key with its id.
type Verifier struct {
	signature.Verifier
	ID   string
	Path string
}

// LoadVerifier reads a PEM public key file.
func LoadVerifier(path string) (*Verifier, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the key path is the operator's choice
	if err != nil {
		return nil, fmt.Errorf("load public key: %w", err)
	}
	v, err := VerifierFromPEM(b)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", path, err)
	}
	v.Path = path
	return v, nil
}

// VerifierFromPEM parses a PEM public key.
func VerifierFromPEM(b []byte) (*Verifier, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(b)
	if err != nil {
		return nil, err
	}
	v, err := signature.LoadDefaultVerifier(pub, *cosign.GetDefaultLoadOptions(nil)...)
	if err != nil {
		return nil, err
	}
	id, err := ID(pub)
	if err != nil {
		return nil, err
	}
	return &Verifier{Verifier: v, ID: id}, nil
}

// Verifier returns the verifier for the signer's public half.
func (s *Signer) Verifier() (*Verifier, error) {
	pub, err := s.PublicKey()
	if err != nil {
		return nil, err
	}
	v, err := signature.LoadDefaultVerifier(pub, *cosign.GetDefaultLoadOptions(nil)...)
	if err != nil {
		return nil, err
	}
	return &Verifier{Verifier: v, ID: s.ID}, nil
}

// ID is a public key's stable id: "sha256:" and the hex SHA-256 of its DER SubjectPublicKeyInfo.
// policy/data lists trusted keys by this id.
func ID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// IDFromPEM computes ID for a PEM public key.
func IDFromPEM(b []byte) (string, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(b)
	if err != nil {
		return "", fmt.Errorf("key id: %w", err)
	}
	return ID(pub)
}
