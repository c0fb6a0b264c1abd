package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestReadAfterWriteServesTheNewBody: a movie's JSON is reused only for the
// same version; after an update or a delete and re-create the read is fresh.
func TestReadAfterWriteServesTheNewBody(t *testing.T) {
	hs := newHarness(t)
	m, tag := hs.mustCreate(t, "tok-editor", goodMovie)
	get := func() string {
		w := hs.do(t, req{method: "GET", path: "/v1/movies/" + m.ID, token: "tok-viewer"})
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("GET: %d %v", w.Code, w.Header())
		}
		return w.Body.String()
	}
	first := get()
	if get() != first {
		t.Fatal("two reads of one version differ")
	}
	w := hs.do(t, req{method: "PUT", path: "/v1/movies/" + m.ID, token: "tok-editor",
		body: `{"title":"Changed","year":1927}`, header: map[string]string{"If-Match": tag}})
	if w.Code != http.StatusOK {
		t.Fatalf("PUT: %d %s", w.Code, w.Body)
	}
	if after := get(); !strings.Contains(after, `"title":"Changed"`) {
		t.Fatalf("the read after the update served %s", after)
	}
}
