// Command clusterfixture serves what the cluster test (tests/cluster) admits and denies: an
// in-memory OCI registry on loopback holding a complete release signed by a trusted key, and
// the attacks on it (unsigned, signed by an untrusted key, a signature copied from another
// digest, an image that runs as root), with the public key and the policy data that trust it.
// It writes DIR/fixtures.json, then serves until its standard input closes or it is stopped.
//
// It is test tooling: it is never part of a release.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/sign"
)

// Fixtures is what DIR/fixtures.json holds.
type Fixtures struct {
	Registry string            `json:"registry"` // 127.0.0.1:PORT
	Images   map[string]string `json:"images"`   // fixture name → repository@sha256:…
	Key      string            `json:"key"`      // the trusted public key file
	Trust    string            `json:"trust"`    // policy data trusting Key and the registry
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: clusterfixture DIR")
		os.Exit(2)
	}
	reg, err := ociutil.StartRegistry()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer reg.Close()
	if err := publish(ctx, reg.Host, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "clusterfixture:", err)
		os.Exit(2)
	}
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-ctx.Done():
	case <-done:
	}
}

func publish(ctx context.Context, host, dir string) error {
	trusted, err := key(filepath.Join(dir, "trusted"))
	if err != nil {
		return err
	}
	evil, err := key(filepath.Join(dir, "evil"))
	if err != nil {
		return err
	}
	repo := host + "/acme/movies"
	f := Fixtures{Registry: host, Images: map[string]string{}, Key: trusted.PublicPath(), Trust: filepath.Join(dir, "trust.json")}
	steps := []struct {
		name, user string
		signer     *testkit.Key
		unsigned   bool
	}{
		{"good", "65532:65532", trusted, false},
		{"fresh", "65532:65532", trusted, false}, // verified first by 50 pods at once
		{"unsigned", "65532", trusted, true},
		{"untrusted", "65532", evil, false},
		{"copied", "65532", trusted, true},
		{"root", "0", trusted, false},
	}
	for _, s := range steps {
		ref, err := release(ctx, repo, s.user, s.signer, s.unsigned)
		if err != nil {
			return fmt.Errorf("publish %s: %w", s.name, err)
		}
		f.Images[s.name] = ref.String()
	}
	if err := copySignature(f.Images["untrusted"], f.Images["copied"]); err != nil {
		return err
	}
	if err := os.WriteFile(f.Trust, testkit.TrustOverlay([]string{host + "/acme/"}, trusted), 0o600); err != nil { // #nosec G703 -- under the directory the test names on the command line
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "fixtures.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil { // #nosec G703 -- under the directory the test names on the command line
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "fixtures.json")) // #nosec G703 -- under the directory the test names on the command line
}

func key(dir string) (*testkit.Key, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil { // #nosec G703 -- under the directory the test names on the command line
		return nil, err
	}
	return testkit.NewKey(dir)
}

// release pushes a small image running as user and gives it what admission asks for: a
// signature (unless unsigned) and the SBOM, provenance, control-results and vulnerability
// attestations, all by k; the vulnerability database is a day old.
func release(ctx context.Context, repo, user string, k *testkit.Key, unsigned bool) (name.Digest, error) {
	img, err := testkit.NewImage(user)
	if err != nil {
		return name.Digest{}, err
	}
	h, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	ref, err := name.NewDigest(repo + "@" + h.String())
	if err != nil {
		return name.Digest{}, err
	}
	if err := remote.Write(ref, img, ociutil.RemoteOptions(ctx)...); err != nil {
		return name.Digest{}, fmt.Errorf("push: %w", err)
	}
	if !unsigned {
		if err := sign.Sign(ctx, ref, k.Signer); err != nil {
			return name.Digest{}, err
		}
	}
	for typ, body := range map[string][]byte{
		predicate.TypeSPDX:       testkit.SPDX(),
		predicate.TypeProvenance: testkit.Provenance(testkit.SourceRepository, testkit.Revision),
		predicate.TypeControls:   testkit.Controls(testkit.Revision),
		predicate.TypeVuln:       testkit.Vuln(time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)),
	} {
		if err := sign.Attest(ctx, ref, k.Signer, typ, body); err != nil {
			return name.Digest{}, fmt.Errorf("attest %s: %w", typ, err)
		}
	}
	return ref, nil
}

// copySignature copies the cosign signature manifest of one digest onto another.
func copySignature(from, to string) error {
	tag := func(ref string) (name.Tag, error) {
		d, err := name.NewDigest(ref)
		if err != nil {
			return name.Tag{}, err
		}
		return name.NewTag(d.Repository.Name() + ":" + strings.Replace(d.DigestStr(), ":", "-", 1) + ".sig")
	}
	ft, err := tag(from)
	if err != nil {
		return err
	}
	tt, err := tag(to)
	if err != nil {
		return err
	}
	img, err := remote.Image(ft)
	if err != nil {
		return fmt.Errorf("copy signature: %w", err)
	}
	return remote.Write(tt, img)
}
