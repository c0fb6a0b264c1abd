package upstream

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/secure-movie-service/sms/service/internal/strictjson"
)

// Bounds on what is taken from one Wikidata record.
const (
	maxGenreIDs    = 10 // the movie schema's genre count
	maxDirectorIDs = 3
)

// wikidataID is an item id: Q and a positive number.
var wikidataID = regexp.MustCompile(`^Q[1-9][0-9]{0,11}$`)

// Wikidata reads items from Wikidata's entity data
// ({base}/wiki/Special:EntityData/{id}.json) and the English labels of the
// genre (P136) and director (P57) items it names ({base}/w/api.php,
// wbgetentities): title from the English label, year the earliest
// publication date (P577).
type Wikidata struct {
	Base string // e.g. https://www.wikidata.org (checked by BaseURL)
}

// Name is "wikidata".
func (Wikidata) Name() string { return "wikidata" }

// ValidID reports whether id is an item id such as Q151599.
func (Wikidata) ValidID(id string) bool { return wikidataID.MatchString(id) }

// Fetch reads item id and the labels of the items it refers to.
func (w Wikidata) Fetch(ctx context.Context, f Fetcher, id string) (Record, error) {
	body, err := f.Get(ctx, w.Base+"/wiki/Special:EntityData/"+id+".json")
	if err != nil {
		return Record{}, err
	}
	item, err := parseWikidataItem(body)
	if err != nil {
		return Record{}, err
	}
	ids := append(append([]string{}, item.genres...), item.directors...)
	if len(ids) == 0 {
		return item.record(nil), nil
	}
	q := url.Values{"action": {"wbgetentities"}, "ids": {strings.Join(ids, "|")}, "props": {"labels"},
		"languages": {"en|mul"}, "format": {"json"}}
	body, err = f.Get(ctx, w.Base+"/w/api.php?"+q.Encode())
	if err != nil {
		return Record{}, err
	}
	labels, err := parseWikidataLabels(body)
	if err != nil {
		return Record{}, err
	}
	return item.record(labels), nil
}

// wdDoc is what is read of an entity-data or wbgetentities document.
type wdDoc struct {
	Entities map[string]wdEntity `json:"entities"`
}

type wdEntity struct {
	ID     string            `json:"id"`
	Type   string            `json:"type"`
	Labels map[string]wdText `json:"labels"`
	Claims struct {
		Genre     []wdClaim `json:"P136"`
		Director  []wdClaim `json:"P57"`
		Published []wdClaim `json:"P577"`
	} `json:"claims"`
}

type wdText struct {
	Value string `json:"value"`
}

type wdClaim struct {
	Rank     string `json:"rank"`
	Mainsnak struct {
		Datavalue struct {
			Value wdValue `json:"value"`
		} `json:"datavalue"`
	} `json:"mainsnak"`
}

// wdValue holds the members of the two value kinds read: an item
// reference (id) and a point in time (time, precision).
type wdValue struct {
	ID        string `json:"id"`
	Time      string `json:"time"`
	Precision int    `json:"precision"`
}

// wdItem is a parsed item: its title and year, and the item ids of its
// genres and directors (checked against the id pattern, bounded).
type wdItem struct {
	title     string
	year      int
	genres    []string
	directors []string
}

func label(labels map[string]wdText) string {
	if l, ok := labels["en"]; ok {
		return l.Value
	}
	return labels["mul"].Value
}

// parseWikidataItem reads an entity-data document: exactly one item.
func parseWikidataItem(body []byte) (wdItem, error) {
	var doc wdDoc
	if err := strictjson.Pick(body, &doc); err != nil {
		return wdItem{}, fmt.Errorf("%w: entity data: %v", ErrBadGateway, err)
	}
	if len(doc.Entities) != 1 {
		return wdItem{}, fmt.Errorf("%w: entity data holds %d entities, want 1", ErrBadGateway, len(doc.Entities))
	}
	var e wdEntity
	for _, only := range doc.Entities {
		e = only
	}
	if e.Type != "item" || !wikidataID.MatchString(e.ID) {
		return wdItem{}, fmt.Errorf("%w: the entity is not an item", ErrNotAMovie)
	}
	it := wdItem{title: label(e.Labels)}
	year := 0
	for _, c := range e.Claims.Published {
		if y, ok := claimYear(c); ok && (year == 0 || y < year) {
			year = y
		}
	}
	if it.title == "" || year == 0 {
		return wdItem{}, fmt.Errorf("%w: the item has no English label or no publication year", ErrNotAMovie)
	}
	it.year = year
	it.genres = itemIDs(e.Claims.Genre, maxGenreIDs)
	it.directors = itemIDs(e.Claims.Director, maxDirectorIDs)
	return it, nil
}

// claimYear reads the year of a publication date with at least year
// precision ("+1927-01-10T00:00:00Z", precision ≥ 9) that is not deprecated.
func claimYear(c wdClaim) (int, bool) {
	v := c.Mainsnak.Datavalue.Value
	if c.Rank == "deprecated" || v.Precision < 9 || len(v.Time) < 6 || v.Time[0] != '+' {
		return 0, false
	}
	digits, _, ok := strings.Cut(v.Time[1:], "-")
	if !ok || len(digits) < 4 || len(digits) > 11 {
		return 0, false
	}
	y, err := strconv.Atoi(digits)
	if err != nil || y <= 0 || y > 9999 {
		return 0, false
	}
	return y, true
}

// itemIDs returns the distinct, well-formed item ids of claims that are not
// deprecated, at most max of them: they go into the next request's URL.
func itemIDs(claims []wdClaim, max int) []string {
	var ids []string
	for _, c := range claims {
		id := c.Mainsnak.Datavalue.Value.ID
		if c.Rank == "deprecated" || !wikidataID.MatchString(id) || slices.Contains(ids, id) {
			continue
		}
		if ids = append(ids, id); len(ids) == max {
			break
		}
	}
	return ids
}

// parseWikidataLabels reads a wbgetentities document into id → label.
func parseWikidataLabels(body []byte) (map[string]string, error) {
	var doc wdDoc
	if err := strictjson.Pick(body, &doc); err != nil {
		return nil, fmt.Errorf("%w: labels: %v", ErrBadGateway, err)
	}
	out := make(map[string]string, len(doc.Entities))
	for id, e := range doc.Entities {
		if l := label(e.Labels); l != "" && wikidataID.MatchString(id) {
			out[id] = l
		}
	}
	return out, nil
}

// record joins the item with the labels of its genres and directors; ids
// without a label are left out.
func (it wdItem) record(labels map[string]string) Record {
	r := Record{Title: it.title, Year: it.year, Genres: []string{}}
	for _, id := range it.genres {
		if l, ok := labels[id]; ok {
			r.Genres = append(r.Genres, l)
		}
	}
	var directors []string
	for _, id := range it.directors {
		if l, ok := labels[id]; ok {
			directors = append(directors, l)
		}
	}
	r.Director = strings.Join(directors, ", ")
	return r
}
