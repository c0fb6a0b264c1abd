package store

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func imported(id string, i int, source, sourceID string) Movie {
	m := testMovie(id, i)
	m.Source, m.SourceID = source, sourceID
	return m
}

// TestSourceRecordIsUnique: at most one movie per (source, source id), in memory and in
// the journal; an update keeps the source; a delete frees it.
func TestSourceRecordIsUnique(t *testing.T) {
	stores := map[string]func(t *testing.T) Store{
		"memory":  func(*testing.T) Store { return NewMemory() },
		"journal": func(t *testing.T) Store { return mustOpen(t, t.TempDir(), Options{}) },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			defer s.Close()
			mustCreate(t, s, imported("a", 1, "wikidata", "Q1"))
			mustCreate(t, s, imported("b", 2, "omdb", "Q1")) // another source, same id
			mustCreate(t, s, testMovie("c", 3))
			if _, err := s.Create(ctx, imported("d", 4, "wikidata", "Q1")); !errors.Is(err, ErrSourceExists) {
				t.Fatalf("second import of wikidata Q1: %v, want ErrSourceExists", err)
			}
			got, err := s.BySource(ctx, "wikidata", "Q1")
			if err != nil || got.ID != "a" {
				t.Fatalf("BySource = %+v, %v", got, err)
			}
			if _, err := s.BySource(ctx, "wikidata", "Q2"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("BySource of an unknown record: %v", err)
			}
			upd, err := s.Update(ctx, imported("a", 5, "omdb", "tt1"), 1)
			if err != nil || upd.Source != "wikidata" || upd.SourceID != "Q1" {
				t.Fatalf("update changed the source: %+v, %v", upd, err)
			}
			if err := s.Delete(ctx, "a", 0); err != nil {
				t.Fatal(err)
			}
			if _, err := s.BySource(ctx, "wikidata", "Q1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("BySource after delete: %v", err)
			}
			mustCreate(t, s, imported("e", 6, "wikidata", "Q1"))
		})
	}
}

// TestSourceRecordSurvivesRestart: the source of an imported movie is in the journal, so
// the dedupe holds after a restart and after compaction.
func TestSourceRecordSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	j := mustOpen(t, dir, Options{})
	mustCreate(t, j, imported("a", 1, "wikidata", "Q151599"))
	j.Close()
	for _, step := range []string{"reopen", "compact"} {
		j = mustOpen(t, dir, Options{})
		if step == "compact" {
			if err := j.Compact(ctx); err != nil {
				t.Fatal(err)
			}
			j.Close()
			j = mustOpen(t, dir, Options{})
		}
		if m, err := j.BySource(ctx, "wikidata", "Q151599"); err != nil || m.ID != "a" {
			t.Fatalf("%s: BySource = %+v, %v", step, m, err)
		}
		if _, err := j.Create(ctx, imported("b", 2, "wikidata", "Q151599")); !errors.Is(err, ErrSourceExists) {
			t.Fatalf("%s: duplicate import: %v", step, err)
		}
		j.Close()
	}
}

// TestConcurrentImportsCreateOne: imports of one record racing through group commit
// create exactly one movie.
func TestConcurrentImportsCreateOne(t *testing.T) {
	j := mustOpen(t, t.TempDir(), Options{})
	defer j.Close()
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = j.Create(context.Background(), imported(string(rune('a'+i)), i, "wikidata", "Q42"))
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrSourceExists):
			t.Fatal(err)
		}
	}
	if ok != 1 || len(listAll(t, j)) != 1 {
		t.Fatalf("%d creates succeeded, %d movies stored; want 1", ok, len(listAll(t, j)))
	}
}
