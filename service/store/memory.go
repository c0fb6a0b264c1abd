package store

import (
	"context"
	"sync"
)

// Memory is a Store that keeps movies only in memory. It is for tests and
// benchmarks; the service uses the journal.
type Memory struct {
	mu sync.RWMutex
	ix *index
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{ix: newIndex()} }

func (s *Memory) Get(_ context.Context, id string) (Movie, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.ix.get(id)
	if !ok {
		return Movie{}, ErrNotFound
	}
	return clone(m), nil
}

func (s *Memory) List(_ context.Context, q Query) ([]Movie, string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	items, next := s.ix.list(q)
	return items, next, nil
}

// BySource returns the movie imported from source's record id, or ErrNotFound.
func (s *Memory) BySource(_ context.Context, source, id string) (Movie, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.ix.source(sourceKey{source, id})
	if !ok {
		return Movie{}, ErrNotFound
	}
	return clone(m), nil
}

func (s *Memory) Create(_ context.Context, m Movie) (Movie, error) {
	return s.apply(mutation{kind: opCreate, id: m.ID, movie: m})
}

func (s *Memory) Update(_ context.Context, m Movie, version uint64) (Movie, error) {
	return s.apply(mutation{kind: opUpdate, id: m.ID, movie: m, version: version})
}

func (s *Memory) Delete(_ context.Context, id string, version uint64) error {
	_, err := s.apply(mutation{kind: opDelete, id: id, version: version})
	return err
}

func (s *Memory) apply(mu mutation) (Movie, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.ix.get(mu.id)
	k, imported := sourceOf(mu.movie)
	_, taken := s.ix.bySource[k]
	m, err := mu.check(cur, ok, imported && taken)
	if err != nil {
		return Movie{}, err
	}
	if mu.kind == opDelete {
		s.ix.remove(mu.id)
		return Movie{}, nil
	}
	s.ix.put(m)
	return clone(m), nil
}

func (s *Memory) Ready(context.Context) error { return nil }
func (s *Memory) Close() error                { return nil }
