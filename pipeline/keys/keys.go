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
	"syscall"

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

// ErrKeyExposed is returned when a private key file is readable or writable by group or others.
var ErrKeyExposed = errors.New("private key file is accessible to group or others")

// Generate writes a new encrypted key pair into dir and returns the public key's id. Both
// files are created exclusively (O_EXCL, O_NOFOLLOW): an existing file, or a symlink planted
// where a key will be, is an error and is never written through.
func Generate(dir string, password []byte) (string, error) {
	if len(password) == 0 {
		return "", ErrNoPassword
	}
	kb, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return password, nil })
	if err != nil {
		return "", fmt.Errorf("keygen: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("keygen: %w", err)
	}
	priv, pub := filepath.Join(dir, PrivateKeyFile), filepath.Join(dir, PublicKeyFile)
	if err := createExclusive(priv, kb.PrivateBytes, 0o600); err != nil {
		return "", fmt.Errorf("keygen: %w", err)
	}
	if err := createExclusive(pub, kb.PublicBytes, 0o644); err != nil {
		_ = os.Remove(priv) // half a pair is no key
		return "", fmt.Errorf("keygen: %w", err)
	}
	return IDFromPEM(kb.PublicBytes)
}

// createExclusive creates path with mode and writes b, failing when anything (a file, a
// symlink) is already there.
func createExclusive(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, mode) // #nosec G304 -- the operator's key directory
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return err
	}
	return f.Close()
}

// Signer is a loaded private key with the id of its public half.
type Signer struct {
	signature.SignerVerifier
	ID string
}

// LoadSigner decrypts a cosign private key file. It refuses a file that group or others may
// read or write (chmod 600 it), as ssh refuses such a private key.
func LoadSigner(path string, password []byte) (*Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("load key %s: %w (mode %04o; chmod 600 it)", path, ErrKeyExposed, fi.Mode().Perm())
	}
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

// LoadVerifiers reads PEM public key files.
func LoadVerifiers(paths []string) ([]*Verifier, error) {
	var ks []*Verifier
	for _, p := range paths {
		k, err := LoadVerifier(p)
		if err != nil {
			return nil, err
		}
		ks = append(ks, k)
	}
	return ks, nil
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
