package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ensureKey loads the Ed25519 key at path, or creates it (PKCS#8 PEM, mode
// 0600) if the file does not exist. created reports which.
func ensureKey(path string) (key crypto.Signer, created bool, err error) {
	if _, err := os.Lstat(path); err == nil {
		k, err := loadKey(path)
		if err != nil {
			return nil, false, err
		}
		if _, ok := k.(ed25519.PrivateKey); !ok {
			return nil, false, fmt.Errorf("key %s: not an Ed25519 key", path)
		}
		return k, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, false, err
	}
	// Write the whole key to a temporary file, then link it into place:
	// the link fails rather than replace a key another init just made, and
	// nobody ever sees a partial key file.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key.tmp*")
	if err != nil {
		return nil, false, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if errors.Is(err, fs.ErrExist) {
		return ensureKey(path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("write key %s: %w", path, err)
	}
	return priv, true, nil
}

// loadKey reads a PKCS#8 PEM Ed25519 or P-256 private key that only its
// owner can read.
func loadKey(path string) (crypto.Signer, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key %s has mode %04o; want 0600 (chmod 600 %s)", path, perm, path)
	}
	data, err := os.ReadFile(path) // #nosec G304 -- a development key path given by the developer
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("key %s: no PKCS#8 \"PRIVATE KEY\" PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P256() {
			return k, nil
		}
	}
	return nil, fmt.Errorf("key %s: %T is not an Ed25519 or P-256 key", path, k)
}

// writeFileAtomic replaces path with data and mode perm through a temporary
// file in the same directory, so readers never see a partial file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
