package ociutil

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
)

// ErrRegistryBytes is returned when one verification would read more than its byte cap.
var ErrRegistryBytes = errors.New("registry responses exceed the byte cap")

// capTransport counts every response body byte against one verification's budget.
type capTransport struct {
	base   http.RoundTripper
	budget *atomic.Int64
}

// CapTransport returns a transport that counts every response body byte against one
// budget of limit bytes (a response that announces more is refused before it is read), so
// that one verification cannot be made to read without end. base nil is the default.
func CapTransport(base http.RoundTripper, limit int64) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
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
