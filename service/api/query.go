package api

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/service/store"
)

const (
	defaultLimit = 20
	maxLimit     = 100
)

// parseListQuery reads the list parameters. Unknown or repeated parameters,
// and values out of range, are errors, each naming its parameter.
func parseListQuery(v url.Values, now time.Time) (store.Query, []fieldError) {
	q := store.Query{Limit: defaultLimit}
	var errs []fieldError
	add := func(field, msg string) { errs = append(errs, fieldError{Field: field, Message: msg}) }
	for name, vals := range v {
		if len(vals) != 1 {
			add(name, "must appear at most once")
			continue
		}
		val := vals[0]
		switch name {
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > maxLimit {
				add(name, "must be an integer from 1 to 100")
			}
			q.Limit = n
		case "cursor":
			id, ok := decodeCursor(val)
			if !ok {
				add(name, "is not a cursor this service issued")
			}
			q.After = id
		case "title":
			if !printable(val, 1, maxTitle) {
				add(name, "must be 1 to 200 printable characters")
			}
			q.Title = val
		case "year":
			n, err := strconv.Atoi(val)
			if err != nil || n < firstYear || n > min(now.Year()+5, maxYear) {
				add(name, "must be a year from 1888 to five years from now")
			}
			q.Year = n
		case "genre":
			if !printable(val, 1, maxGenre) {
				add(name, "must be 1 to 32 printable characters")
			}
			q.Genre = val
		default:
			add(truncate(name, 64), "is not a known parameter")
		}
	}
	slices.SortFunc(errs, func(a, b fieldError) int { return strings.Compare(a.Field, b.Field) })
	return q, errs
}

func encodeCursor(id string) string {
	if id == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

func decodeCursor(s string) (string, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || !validID(string(b)) {
		return "", false
	}
	return string(b), true
}
