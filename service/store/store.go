package store

import (
	"context"
	"errors"
	"time"
)

// Movie is one stored movie. ID, CreatedBy and the timestamps are set by the
// server, never by the client; Version backs the ETag and changes on every write.
type Movie struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Year     int      `json:"year"`
	Genres   []string `json:"genres"`
	Director string   `json:"director"`
	// Source and SourceID name the upstream record an imported movie came
	// from ("wikidata", "Q151599"); both are empty for a movie a client
	// typed. They are set when the movie is created, never changed by an
	// update, and at most one movie holds a given pair.
	Source    string    `json:"source,omitempty"`
	SourceID  string    `json:"source_id,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   uint64    `json:"-"`
}

// Sentinel errors; the API maps each one to an HTTP status in one table.
var (
	ErrNotFound        = errors.New("store: not found")
	ErrExists          = errors.New("store: id exists")
	ErrSourceExists    = errors.New("store: a movie from that source record exists")
	ErrVersionMismatch = errors.New("store: version mismatch")
	ErrNoSpace         = errors.New("store: no space left on device")
	ErrUnavailable     = errors.New("store: unavailable")

	// ErrLocked is returned by Open when another process (or another Journal
	// in this process) holds the data directory's lock.
	ErrLocked = errors.New("store: data directory is locked by another process")
	// ErrCorrupt is wrapped by the *CorruptError that Open, Backup and Restore
	// return when stored bytes fail their checks anywhere but a torn tail.
	ErrCorrupt = errors.New("store: data is corrupt")
)

// Query selects a page of movies in id order.
type Query struct {
	After string // exclusive cursor: the last id of the previous page
	Limit int    // 1..100, checked by the caller
	Title string // case-insensitive substring; empty matches all
	Year  int    // exact; 0 matches all
	Genre string // case-insensitive exact match against any genre; empty matches all
}

// Store is what the API needs from storage. Writes return only after the
// write is durable; a write that returns an error is not visible to reads.
type Store interface {
	Get(ctx context.Context, id string) (Movie, error)
	// List returns up to q.Limit movies after q.After and, when more match,
	// the id to pass as the next cursor.
	List(ctx context.Context, q Query) (items []Movie, next string, err error)
	// BySource returns the movie imported from source's record id, or ErrNotFound.
	BySource(ctx context.Context, source, id string) (Movie, error)
	// Create stores m with Version 1; ErrExists if the id is taken,
	// ErrSourceExists if another movie holds m's Source and SourceID.
	Create(ctx context.Context, m Movie) (Movie, error)
	// Update replaces the movie with m.ID if its version equals version,
	// else ErrVersionMismatch; the stored Version becomes version+1 and
	// Source and SourceID stay what they were.
	Update(ctx context.Context, m Movie, version uint64) (Movie, error)
	// Delete removes the movie if its version equals version (0: any version).
	Delete(ctx context.Context, id string, version uint64) error
	// Ready reports nil when the store accepts writes.
	Ready(ctx context.Context) error
	Close() error
}

// clone returns a copy of m that shares no memory with it. Genres is
// never nil, so it encodes as [] rather than null.
func clone(m Movie) Movie {
	m.Genres = append(make([]string, 0, len(m.Genres)), m.Genres...)
	return m
}
