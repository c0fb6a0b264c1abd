package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const testDir = "/data"

func testMovie(id string, i int) Movie {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC).Add(time.Duration(i) * time.Second)
	return Movie{
		ID: id, Title: fmt.Sprintf("Title %d ✓", i), Year: 1900 + i%120, Genres: []string{"drama", "noir"},
		Director: "Dir " + id, CreatedBy: "user-1", CreatedAt: t0, UpdatedAt: t0,
	}
}

// syncBuffer is a log destination safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger(buf *syncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func mustOpen(tb testing.TB, dir string, opts Options) *Journal {
	tb.Helper()
	j, err := Open(dir, opts)
	if err != nil {
		tb.Fatalf("Open(%s): %v", dir, err)
	}
	return j
}

func mustCreate(tb testing.TB, s Store, m Movie) Movie {
	tb.Helper()
	got, err := s.Create(context.Background(), m)
	if err != nil {
		tb.Fatalf("Create(%s): %v", m.ID, err)
	}
	return got
}

// listAll pages through every movie.
func listAll(tb testing.TB, s Store) []Movie {
	tb.Helper()
	var all []Movie
	after := ""
	for {
		items, next, err := s.List(context.Background(), Query{After: after, Limit: 100})
		if err != nil {
			tb.Fatalf("List: %v", err)
		}
		all = append(all, items...)
		if next == "" {
			return all
		}
		after = next
	}
}

// movieBytes is a movie's JSON with its version: what "byte for byte" compares.
func movieBytes(m Movie) string {
	b, err := json.Marshal(struct {
		Movie
		V uint64 `json:"version"`
	}{m, m.Version})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func dump(ms []Movie) string {
	var sb strings.Builder
	for _, m := range ms {
		sb.WriteString(movieBytes(m))
		sb.WriteByte('\n')
	}
	return sb.String()
}

func memOpts(fsys fileSystem) Options { return Options{fs: fsys, CompactBytes: -1} }

func journalPath(gen uint64) string  { return filepath.Join(testDir, journalName(gen)) }
func snapshotPath(gen uint64) string { return filepath.Join(testDir, snapshotName(gen)) }
