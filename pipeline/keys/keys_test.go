package keys_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/cosign/v2/pkg/cosign"

	"github.com/secure-movie-service/sms/pipeline/keys"
)

const password = "keys-test-password"

func mustGenerate(t *testing.T) (dir, id string) {
	t.Helper()
	dir = t.TempDir()
	id, err := keys.Generate(dir, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	return dir, id
}

func TestGenerateWritesAnEncryptedCosignKeyPair(t *testing.T) {
	dir, id := mustGenerate(t)
	priv, pub := filepath.Join(dir, keys.PrivateKeyFile), filepath.Join(dir, keys.PublicKeyFile)
	st, err := os.Stat(priv)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", st.Mode().Perm())
	}
	b, err := os.ReadFile(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("ENCRYPTED SIGSTORE PRIVATE KEY")) {
		t.Fatalf("private key is not in cosign's encrypted format:\n%s", b)
	}
	// The stock cosign library reads it with the password, as the CLI would.
	if _, err := cosign.LoadPrivateKey(b, []byte(password), nil); err != nil {
		t.Fatalf("cosign cannot load the key: %v", err)
	}
	s, err := keys.LoadSigner(priv, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.LoadVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	pemID, err := keys.IDFromPEM(mustRead(t, pub))
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != id || v.ID != id || pemID != id || !strings.HasPrefix(id, "sha256:") || len(id) != len("sha256:")+64 {
		t.Fatalf("key ids differ or are malformed: generate %s, signer %s, verifier %s, pem %s", id, s.ID, v.ID, pemID)
	}
	// What the signer signs, its public key verifies.
	msg := []byte("payload")
	sig, err := s.SignMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(msg)); err != nil {
		t.Fatalf("own signature does not verify: %v", err)
	}
	sv, err := s.Verifier()
	if err != nil || sv.ID != id {
		t.Fatalf("signer's verifier: %v %v", sv, err)
	}
}

// TestKeysRefuse: every way of getting a key wrongly is an error.
func TestKeysRefuse(t *testing.T) {
	dir, _ := mustGenerate(t)
	priv, pub := filepath.Join(dir, keys.PrivateKeyFile), filepath.Join(dir, keys.PublicKeyFile)
	other, _ := mustGenerate(t)
	otherPub := filepath.Join(other, keys.PublicKeyFile)

	t.Run("an empty password when generating", func(t *testing.T) {
		d := t.TempDir()
		if _, err := keys.Generate(d, nil); !errors.Is(err, keys.ErrNoPassword) {
			t.Fatalf("got %v, want ErrNoPassword", err)
		}
		if _, err := os.Stat(filepath.Join(d, keys.PrivateKeyFile)); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("a key was written without a password")
		}
	})
	t.Run("overwriting an existing key", func(t *testing.T) {
		before := mustRead(t, priv)
		if _, err := keys.Generate(dir, []byte(password)); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("got %v, want a file-exists error", err)
		}
		if !bytes.Equal(before, mustRead(t, priv)) {
			t.Fatal("the existing key was changed")
		}
	})
	t.Run("a symlink planted where the private key will be", func(t *testing.T) {
		d, victim := t.TempDir(), filepath.Join(t.TempDir(), "victim")
		mustWrite(t, victim, []byte("do not touch"))
		if err := os.Symlink(victim, filepath.Join(d, keys.PrivateKeyFile)); err != nil {
			t.Fatal(err)
		}
		if _, err := keys.Generate(d, []byte(password)); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("got %v, want a file-exists error", err)
		}
		if got := mustRead(t, victim); string(got) != "do not touch" {
			t.Fatalf("the key was written through the symlink: %q", got)
		}
	})
	t.Run("a dangling symlink where the public key will be", func(t *testing.T) {
		d := t.TempDir()
		target := filepath.Join(t.TempDir(), "planted.pub")
		if err := os.Symlink(target, filepath.Join(d, keys.PublicKeyFile)); err != nil {
			t.Fatal(err)
		}
		if _, err := keys.Generate(d, []byte(password)); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("got %v, want a file-exists error", err)
		}
		if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("the public key was written through the symlink")
		}
		if _, err := os.Lstat(filepath.Join(d, keys.PrivateKeyFile)); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("half a key pair was left behind")
		}
	})
	t.Run("a private key group or others may read", func(t *testing.T) {
		for _, mode := range []os.FileMode{0o640, 0o604, 0o620, 0o644} {
			p := filepath.Join(t.TempDir(), keys.PrivateKeyFile)
			mustWrite(t, p, mustRead(t, priv))
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
			if _, err := keys.LoadSigner(p, []byte(password)); !errors.Is(err, keys.ErrKeyExposed) {
				t.Fatalf("mode %04o: got %v, want ErrKeyExposed", mode, err)
			}
		}
	})
	t.Run("the wrong password", func(t *testing.T) {
		if _, err := keys.LoadSigner(priv, []byte("not-the-password")); err == nil {
			t.Fatal("loaded with the wrong password")
		}
	})
	t.Run("no password", func(t *testing.T) {
		if _, err := keys.LoadSigner(priv, nil); err == nil {
			t.Fatal("loaded without a password")
		}
	})
	t.Run("a corrupted private key", func(t *testing.T) {
		b := mustRead(t, priv)
		i := bytes.Index(b, []byte("\n")) + 10
		b[i] ^= 0x01
		p := filepath.Join(t.TempDir(), keys.PrivateKeyFile)
		mustWrite(t, p, b)
		if _, err := keys.LoadSigner(p, []byte(password)); err == nil {
			t.Fatal("loaded a corrupted key")
		}
	})
	t.Run("a public key as the private key", func(t *testing.T) {
		if _, err := keys.LoadSigner(pub, []byte(password)); err == nil {
			t.Fatal("loaded a public key as a signer")
		}
	})
	t.Run("a missing key file", func(t *testing.T) {
		if _, err := keys.LoadSigner(filepath.Join(t.TempDir(), "none.key"), []byte(password)); err == nil {
			t.Fatal("loaded a missing file")
		}
		if _, err := keys.LoadVerifier(filepath.Join(t.TempDir(), "none.pub")); err == nil {
			t.Fatal("loaded a missing file")
		}
	})
	t.Run("a public key that is not PEM", func(t *testing.T) {
		for _, b := range [][]byte{nil, []byte("not a key"), mustRead(t, priv), []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")} {
			if _, err := keys.VerifierFromPEM(b); err == nil {
				t.Fatalf("accepted %q as a public key", b)
			}
			if _, err := keys.IDFromPEM(b); err == nil {
				t.Fatalf("gave an id to %q", b)
			}
		}
	})
	t.Run("another key's signature", func(t *testing.T) {
		s, err := keys.LoadSigner(priv, []byte(password))
		if err != nil {
			t.Fatal(err)
		}
		v, err := keys.LoadVerifier(otherPub)
		if err != nil {
			t.Fatal(err)
		}
		if v.ID == s.ID {
			t.Fatal("two generated keys share an id")
		}
		sig, err := s.SignMessage(bytes.NewReader([]byte("payload")))
		if err != nil {
			t.Fatal(err)
		}
		if err := v.VerifySignature(bytes.NewReader(sig), bytes.NewReader([]byte("payload"))); err == nil {
			t.Fatal("another key verified the signature")
		}
	})
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustWrite(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
