package store

import (
	"reflect"
	"testing"
	"time"
)

// TestDiskFormatIsNotTheWireType: the journal stores a record of its own, so
// the bytes of a put are fixed here whatever happens to Movie's JSON tags.
func TestDiskFormatIsNotTheWireType(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := Movie{ID: "0123456789abcdef0123456789abcdef", Title: "Metropolis", Year: 1927, Genres: []string{"Sci-Fi"},
		Director: "Fritz Lang", CreatedBy: "editor", CreatedAt: at, UpdatedAt: at, Version: 3}
	enc, err := encodeOp("", &m)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"op":"put","version":3,"movie":{"id":"0123456789abcdef0123456789abcdef","title":"Metropolis","year":1927,` +
		`"genres":["Sci-Fi"],"director":"Fritz Lang","created_by":"editor","created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}}`
	if string(enc) != want {
		t.Fatalf("a put is stored as\n%s\nwant\n%s", enc, want)
	}
	if f, ok := reflect.TypeFor[wireOp]().FieldByName("Movie"); !ok || f.Type.Elem() == reflect.TypeFor[Movie]() {
		t.Fatal("the journal's operation stores the API's Movie type")
	}
	back, err := asStored(Movie{Title: "\xff", Version: 3}, mustEncode(t, Movie{Title: "\xff", Version: 3}))
	if err != nil || back.Title != "\ufffd" || back.Version != 3 {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

func mustEncode(tb testing.TB, m Movie) []byte {
	tb.Helper()
	enc, err := encodeOp("", &m)
	if err != nil {
		tb.Fatal(err)
	}
	return enc
}
