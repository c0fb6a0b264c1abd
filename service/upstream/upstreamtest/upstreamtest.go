// Package upstreamtest serves fake catalogues for tests: a Wikidata that
// answers entity data and wbgetentities from a table of films in Wikidata's
// document shapes, and an OMDb-compatible API that checks its key. Tests
// start them with httptest on loopback. It imports only the standard library.
package upstreamtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Film is one record of a fake catalogue. ID is a Wikidata item id for
// Wikidata and an IMDb id for OMDb.
type Film struct {
	ID        string
	Title     string
	Year      int
	Genres    []string
	Directors []string
}

// labelID is the item id the fake Wikidata gives a genre or director label.
func labelID(label string) string {
	h := uint32(2166136261)
	for _, c := range []byte(label) {
		h = (h ^ uint32(c)) * 16777619
	}
	return fmt.Sprintf("Q%d", 1_000_000+h%8_000_000)
}

func claim(value map[string]any, typ string) map[string]any {
	return map[string]any{
		"mainsnak": map[string]any{"snaktype": "value", "property": "P0", "datavalue": map[string]any{"value": value, "type": typ}},
		"type":     "statement", "rank": "normal", "references": []any{},
	}
}

func itemClaims(labels []string) []any {
	out := []any{}
	for _, l := range labels {
		id := labelID(l)
		out = append(out, claim(map[string]any{"entity-type": "item", "numeric-id": 1, "id": id}, "wikibase-entityid"))
	}
	return out
}

// EntityJSON is f's Special:EntityData document, shaped like Wikidata's
// (with members the service does not read).
func EntityJSON(f Film) []byte {
	date := claim(map[string]any{"time": fmt.Sprintf("+%04d-03-06T00:00:00Z", f.Year), "timezone": 0, "before": 0, "after": 0,
		"precision": 11, "calendarmodel": "http://www.wikidata.org/entity/Q1985727"}, "time")
	later := claim(map[string]any{"time": fmt.Sprintf("+%04d-01-01T00:00:00Z", f.Year+1), "precision": 9}, "time")
	b, _ := json.Marshal(map[string]any{"entities": map[string]any{f.ID: map[string]any{
		"pageid": 1, "ns": 0, "title": f.ID, "lastrevid": 1, "modified": "2026-01-01T00:00:00Z", "type": "item", "id": f.ID,
		"labels":       map[string]any{"en": map[string]any{"language": "en", "value": f.Title}, "de": map[string]any{"language": "de", "value": f.Title + " (de)"}},
		"descriptions": map[string]any{"en": map[string]any{"language": "en", "value": "film"}},
		"aliases":      map[string]any{},
		"claims": map[string]any{
			"P31":  itemClaims([]string{"film"}),
			"P577": []any{later, date},
			"P136": itemClaims(f.Genres),
			"P57":  itemClaims(f.Directors),
		},
		"sitelinks": map[string]any{"enwiki": map[string]any{"site": "enwiki", "title": f.Title, "badges": []any{}}},
	}}})
	return b
}

// Wikidata serves films at /wiki/Special:EntityData/{id}.json and their
// labels at /w/api.php?action=wbgetentities.
func Wikidata(films ...Film) http.Handler {
	byID := map[string]Film{}
	labels := map[string]string{}
	for _, f := range films {
		byID[f.ID] = f
		for _, l := range append(append([]string{}, f.Genres...), f.Directors...) {
			labels[labelID(l)] = l
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /wiki/Special:EntityData/{file}", func(w http.ResponseWriter, r *http.Request) {
		f, ok := byID[strings.TrimSuffix(r.PathValue("file"), ".json")]
		if !ok {
			http.Error(w, "Not Found: no such entity", http.StatusNotFound)
			return
		}
		writeJSON(w, EntityJSON(f))
	})
	mux.HandleFunc("GET /w/api.php", func(w http.ResponseWriter, r *http.Request) {
		ents := map[string]any{}
		for _, id := range strings.Split(r.URL.Query().Get("ids"), "|") {
			if l, ok := labels[id]; ok {
				ents[id] = map[string]any{"type": "item", "id": id, "labels": map[string]any{"en": map[string]any{"language": "en", "value": l}}}
			} else {
				ents[id] = map[string]any{"id": id, "missing": ""}
			}
		}
		b, _ := json.Marshal(map[string]any{"entities": ents, "success": 1})
		writeJSON(w, b)
	})
	return mux
}

// OMDb serves films at /?i={id}&apikey={key}; a wrong key gets 401.
func OMDb(key string, films ...Film) http.Handler {
	byID := map[string]Film{}
	for _, f := range films {
		byID[f.ID] = f
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("apikey") != key {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"Response":"False","Error":"Invalid API key!"}`))
			return
		}
		f, ok := byID[q.Get("i")]
		if !ok {
			writeJSON(w, []byte(`{"Response":"False","Error":"Incorrect IMDb ID."}`))
			return
		}
		b, _ := json.Marshal(map[string]any{"Title": f.Title, "Year": fmt.Sprint(f.Year), "Rated": "N/A", "Genre": strings.Join(f.Genres, ", "),
			"Director": strings.Join(f.Directors, ", "), "Ratings": []any{map[string]any{"Source": "x", "Value": "8/10"}},
			"imdbID": f.ID, "Type": "movie", "Response": "True"})
		writeJSON(w, b)
	})
}

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(b)
}
