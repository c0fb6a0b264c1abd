// Package logbuf batches log lines into few writes: a request's log lines
// are appended to memory and written to the underlying writer by one
// goroutine at most every interval (or at once when a bound is reached), so
// serving a request costs no write system call. Lines are never dropped or
// reordered; Close writes what is pending. A crash loses at most the lines
// of the last interval. It imports only the standard library.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// Writer is an io.Writer for a log handler that writes whole lines per
// call (as log/slog's handlers do). It is safe for concurrent use.
type Writer struct {
	out      io.Writer
	interval time.Duration
	max      int

	mu    sync.Mutex // guards buf and closed; taken before wmu
	buf   []byte
	spare []byte
	err   error
	wmu   sync.Mutex // serialises writes to out, in order

	kick   chan struct{}
	stop   chan struct{}
	closed bool
	done   chan struct{}
}

// New returns a Writer over out that writes at most every interval and
// holds at most max bytes before a Write waits for them to be written.
func New(out io.Writer, interval time.Duration, max int) *Writer {
	w := &Writer{out: out, interval: interval, max: max, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

// Write appends p; it writes through at once only when max bytes are pending
// or the Writer is closed.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		w.wmu.Lock()
		defer w.wmu.Unlock()
		return w.out.Write(p)
	}
	if len(w.buf) > 0 && len(w.buf)+len(p) > w.max {
		w.flushLocked()
	}
	w.buf = append(w.buf, p...)
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// flushLocked writes the pending bytes; w.mu is held.
func (w *Writer) flushLocked() {
	if len(w.buf) == 0 {
		return
	}
	w.wmu.Lock()
	buf := w.buf
	w.buf, w.spare = w.spare[:0], nil
	w.mu.Unlock() // writers append to the new buffer meanwhile
	if _, err := w.out.Write(buf); err != nil && w.err == nil {
		w.err = err
	}
	w.wmu.Unlock()
	w.mu.Lock()
	if w.spare == nil && cap(buf) <= 4*w.max {
		w.spare = buf[:0]
	}
}

func (w *Writer) loop() {
	defer close(w.done)
	for {
		select {
		case <-w.kick:
		case <-w.stop:
			return
		}
		t := time.NewTimer(w.interval) // let the lines of the next requests join this write
		select {
		case <-t.C:
		case <-w.stop:
			t.Stop()
			return
		}
		w.mu.Lock()
		w.flushLocked()
		w.mu.Unlock()
	}
}

// Close writes what is pending; later writes go straight through. It
// returns the first error the underlying writer gave, if any.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	return w.err
}
