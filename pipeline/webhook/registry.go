package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
)

// ErrRegistryBytes is returned when one verification would read more than its byte cap.
var ErrRegistryBytes = errors.New("registry responses exceed the byte cap")

// capTransport counts every response body byte against one verification's budget.
type capTransport struct {
	base   http.RoundTripper
	budget *atomic.Int64
}

func newCapTransport(base http.RoundTripper, limit int64) *capTransport {
	b := new(atomic.Int64)
	b.Store(limit)
	return &capTransport{base: base, budget: b}
}

// RoundTrip implements http.RoundTripper.
func (t *capTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.budget.Load() {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %d bytes announced: %w", r.Method, r.URL.Redacted(), resp.ContentLength, ErrRegistryBytes)
	}
	resp.Body = &capBody{rc: resp.Body, budget: t.budget}
	return resp, nil
}

type capBody struct {
	rc     io.ReadCloser
	budget *atomic.Int64
}

func (b *capBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if b.budget.Add(-int64(n)) < 0 {
		return n, ErrRegistryBytes
	}
	return n, err
}

func (b *capBody) Close() error { return b.rc.Close() }

// DockerConfigKeychain resolves registry credentials from a Docker config file (the
// "auths" map of ~/.docker/config.json, as a kubernetes.io/dockerconfigjson Secret mounts
// it). The file is read again when it changes. Credential helpers are never run.
type DockerConfigKeychain struct {
	path  string
	mu    sync.Mutex
	stamp string
	auths map[string]authn.AuthConfig
}

// NewDockerConfigKeychain reads path once, so that a missing or malformed file is an error at
// start rather than a denial later.
func NewDockerConfigKeychain(path string) (*DockerConfigKeychain, error) {
	k := &DockerConfigKeychain{path: path}
	if _, err := k.load(); err != nil {
		return nil, err
	}
	return k, nil
}

// Resolve implements authn.Keychain: the registry's entry, or anonymous.
func (k *DockerConfigKeychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	auths, err := k.load()
	if err != nil {
		return nil, err
	}
	host := res.RegistryStr()
	names := []string{host}
	if host == "index.docker.io" {
		names = append(names, "docker.io")
	}
	for _, n := range names {
		if a, ok := auths[n]; ok {
			return authn.FromConfig(a), nil
		}
	}
	return authn.Anonymous, nil
}

func (k *DockerConfigKeychain) load() (map[string]authn.AuthConfig, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	st, err := stamp(k.path)
	if err != nil {
		return nil, fmt.Errorf("docker config: %w", err)
	}
	if st == k.stamp {
		return k.auths, nil
	}
	b, err := os.ReadFile(k.path)
	if err != nil {
		return nil, fmt.Errorf("docker config: %w", err)
	}
	var cf struct {
		Auths map[string]authn.AuthConfig `json:"auths"`
	}
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, fmt.Errorf("docker config %s: %w", k.path, err)
	}
	auths := map[string]authn.AuthConfig{}
	for key, a := range cf.Auths {
		auths[registryKey(key)] = a
	}
	k.stamp, k.auths = st, auths
	return auths, nil
}

// registryKey reduces "https://index.docker.io/v1/" and "ghcr.io" alike to a host.
func registryKey(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	host, _, _ := strings.Cut(s, "/")
	if host == "index.docker.io" {
		return "docker.io"
	}
	return host
}

// stamp identifies a file's version by size and modification time (through symlinks, as
// Kubernetes swaps mounted Secrets).
func stamp(paths ...string) (string, error) {
	var sb strings.Builder
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "%s:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano())
	}
	return sb.String(), nil
}
