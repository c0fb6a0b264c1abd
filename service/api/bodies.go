package api

import (
	"encoding/json"
	"strconv"
	"sync"

	"github.com/secure-movie-service/sms/service/store"
)

// bodies keeps the JSON of recently served movies, keyed by id, version
// and update time (a movie's JSON never changes under one key), so a read
// does not marshal the same movie again. At most max entries; when full it
// starts over.
type bodies struct {
	mu  sync.Mutex
	max int
	m   map[string][]byte
}

func newBodies(max int) *bodies { return &bodies{max: max, m: make(map[string][]byte)} }

// json returns m's JSON as writeJSON would write it.
func (b *bodies) json(m store.Movie) ([]byte, error) {
	key := m.ID + "/" + strconv.FormatUint(m.Version, 10) + "/" + strconv.FormatInt(m.UpdatedAt.UnixNano(), 10) +
		"/" + strconv.FormatInt(m.CreatedAt.UnixNano(), 10)
	b.mu.Lock()
	body, ok := b.m[key]
	b.mu.Unlock()
	if ok {
		return body, nil
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	if len(b.m) >= b.max {
		clear(b.m)
	}
	b.m[key] = body
	b.mu.Unlock()
	return body, nil
}
