package store

import (
	"slices"
	"strings"
)

// index is the in-memory view of the movies, ordered by id. It does no
// locking; its owner does.
type index struct {
	byID     map[string]Movie
	ids      []string             // sorted
	bySource map[sourceKey]string // (source, source id) → id of the imported movie
}

// sourceKey names an upstream record.
type sourceKey struct{ source, id string }

// sourceOf returns the record m was imported from; ok is false for a movie
// a client typed.
func sourceOf(m Movie) (k sourceKey, ok bool) {
	return sourceKey{m.Source, m.SourceID}, m.Source != ""
}

func newIndex() *index { return &index{byID: map[string]Movie{}, bySource: map[sourceKey]string{}} }

// source returns the movie imported from k.
func (ix *index) source(k sourceKey) (Movie, bool) {
	id, ok := ix.bySource[k]
	if !ok {
		return Movie{}, false
	}
	return ix.get(id)
}

func (ix *index) get(id string) (Movie, bool) {
	m, ok := ix.byID[id]
	return m, ok
}

func (ix *index) put(m Movie) {
	if old, ok := ix.byID[m.ID]; !ok {
		i, _ := slices.BinarySearch(ix.ids, m.ID)
		ix.ids = slices.Insert(ix.ids, i, m.ID)
	} else {
		ix.forgetSource(old)
	}
	ix.byID[m.ID] = clone(m)
	if k, ok := sourceOf(m); ok {
		ix.bySource[k] = m.ID
	}
}

func (ix *index) forgetSource(m Movie) {
	if k, ok := sourceOf(m); ok && ix.bySource[k] == m.ID {
		delete(ix.bySource, k)
	}
}

func (ix *index) remove(id string) {
	old, ok := ix.byID[id]
	if !ok {
		return
	}
	ix.forgetSource(old)
	delete(ix.byID, id)
	if i, found := slices.BinarySearch(ix.ids, id); found {
		ix.ids = slices.Delete(ix.ids, i, i+1)
	}
}

func (ix *index) list(q Query) ([]Movie, string) {
	start, _ := slices.BinarySearch(ix.ids, q.After)
	if start < len(ix.ids) && ix.ids[start] == q.After {
		start++
	}
	title := strings.ToLower(q.Title)
	items := make([]Movie, 0, min(q.Limit, 16))
	for _, id := range ix.ids[start:] {
		m := ix.byID[id]
		if !matches(m, title, q) {
			continue
		}
		if len(items) == q.Limit {
			return items, items[len(items)-1].ID
		}
		items = append(items, clone(m))
	}
	return items, ""
}

func matches(m Movie, lowerTitle string, q Query) bool {
	if q.Year != 0 && m.Year != q.Year {
		return false
	}
	if lowerTitle != "" && !strings.Contains(strings.ToLower(m.Title), lowerTitle) {
		return false
	}
	if q.Genre != "" && !slices.ContainsFunc(m.Genres, func(g string) bool { return strings.EqualFold(g, q.Genre) }) {
		return false
	}
	return true
}
