package api

import (
	"encoding/json"
	"sync"

	"github.com/secure-movie-service/sms/service/store"
)

// bodies keeps the JSON and the ETag header of recently served movies,
// keyed by id, version and times (a movie's JSON never changes under one
// key), so a read does not marshal the same movie again. At most max
// entries; when full it starts over.
type bodies struct {
	mu  sync.Mutex
	max int
	m   map[bodyKey]body
}

type bodyKey struct {
	id               string
	version          uint64
	created, updated int64
}

// body is a movie's JSON as writeJSON writes it, and its ETag header value
// (len == cap: an Add copies it).
type body struct {
	json []byte
	etag []string
}

func newBodies(max int) *bodies { return &bodies{max: max, m: make(map[bodyKey]body)} }

// get returns m's body.
func (b *bodies) get(m store.Movie) (body, error) {
	key := bodyKey{id: m.ID, version: m.Version, created: m.CreatedAt.UnixNano(), updated: m.UpdatedAt.UnixNano()}
	b.mu.Lock()
	v, ok := b.m[key]
	b.mu.Unlock()
	if ok {
		return v, nil
	}
	js, err := json.Marshal(m)
	if err != nil {
		return body{}, err
	}
	v = body{json: js, etag: []string{etag(m.Version)}}
	b.mu.Lock()
	if len(b.m) >= b.max {
		clear(b.m)
	}
	b.m[key] = v
	b.mu.Unlock()
	return v, nil
}
