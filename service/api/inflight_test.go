package api

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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
