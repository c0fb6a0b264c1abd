package limit

import (
	"net"
	"sync"
	"sync/atomic"
)

// Listener caps the connections open at once: past Max it accepts and at
// once closes a new connection rather than letting it queue, so the cap
// holds however slowly clients speak. Refused counts those closed.
type Listener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	Refused atomic.Int64
}

// NewListener wraps ln with a cap of max open connections.
func NewListener(ln net.Listener, max int) *Listener {
	return &Listener{Listener: ln, max: int64(max)}
}

// Accept returns the next connection within the cap.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &countedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		l.Refused.Add(1)
		c.Close()
	}
}

type countedConn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}
