package logbuf

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter records what was written and in how many calls.
type countingWriter struct {
	mu    sync.Mutex
	b     bytes.Buffer
	calls int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return c.b.Write(p)
}

func (c *countingWriter) snapshot() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String(), c.calls
}

func TestEveryLineWrittenInOrderPerWriter(t *testing.T) {
	out := &countingWriter{}
	w := New(out, time.Millisecond, 4096)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(w, "{\"g\":%d,\"i\":%d}\n", g, i)
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, calls := out.snapshot()
	next := make([]int, writers)
	n := 0
	for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		var g, i int
		if _, err := fmt.Sscanf(line, "{\"g\":%d,\"i\":%d}", &g, &i); err != nil {
			t.Fatalf("torn line %q", line)
		}
		if i != next[g] {
			t.Fatalf("writer %d: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
		n++
	}
	if n != writers*lines {
		t.Fatalf("%d lines, want %d", n, writers*lines)
	}
	if calls >= n {
		t.Fatalf("%d writes for %d lines: nothing was batched", calls, n)
	}
}

func TestWritesWithinTheInterval(t *testing.T) {
	out := &countingWriter{}
	w := New(out, 5*time.Millisecond, 1<<20)
	defer w.Close()
	w.Write([]byte("one\n"))
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 1000 && time.Now().Before(deadline); i++ {
		if got, _ := out.snapshot(); got == "one\n" {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("a line was not written within 5s")
}

func TestBoundedAndWriteThroughAfterClose(t *testing.T) {
	out := &countingWriter{}
	w := New(out, time.Hour, 10) // the loop never flushes in time: only the bound does
	w.Write([]byte("0123456789"))
	w.Write([]byte("abc")) // over the bound: the first line is written now
	if got, _ := out.snapshot(); got != "0123456789" {
		t.Fatalf("written %q", got)
	}
	done := make(chan error)
	go func() { done <- w.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for the interval")
	}
	w.Write([]byte("late"))
	if got, _ := out.snapshot(); got != "0123456789abclate" {
		t.Fatalf("written %q", got)
	}
}
