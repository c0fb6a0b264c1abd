package api

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/secure-movie-service/sms/service/limit"
)

// Abusive stream resets: a client that cancels more than maxResets
// requests on one HTTP/2 connection within resetWindow has its connection
// closed (the "rapid reset" flood: each reset costs a handler run).
const (
	maxResets   = 100
	resetWindow = 10 * time.Second
)

// connState is what the server remembers about one connection.
type connState struct {
	conn net.Conn

	mu     sync.Mutex
	start  time.Time // of the current window
	resets int
	closed bool

	addr             netip.Addr // the client address last seen, and its strings
	addrStr, addrKey string
}

type connKey struct{}

// ConnContext is the http.Server's ConnContext hook: it lets the handler
// close a connection whose client resets streams abusively.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connState{conn: c})
}

// reset records that a request on the connection was cancelled by its
// client before its handler finished, and reports whether that closed the
// connection.
func (cs *connState) reset(now time.Time) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return false
	}
	if now.Sub(cs.start) > resetWindow {
		cs.start, cs.resets = now, 0
	}
	if cs.resets++; cs.resets <= maxResets {
		return false
	}
	cs.closed = true
	cs.conn.Close()
	return true
}

func connOf(ctx context.Context) *connState {
	cs, _ := ctx.Value(connKey{}).(*connState)
	return cs
}

// clientAddr returns the client's address, for the log, and its limit key,
// as proxies and v6Bits say. On a connection the server tracks, both strings
// are made once for the address its requests keep giving.
func clientAddr(r *http.Request, proxies limit.Proxies, v6Bits int) (ip, key string) {
	a := proxies.ClientIP(r)
	cs := connOf(r.Context())
	if cs == nil {
		return a.String(), limit.AddrKey(a, v6Bits)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.addr != a || cs.addrStr == "" {
		cs.addr, cs.addrStr, cs.addrKey = a, a.String(), limit.AddrKey(a, v6Bits)
	}
	return cs.addrStr, cs.addrKey
}
