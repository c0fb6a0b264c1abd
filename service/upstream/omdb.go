package upstream

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/secure-movie-service/sms/service/internal/strictjson"
)

// imdbID is an IMDb title id, the ids an OMDb-compatible API takes.
var imdbID = regexp.MustCompile(`^tt[0-9]{7,10}$`)

// OMDb reads titles from an OMDb-compatible API: {base}/?i={id}&apikey={key}.
// The key goes only into that URL; egress errors never carry the URL.
type OMDb struct {
	Base string // e.g. https://www.omdbapi.com (checked by BaseURL)
	Key  Key
}

// Name is "omdb".
func (OMDb) Name() string { return "omdb" }

// ValidID reports whether id is an IMDb title id such as tt0017136.
func (OMDb) ValidID(id string) bool { return imdbID.MatchString(id) }

// Fetch reads title id.
func (o OMDb) Fetch(ctx context.Context, f Fetcher, id string) (Record, error) {
	q := url.Values{"i": {id}, "apikey": {string(o.Key)}, "r": {"json"}}
	body, err := f.Get(ctx, o.Base+"/?"+q.Encode())
	if err != nil {
		return Record{}, err
	}
	return parseOMDb(body, id)
}

// omdbDoc is what is read of an OMDb answer.
type omdbDoc struct {
	Response string `json:"Response"`
	Title    string `json:"Title"`
	Year     string `json:"Year"`
	Genre    string `json:"Genre"`
	Director string `json:"Director"`
	IMDbID   string `json:"imdbID"`
}

// parseOMDb maps an OMDb answer for id to a Record. "N/A" means absent; the
// year is the first of a range ("2005–2013"); the answer must be about id.
func parseOMDb(body []byte, id string) (Record, error) {
	var doc omdbDoc
	if err := strictjson.Pick(body, &doc); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrBadGateway, err)
	}
	switch {
	case doc.Response == "False":
		return Record{}, ErrNotFound // OMDb answers 200 with its error text, which is not read
	case doc.Response != "True":
		return Record{}, fmt.Errorf("%w: Response is neither True nor False", ErrBadGateway)
	case doc.IMDbID != id:
		return Record{}, fmt.Errorf("%w: the answer is about another title", ErrBadGateway)
	}
	title := na(doc.Title)
	year, ok := leadingYear(doc.Year)
	if title == "" || !ok {
		return Record{}, fmt.Errorf("%w: no title or no year", ErrNotAMovie)
	}
	r := Record{Title: title, Year: year, Genres: []string{}, Director: na(doc.Director)}
	for g := range strings.SplitSeq(na(doc.Genre), ",") {
		if g = strings.TrimSpace(g); g != "" && len(r.Genres) < maxGenreIDs {
			r.Genres = append(r.Genres, g)
		}
	}
	return r, nil
}

// leadingYear reads the four digits a year string starts with.
func leadingYear(s string) (int, bool) {
	if len(s) < 4 {
		return 0, false
	}
	y := 0
	for _, c := range []byte(s[:4]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		y = y*10 + int(c-'0')
	}
	return y, y > 0
}

func na(s string) string {
	if s == "N/A" {
		return ""
	}
	return s
}
