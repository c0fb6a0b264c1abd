package strictjson

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type movie struct {
	Title  *string  `json:"title"`
	Year   *int     `json:"year"`
	Genres []string `json:"genres"`
	Cast   []struct {
		Name string `json:"name"`
	} `json:"cast"`
}

func TestDecodeAcceptsOnlyExactNames(t *testing.T) {
	for _, tc := range []struct {
		name, body, unknown string
		ok                  bool
	}{
		{"exact names", `{"title":"Benign","year":1927,"genres":["x"],"cast":[{"name":"a"}]}`, "", true},
		{"C-INPUT a name in another case is unknown", `{"TITLE":"Shadow","year":2001}`, "TITLE", false},
		{"C-INPUT a Unicode-folded name is unknown", `{"title":"x","year":1,"genreſ":["a"]}`, "genreſ", false},
		{"C-INPUT nested names are exact too", `{"title":"x","cast":[{"NAME":"a"}]}`, "NAME", false},
		{"C-INPUT unknown field", `{"title":"x","owner":"admin"}`, "owner", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m movie
			err := Decode([]byte(tc.body), &m)
			if tc.ok != (err == nil) {
				t.Fatalf("Decode(%s) = %v", tc.body, err)
			}
			if tc.unknown != "" {
				var ue *UnknownFieldError
				if !errors.As(err, &ue) || ue.Name != tc.unknown {
					t.Fatalf("error %v, want unknown field %q", err, tc.unknown)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"C-INPUT keys that differ only in case", `{"title":"Benign","TITLE":"Shadow","year":1927,"Year":2001}`, "differs only in case"},
		{"C-INPUT Unicode-folded duplicate", `{"genres":[],"genreſ":[]}`, "differs only in case"},
		{"C-INPUT duplicate in a nested object", `{"a":[{"b":1,"b":2}]}`, "duplicate member"},
		{"C-INPUT trailing data", `{} {}`, "after"},
		{"C-INPUT not an object", `[1]`, "not a JSON object"},
		{"C-INPUT invalid UTF-8", "{\"a\":\"\xff\"}", "UTF-8"},
		{"C-INPUT too deep", `{"a":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`, "nested too deeply"},
		{"C-INPUT truncated", `{"a":1`, "not a JSON object"},
		{"C-INPUT number beyond float64", `{"a":[1,{"b":1e400}]}`, "out of range"},
		{"C-INPUT negative number beyond float64", `{"a":-1E+400}`, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Check([]byte(tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check(%q) = %v, want an error with %q", tc.body, err, tc.want)
			}
		})
	}
	if err := Check([]byte(`{"a":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`)); err != nil {
		t.Fatalf("nesting at the limit refused: %v", err)
	}
}

func TestPick(t *testing.T) {
	type entity struct {
		Labels map[string]struct {
			Value string `json:"value"`
		} `json:"labels"`
		Year int `json:"year"`
	}
	for _, tc := range []struct {
		name, body, unknown string
		ok                  bool
	}{
		{"members it does not name are skipped", `{"labels":{"en":{"value":"x","language":"en"}},"sitelinks":{"a":1},"year":1927}`, "", true},
		{"C-UPSTREAM-UNTRUSTED a field name in another case is refused", `{"YEAR":1927}`, "YEAR", false},
		{"C-UPSTREAM-UNTRUSTED names inside map values are exact", `{"labels":{"en":{"VALUE":"x"}}}`, "VALUE", false},
		{"C-UPSTREAM-UNTRUSTED the document is checked first", `{"year":1,"year":2}`, "", false},
		{"C-UPSTREAM-UNTRUSTED a skipped member is checked too", `{"year":1,"other":{"n":1e400}}`, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e entity
			err := Pick([]byte(tc.body), &e)
			if tc.ok != (err == nil) {
				t.Fatalf("Pick(%s) = %v", tc.body, err)
			}
			if tc.unknown != "" {
				if ue, ok := errors.AsType[*UnknownFieldError](err); !ok || ue.Name != tc.unknown {
					t.Fatalf("error %v, want unknown field %q", err, tc.unknown)
				}
			}
			if tc.ok && (e.Year != 1927 || e.Labels["en"].Value != "x") {
				t.Fatalf("decoded %+v", e)
			}
		})
	}
}

// FuzzCheck: what Check accepts is one valid JSON object that encoding/json
// reads with every member, and Decode never panics.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{}`, `{"title":"x","year":2000}`, `{"a":{"A":1}}`, `{"ſ":1,"s":2}`, `{"a":[{"b":1,"b":2}]}`, `{} x`, "{\"\xff\":1}", `{"a":1e999}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m movie
		_ = Decode(data, &m)
		if Check(data) != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		obj, err := Object(data)
		if err != nil {
			t.Fatalf("accepted %q but cannot read its members: %v", data, err)
		}
		folded := map[string]bool{}
		for k := range obj {
			if folded[fold(k)] {
				t.Fatalf("accepted %q with members that fold together", data)
			}
			folded[fold(k)] = true
		}
	})
}
