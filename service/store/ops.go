package store

// opKind says what a mutation does.
type opKind uint8

const (
	opCreate opKind = iota + 1
	opUpdate
	opDelete
)

// mutation is one write as the Store interface describes it. Memory and
// Journal both decide its outcome with check, so they share the semantics.
type mutation struct {
	kind    opKind
	id      string
	movie   Movie  // create, update: the new contents (Version is ignored)
	version uint64 // update: expected version; delete: expected version or 0
}

// check decides the mutation against the current state of its id (cur,
// exists) and whether another movie holds the source record of a movie
// being created (sourceTaken), and returns the movie as it will be stored
// (for a delete, the movie that goes away).
func (mu *mutation) check(cur Movie, exists, sourceTaken bool) (Movie, error) {
	switch mu.kind {
	case opCreate:
		if exists {
			return Movie{}, ErrExists
		}
		if sourceTaken {
			return Movie{}, ErrSourceExists
		}
		m := mu.movie
		m.Version = 1
		return m, nil
	case opUpdate:
		if !exists {
			return Movie{}, ErrNotFound
		}
		if cur.Version != mu.version {
			return Movie{}, ErrVersionMismatch
		}
		m := mu.movie
		m.Version = mu.version + 1
		m.Source, m.SourceID = cur.Source, cur.SourceID
		return m, nil
	default: // opDelete
		if !exists {
			return Movie{}, ErrNotFound
		}
		if mu.version != 0 && cur.Version != mu.version {
			return Movie{}, ErrVersionMismatch
		}
		return cur, nil
	}
}
