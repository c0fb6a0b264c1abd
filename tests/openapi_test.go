package tests

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// loadOpenAPI reads service/openapi.yaml as JSON, using the pinned OPA
// binary's YAML reader so the toolkit needs no YAML library of its own.
func loadOpenAPI(tb testing.TB) map[string]any {
	tb.Helper()
	cmd := exec.Command(toolBinary(tb, "opa"), "eval", "--format", "raw", "-i", filepath.Join(repoRoot(tb), "service/openapi.yaml"), "json.marshal(input)")
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("read openapi.yaml: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		tb.Fatalf("openapi.yaml: %v", err)
	}
	return doc
}

// openapiDoc answers questions about the document.
type openapiDoc struct{ m map[string]any }

func (d openapiDoc) get(path ...string) any {
	var cur any = d.m
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[p]
	}
	return d.deref(cur)
}

func (d openapiDoc) deref(v any) any {
	for i := 0; i < 8; i++ {
		obj, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := obj["$ref"].(string)
		if !ok {
			return v
		}
		v = d.get(strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
	}
	return v
}

// operations lists "METHOD /path" for every operation in the document.
func (d openapiDoc) operations() []string {
	var ops []string
	for path, item := range d.m["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			if method != "parameters" {
				ops = append(ops, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(ops)
	return ops
}

// checkResponse fails unless the document declares status for the
// operation, with the response's content type and required fields.
func (d openapiDoc) checkResponse(tb testing.TB, method, path string, r response) {
	tb.Helper()
	resp, ok := d.get("paths", path, strings.ToLower(method), "responses", strconv.Itoa(r.status)).(map[string]any)
	if !ok {
		tb.Errorf("openapi.yaml does not declare %d for %s %s (body %s)", r.status, method, path, r.body)
		return
	}
	content, _ := d.deref(resp["content"]).(map[string]any)
	ct, _, _ := strings.Cut(r.header.Get("Content-Type"), ";")
	if len(content) == 0 {
		if len(r.body) != 0 && method != "HEAD" {
			tb.Errorf("%s %s %d: body sent but none declared", method, path, r.status)
		}
		return
	}
	media, ok := content[ct].(map[string]any)
	if !ok {
		tb.Errorf("%s %s %d: content type %q not declared", method, path, r.status, ct)
		return
	}
	schema, _ := d.deref(media["schema"]).(map[string]any)
	if req, ok := schema["required"].([]any); ok && ct != "application/yaml" {
		var body map[string]any
		if err := json.Unmarshal(r.body, &body); err != nil {
			tb.Errorf("%s %s %d: body is not an object: %s", method, path, r.status, r.body)
			return
		}
		for _, f := range req {
			if _, ok := body[f.(string)]; !ok {
				tb.Errorf("%s %s %d: required field %q missing from %s", method, path, r.status, f, r.body)
			}
		}
	}
}

// TestOpenAPIMatchesServer checks service/openapi.yaml against the real
// server: every documented operation exists, every other method on a
// documented path is 405, and every status the server gave in a run
// through all operations and their error paths is documented with its body.
func TestOpenAPIMatchesServer(t *testing.T) {
	d := openapiDoc{loadOpenAPI(t)}
	if d.m["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v, want 3.1.0", d.m["openapi"])
	}
	want := []string{"DELETE /v1/movies/{id}", "GET /healthz", "GET /openapi.yaml", "GET /readyz", "GET /v1/movies", "GET /v1/movies/{id}", "POST /v1/movies", "POST /v1/movies/import", "PUT /v1/movies/{id}"}
	if got := d.operations(); !slices.Equal(got, want) {
		t.Fatalf("documented operations %v, want the server's routes %v", got, want)
	}

	internal, _ := countingListener(t)
	cat := httptest.NewServer(hostileCatalogue(internal))
	defer cat.Close()
	id, _, m := startStack(t, append(importFlags(cat.URL), "-rate-subject", "1000", "-burst-subject", "1000", "-rate-ip", "1000", "-burst-ip", "1000")...)
	editor, editor2, viewer := id.token(t, "editor", "editor"), id.token(t, "editor2", "editor"), id.token(t, "viewer", "viewer")
	mv, tag := mustCreateMovie(t, m, editor)
	item := "/v1/movies/" + mv.ID
	const tmpl = "/v1/movies/{id}"
	steps := []struct {
		method, path, doc, token, body string
		header                         []string
	}{
		{"GET", "/healthz", "/healthz", "", "", nil},
		{"GET", "/readyz", "/readyz", "", "", nil},
		{"GET", "/openapi.yaml", "/openapi.yaml", "", "", nil},
		{"GET", "/v1/movies", "/v1/movies", viewer, "", nil},
		{"GET", "/v1/movies?limit=1", "/v1/movies", viewer, "", nil},
		{"GET", "/v1/movies?limit=0", "/v1/movies", viewer, "", nil},
		{"GET", "/v1/movies", "/v1/movies", "", "", nil},
		{"GET", "/v1/movies", "/v1/movies", id.token(t, "nobody"), "", nil},
		{"POST", "/v1/movies", "/v1/movies", editor, movieBody, nil},
		{"POST", "/v1/movies", "/v1/movies", editor, `{"title":""}`, nil},
		{"POST", "/v1/movies", "/v1/movies", viewer, movieBody, nil},
		{"POST", "/v1/movies", "/v1/movies", editor, movieBody, []string{"Content-Type", "text/plain"}},
		{"POST", "/v1/movies", "/v1/movies", editor, `{"title":"` + strings.Repeat("a", 70<<10) + `"}`, nil},
		{"GET", item, tmpl, viewer, "", nil},
		{"GET", "/v1/movies/00000000000000000000000000000000", tmpl, viewer, "", nil},
		{"PUT", item, tmpl, editor, movieBody, nil},
		{"PUT", item, tmpl, editor, movieBody, []string{"If-Match", `"99"`}},
		{"PUT", item, tmpl, editor2, movieBody, []string{"If-Match", tag}},
		{"PUT", item, tmpl, editor, `{"year":1}`, []string{"If-Match", tag}},
		{"PUT", item, tmpl, editor, movieBody, []string{"If-Match", tag}},
		{"DELETE", item, tmpl, editor2, "", nil},
		{"DELETE", item, tmpl, editor, "", []string{"If-Match", tag}},
		{"DELETE", item, tmpl, editor, "", nil},
		{"DELETE", item, tmpl, editor, "", nil},
		{"POST", "/v1/movies/import", "/v1/movies/import", editor, `{"source":"wikidata","id":"Q151599"}`, nil},
		{"POST", "/v1/movies/import", "/v1/movies/import", editor2, `{"source":"wikidata","id":"Q151599"}`, nil},
		{"POST", "/v1/movies/import", "/v1/movies/import", editor, `{"source":"imdb","id":"Q151599"}`, nil},
		{"POST", "/v1/movies/import", "/v1/movies/import", viewer, `{"source":"wikidata","id":"Q151599"}`, nil},
		{"POST", "/v1/movies/import", "/v1/movies/import", editor, `{"source":"wikidata","id":"Q404"}`, nil},
		{"POST", "/v1/movies/import", "/v1/movies/import", editor, `{"source":"wikidata","id":"Q10"}`, nil},
		{"POST", "/v1/movies/import", "/v1/movies/import", editor, `{"source":"wikidata","id":"Q11"}`, nil},
		{"POST", "/v1/movies/import", "/v1/movies/import", editor, `{"source":"wikidata","id":"Q5"}`, nil},
	}
	seen := map[string]bool{}
	for _, s := range steps {
		r := do(t, s.method, m.url+s.path, s.token, s.body, s.header...)
		d.checkResponse(t, s.method, s.doc, r)
		seen[s.method+" "+s.doc+" "+strconv.Itoa(r.status)] = true
	}
	for _, must := range []string{"POST /v1/movies 201", "POST /v1/movies 400", "GET /v1/movies 401", "POST /v1/movies 403", "POST /v1/movies 413", "POST /v1/movies 415",
		"PUT /v1/movies/{id} 428", "PUT /v1/movies/{id} 412", "PUT /v1/movies/{id} 200", "DELETE /v1/movies/{id} 204", "DELETE /v1/movies/{id} 404", "GET /v1/movies/{id} 200",
		"POST /v1/movies/import 201", "POST /v1/movies/import 200", "POST /v1/movies/import 400", "POST /v1/movies/import 403", "POST /v1/movies/import 422",
		"POST /v1/movies/import 502", "POST /v1/movies/import 503", "POST /v1/movies/import 504"} {
		if !seen[must] {
			t.Errorf("the run never produced %s; the steps no longer cover it", must)
		}
	}
	// Methods the document does not list for a path are 405 with Allow.
	for path, item := range d.m["paths"].(map[string]any) {
		url := m.url + strings.Replace(path, "{id}", mv.ID, 1)
		for _, method := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
			if _, ok := item.(map[string]any)[strings.ToLower(method)]; ok {
				continue
			}
			r := do(t, method, url, editor, "")
			if r.status != 405 || r.header.Get("Allow") == "" {
				t.Errorf("%s %s: %s, want 405 with Allow", method, path, r)
			}
		}
	}
	served := do(t, "GET", m.url+"/openapi.yaml", "", "")
	file, _ := os.ReadFile(filepath.Join(repoRoot(t), "service/openapi.yaml"))
	if !bytes.Equal(served.body, file) {
		t.Error("/openapi.yaml does not serve service/openapi.yaml")
	}
}
