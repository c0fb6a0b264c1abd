package api

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/service/authz"
)

// slowPost opens a connection and sends a POST that declares a body and
// sends none of it, as a client holding a slot would.
func slowPost(t *testing.T, addr, token string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Write([]byte("POST /v1/movies HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"Authorization: Bearer " + token + "\r\nContent-Length: 100\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

// waitDecisions waits until OPA was asked n questions in all, i.e. n slow
// requests are past authorization and reading their bodies.
func waitDecisions(t *testing.T, a *fakeAuthz, n int) {
	t.Helper()
	for range 500 {
		a.mu.Lock()
		got := len(a.inputs)
		a.mu.Unlock()
		if got >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("fewer than %d requests reached authorization", n)
}

func readStatus(t *testing.T, br *bufio.Reader) int {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestSlowBodiesCannotTakeTheServer(t *testing.T) {
	t.Run("C-DOS-INFLIGHT one subject holds at most its own cap", func(t *testing.T) {
		hs := newHarness(t, func(c *Config) {
			c.MaxInFlight, c.MaxInFlightPerIP, c.MaxInFlightPerSubject, c.BodyTimeout = 8, 8, 2, time.Minute
		})
		srv := httptest.NewServer(hs.h)
		t.Cleanup(srv.Close) // after the slow connections close (cleanups run last first)
		addr := srv.Listener.Addr().String()
		for range 2 {
			slowPost(t, addr, "tok-editor")
		}
		waitDecisions(t, hs.authz, 2)
		for i := range 6 {
			_, br := slowPost(t, addr, "tok-editor")
			if code := readStatus(t, br); code != http.StatusTooManyRequests {
				t.Fatalf("slow request %d past the subject's cap: %d, want 429", i+3, code)
			}
		}
		resp, err := srv.Client().Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("another client got %d while one subject held slow requests", resp.StatusCode)
		}
	})
	t.Run("C-DOS-INFLIGHT one address holds at most its own cap", func(t *testing.T) {
		hs := newHarness(t, func(c *Config) {
			c.MaxInFlight, c.MaxInFlightPerIP, c.MaxInFlightPerSubject, c.BodyTimeout = 8, 2, 8, time.Minute
		})
		srv := httptest.NewServer(hs.h)
		t.Cleanup(srv.Close) // after the slow connections close (cleanups run last first)
		addr := srv.Listener.Addr().String()
		slowPost(t, addr, "tok-editor")
		slowPost(t, addr, "tok-editor2")
		waitDecisions(t, hs.authz, 2)
		if _, br := slowPost(t, addr, "tok-admin"); readStatus(t, br) != http.StatusTooManyRequests {
			t.Fatal("a third subject from the same address was admitted past the address cap of 2")
		}
	})
	t.Run("C-DOS-INFLIGHT a body that does not arrive is answered 408", func(t *testing.T) {
		hs := newHarness(t, func(c *Config) { c.BodyTimeout = 50 * time.Millisecond })
		srv := httptest.NewServer(hs.h)
		t.Cleanup(srv.Close) // after the slow connections close (cleanups run last first)
		_, br := slowPost(t, srv.Listener.Addr().String(), "tok-editor")
		if code := readStatus(t, br); code != http.StatusRequestTimeout {
			t.Fatalf("slow body: %d, want 408", code)
		}
	})
}

// stallAuthz holds every decision until the request is cancelled.
type stallAuthz struct {
	fakeAuthz
	entered chan struct{}
}

func (s *stallAuthz) Decide(ctx context.Context, _ authz.Input) (authz.Decision, error) {
	s.entered <- struct{}{}
	<-ctx.Done()
	return authz.Decision{}, ctx.Err()
}

// TestRapidResetClosesTheConnection: a client that cancels request after
// request on one HTTP/2 connection (each cancel an RST_STREAM) loses the
// connection once it passes maxResets.
func TestRapidResetClosesTheConnection(t *testing.T) {
	sa := &stallAuthz{entered: make(chan struct{}, 1)}
	hs := newHarness(t, func(c *Config) {
		c.Authorizer = sa
		// A handler gives its slot back only after it has seen the reset, so on a loaded
		// machine earlier requests may still hold theirs: the in-flight caps (tested on their
		// own) must not answer for the handler here.
		c.MaxInFlight, c.MaxInFlightPerIP, c.MaxInFlightPerSubject = 4*maxResets, 4*maxResets, 4*maxResets
	})
	srv := httptest.NewUnstartedServer(hs.h)
	srv.EnableHTTP2 = true
	srv.Config.ConnContext = ConnContext
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()
	const closedLine = "closed an HTTP/2 connection that reset too many streams"
	for i := range maxResets + 20 {
		if strings.Contains(hs.logs.String(), closedLine) {
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/movies", nil)
		r.Header.Set("Authorization", "Bearer tok-viewer")
		done := make(chan error, 1)
		go func() {
			resp, err := client.Do(r)
			if err == nil {
				if resp.ProtoMajor != 2 {
					err = fmt.Errorf("HTTP/%d, want HTTP/2", resp.ProtoMajor)
				}
				resp.Body.Close()
			}
			done <- err
		}()
		select {
		case <-sa.entered:
		case err := <-done:
			cancel()
			if i >= maxResets { // the server closed the connection: the closing line follows
				for range 100 {
					if strings.Contains(hs.logs.String(), closedLine) {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				continue
			}
			t.Fatalf("request %d ended before it reached the handler: %v", i, err)
		case <-time.After(5 * time.Second):
			t.Fatalf("request %d never reached the handler", i)
		}
		cancel() // the client sends RST_STREAM
		<-done
	}
	if !strings.Contains(hs.logs.String(), closedLine) {
		t.Fatal("C-DOS-INFLIGHT a client reset 120 streams on one connection and kept it")
	}
	// A new connection serves; the client may first try the closed one.
	var err error
	for range 10 {
		var resp *http.Response
		if resp, err = client.Get(srv.URL + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if conns.Load() < 2 {
		t.Fatalf("all %d resets went over %d connection(s)", maxResets+20, conns.Load())
	}
}

// TestDeclaredOversizeBodyRefusedBeforeReading: a Content-Length above the
// limit is answered 413 at once, without waiting for the body.
func TestDeclaredOversizeBodyRefusedBeforeReading(t *testing.T) {
	hs := newHarness(t, func(c *Config) { c.BodyTimeout = time.Minute })
	srv := httptest.NewServer(hs.h)
	t.Cleanup(srv.Close)
	c, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "POST /v1/movies HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer tok-editor\r\nContent-Length: %d\r\n\r\n", maxBody+1)
	if code := readStatus(t, bufio.NewReader(c)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("C-INPUT declared oversize body: %d, want 413", code)
	}
}
