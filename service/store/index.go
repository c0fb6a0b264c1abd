package store

import (
	"slices"
	"strings"
)

// index is the in-memory view of the movies, ordered by id. It does no
// locking; its owner does.
type index struct {
	byID map[string]Movie
	ids  []string // sorted
}

func newIndex() *index { return &index{byID: map[string]Movie{}} }

func (ix *index) get(id string) (Movie, bool) {
	m, ok := ix.byID[id]
	return m, ok
}

func (ix *index) put(m Movie) {
	if _, ok := ix.byID[m.ID]; !ok {
		i, _ := slices.BinarySearch(ix.ids, m.ID)
		ix.ids = slices.Insert(ix.ids, i, m.ID)
	}
	ix.byID[m.ID] = clone(m)
}

func (ix *index) remove(id string) {
	if _, ok := ix.byID[id]; !ok {
		return
	}
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
