package upstream

import (
	"testing"
	"unicode/utf8"

	"github.com/secure-movie-service/sms/service/upstream/upstreamtest"
)

// FuzzRecord: the mapping from a catalogue's JSON to a Record never panics, and what
// it returns is bounded: valid UTF-8, a title, a year in 1..9999, at most ten genres,
// and only item ids (never arbitrary text) on their way to the next request.
func FuzzRecord(f *testing.F) {
	f.Add(upstreamtest.EntityJSON(metropolis), []byte(`{"entities":{"Q1":{"labels":{"en":{"value":"drama"}}}}}`),
		[]byte(`{"Title":"Metropolis","Year":"1927","Genre":"Drama, Sci-Fi","Director":"Fritz Lang","imdbID":"tt0017136","Response":"True"}`))
	f.Add(entity(good), []byte(`{}`), []byte(`{"Response":"False","Error":"Movie not found!"}`))
	f.Add([]byte(`{"entities":{"Q1":{"type":"item","id":"Q1","labels":{"en":{"value":"\u0007"}}}}}`), []byte(`{"entities":{"Q1":{"LABELS":{}}}}`),
		[]byte(`{"Title":"N/A","Year":"2005–2013","imdbID":"tt0017136","Response":"True","response":"x"}`))
	f.Add([]byte(`{"entities":{"Q1":{"pageid":1e400}}}`), []byte(`{"entities":{"a":{"labels":{"en":{"value":1}}}}}`), []byte(`{"Year":"+199"}`))
	f.Fuzz(func(t *testing.T, entityDoc, labelsDoc, omdbDoc []byte) {
		check := func(r Record) {
			if r.Title == "" || r.Year < 1 || r.Year > 9999 || len(r.Genres) > maxGenreIDs {
				t.Fatalf("unbounded record %+v", r)
			}
			for _, s := range append([]string{r.Title, r.Director}, r.Genres...) {
				if !utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 in %+v", r)
				}
			}
		}
		if it, err := parseWikidataItem(entityDoc); err == nil {
			for _, id := range append(append([]string{}, it.genres...), it.directors...) {
				if !wikidataID.MatchString(id) {
					t.Fatalf("id %q would go into a URL", id)
				}
			}
			if len(it.directors) > maxDirectorIDs {
				t.Fatalf("%d directors", len(it.directors))
			}
			labels, _ := parseWikidataLabels(labelsDoc)
			check(it.record(labels))
		}
		if r, err := parseOMDb(omdbDoc, "tt0017136"); err == nil {
			check(r)
		}
	})
}
