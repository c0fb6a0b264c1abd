package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeMovie feeds attacker bytes to the body decoder and validator:
// never a panic, and whatever is accepted is one valid movie.
func FuzzDecodeMovie(f *testing.F) {
	for _, s := range []string{goodMovie, `{}`, `{"title":"x","year":2000}`, `{"title":"x","title":"y"}`, `[1]`, `{"a":{"b":[{"c":1}]}}`,
		`{"title":"x","year":2000}{}`, `{"title":"\u0000","year":1e99}`, `{"genres":[null]}`, "{\"title\":\"\xff\"}", `{"year":-1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in movieInput
		if e := decodeBytes(body, &in); e != nil {
			if e.status != http.StatusBadRequest {
				t.Fatalf("status %d", e.status)
			}
			return
		}
		if errs := in.validate(fixedNow); errs != nil {
			return
		}
		m := in.movie()
		if !utf8.ValidString(m.Title) || m.Title == "" || len(m.Genres) > maxGenres || m.Year < firstYear {
			t.Fatalf("accepted an invalid movie %+v from %q", m, body)
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
	})
}

// FuzzListQuery feeds raw query strings to the list parameter parser.
func FuzzListQuery(f *testing.F) {
	for _, s := range []string{"", "limit=5", "limit=101", "cursor=MDE", "title=a&year=1999&genre=x", "limit=1&limit=2", "%zz", "year=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, errs := parseListQuery(v, fixedNow)
		if errs == nil && (q.Limit < 1 || q.Limit > maxLimit || (q.After != "" && !validID(q.After))) {
			t.Fatalf("accepted %q as %+v", raw, q)
		}
	})
}

// FuzzHandler sends arbitrary methods, paths, headers and bodies through
// the whole handler: no input yields a 500, and every error is a problem.
func FuzzHandler(f *testing.F) {
	f.Add("POST", "/v1/movies", "tok-editor", "application/json", goodMovie)
	f.Add("GET", "/v1/movies?limit=3&title=a", "tok-viewer", "", "")
	f.Add("PUT", "/v1/movies/0123456789abcdef0123456789abcdef", "tok-admin", "application/json", goodMovie)
	f.Add("DELETE", "/v1/movies/x", "nope", "", "")
	f.Add("PATCH", "/healthz", "", "text/plain", "x")
	hs := newHarness(f)
	f.Fuzz(func(t *testing.T, method, path, token, ctype, body string) {
		if !validMethod(method) || !strings.HasPrefix(path, "/") {
			return
		}
		u, err := url.ParseRequestURI(path)
		if err != nil {
			return
		}
		r := httptest.NewRequest("GET", "/", strings.NewReader(body))
		r.Method, r.URL, r.RequestURI = method, u, path
		r.Header.Set("Content-Type", ctype)
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("If-Match", "*")
		w := httptest.NewRecorder()
		hs.h.ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable && w.Code != http.StatusInsufficientStorage {
			t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		if w.Code >= 400 && w.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s %s: %d without a problem body", method, path, w.Code)
		}
	})
}

func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
