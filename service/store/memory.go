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

func (s *Memory) Create(_ context.Context, m Movie) (Movie, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ix.get(m.ID); ok {
		return Movie{}, ErrExists
	}
	m.Version = 1
	s.ix.put(m)
	return clone(m), nil
}

func (s *Memory) Update(_ context.Context, m Movie, version uint64) (Movie, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.ix.get(m.ID)
	if !ok {
		return Movie{}, ErrNotFound
	}
	if old.Version != version {
		return Movie{}, ErrVersionMismatch
	}
	m.Version = version + 1
	s.ix.put(m)
	return clone(m), nil
}

func (s *Memory) Delete(_ context.Context, id string, version uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.ix.get(id)
	if !ok {
		return ErrNotFound
	}
	if version != 0 && old.Version != version {
		return ErrVersionMismatch
	}
	s.ix.remove(id)
	return nil
}

func (s *Memory) Ready(context.Context) error { return nil }
func (s *Memory) Close() error                { return nil }
