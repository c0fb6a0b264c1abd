package api

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Field limits of a movie.
const (
	maxTitle    = 200
	maxDirector = 200
	maxGenres   = 10
	maxGenre    = 32
	firstYear   = 1888 // the oldest surviving film
	maxYear     = 9999 // a bound the OpenAPI document can state; the rule is now+5
)

// movieInput is the body of POST and PUT. Pointers tell a missing field
// from a zero one.
type movieInput struct {
	Title    *string  `json:"title"`
	Year     *int     `json:"year"`
	Genres   []string `json:"genres"`
	Director *string  `json:"director"`
}

// validate checks every field and returns one error per bad field.
func (in *movieInput) validate(now time.Time) []fieldError {
	var errs []fieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, fieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case in.Title == nil:
		add("title", "is required")
	case !printable(*in.Title, 1, maxTitle):
		add("title", "must be 1 to %d printable characters", maxTitle)
	}
	lastYear := min(now.Year()+5, maxYear)
	switch {
	case in.Year == nil:
		add("year", "is required")
	case *in.Year < firstYear || *in.Year > lastYear:
		add("year", "must be between %d and %d", firstYear, lastYear)
	}
	if len(in.Genres) > maxGenres {
		add("genres", "must have at most %d entries", maxGenres)
	}
	seen := map[string]bool{}
	for i, g := range in.Genres {
		field := fmt.Sprintf("genres[%d]", i)
		if !printable(g, 1, maxGenre) {
			add(field, "must be 1 to %d printable characters", maxGenre)
		} else if k := strings.ToLower(g); seen[k] {
			add(field, "repeats an earlier genre")
		} else {
			seen[k] = true
		}
	}
	if in.Director != nil && !printable(*in.Director, 0, maxDirector) {
		add("director", "must be at most %d printable characters", maxDirector)
	}
	return errs
}

// printable reports whether s has between lo and hi characters, all of
// them printable (letters, marks, numbers, punctuation, symbols, space).
func printable(s string, lo, hi int) bool {
	n := utf8.RuneCountInString(s)
	if n < lo || n > hi {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
