// Package ociutil holds what every pipeline step needs to talk to a registry: reference
// parsing that insists on digests where it matters, registry client options, and an
// in-process OCI registry on loopback for releases and tests that need no external registry.
package ociutil

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
)

// ErrNotDigest is returned where a reference must name an image by digest.
var ErrNotDigest = errors.New("image reference is not pinned by digest (want REPO@sha256:…)")

// ParseDigest parses a reference that must carry a digest.
func ParseDigest(ref string) (name.Digest, error) {
	d, err := name.NewDigest(ref, name.StrictValidation)
	if err != nil {
		if _, terr := name.ParseReference(ref); terr == nil {
			return name.Digest{}, fmt.Errorf("%s: %w", ref, ErrNotDigest)
		}
		return name.Digest{}, fmt.Errorf("parse %s: %w", ref, err)
	}
	return d, nil
}

// RemoteOptions are the go-containerregistry options for ctx: credentials from the
// default keychain (docker config, credential helpers). Loopback registries use plain HTTP,
// which go-containerregistry decides by itself from the host name.
func RemoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
}

// CosignOptions wraps RemoteOptions for cosign's OCI client.
func CosignOptions(ctx context.Context) []ociremote.Option {
	return []ociremote.Option{ociremote.WithRemoteOptions(RemoteOptions(ctx)...)}
}

// Client is how a long-running process reaches registries: its own HTTP transport (a byte
// cap, say) and its own keychain (a mounted Docker config file) instead of the process
// defaults. The zero Client is RemoteOptions.
type Client struct {
	Transport http.RoundTripper
	Keychain  authn.Keychain
}

// Remote is RemoteOptions for ctx with the client's transport and keychain, where set.
func (c Client) Remote(ctx context.Context) []remote.Option {
	kc := c.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
	if c.Transport != nil {
		opts = append(opts, remote.WithTransport(c.Transport))
	}
	return opts
}

// Cosign wraps Remote for cosign's OCI client.
func (c Client) Cosign(ctx context.Context) []ociremote.Option {
	return []ociremote.Option{ociremote.WithRemoteOptions(c.Remote(ctx)...)}
}

// Registry is an OCI registry (go-containerregistry's pkg/registry) served on loopback.
type Registry struct {
	Host string // 127.0.0.1:PORT
	srv  *http.Server
	ln   net.Listener
}

// StartRegistry serves an in-memory registry on 127.0.0.1 at a free port. Extra options go
// to registry.New (a disk blob handler, for example). Close stops it.
func StartRegistry(opts ...registry.Option) (*Registry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start registry: %w", err)
	}
	opts = append([]registry.Option{registry.Logger(discardLogger())}, opts...)
	srv := &http.Server{Handler: registry.New(opts...), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &Registry{Host: ln.Addr().String(), srv: srv, ln: ln}, nil
}

// Close stops the registry; its contents are gone.
func (r *Registry) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.srv.Shutdown(ctx)
}
