package authz

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeCompile answers POST /v1/compile with what answer returns, recording
// the last request body.
func fakeCompile(t *testing.T, answer func() (int, string)) (*httptest.Server, *atomic.Int64, *atomic.Value) {
	t.Helper()
	var calls atomic.Int64
	var last atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != compilePath || r.Method != http.MethodPost {
			http.Error(w, "wrong endpoint", http.StatusNotFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		last.Store(string(b))
		status, body := answer()
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls, &last
}

func mustTestdata(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile("residual/testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestCompileAsksOnceAndApplies(t *testing.T) {
	answer := mustTestdata(t, "editor_put.json") // revision r1, owner must be "editor"
	srv, calls, last := fakeCompile(t, func() (int, string) { return 200, answer })
	c := mustClient(t, Config{URL: srv.URL, CacheTTL: time.Second})
	comp, err := c.Compile(context.Background(), editorPut)
	if err != nil || comp.Cached || comp.Revision != "r1" || comp.ID == "" {
		t.Fatalf("first compile: %+v, %v", comp, err)
	}
	var req struct {
		Query    string
		Unknowns []string
		Input    map[string]any
	}
	if err := json.Unmarshal([]byte(last.Load().(string)), &req); err != nil {
		t.Fatal(err)
	}
	subject, _ := req.Input["subject"].(map[string]any)
	if req.Query != compileQuery || strings.Join(req.Unknowns, ",") != "input.resource,input.path,input.subject.sub" ||
		req.Input["resource"] != nil || req.Input["path"] != nil || req.Input["route"] != "/v1/movies/{id}" ||
		len(subject) != 1 || subject["roles"] == nil {
		t.Fatalf("compile request (the subject must carry its roles only): %+v", req)
	}
	others := editorPut
	others.Resource = &Resource{Type: "movie", ID: "m1", Owner: "editor2"}
	if !comp.Apply(editorPut) || comp.Apply(others) {
		t.Fatal("C-AUTHZ-OWNER the residual does not decide on the owner")
	}
	// Another editor shares the compile and is decided as itself.
	editor2 := others
	editor2.Subject = &Subject{Sub: "editor2", Roles: []string{"editor"}}
	again, err := c.Compile(context.Background(), editor2)
	if err != nil || !again.Cached || again.ID != comp.ID || calls.Load() != 1 {
		t.Fatalf("second compile for the same roles, method and route: %+v, %v, %d calls", again, err, calls.Load())
	}
	notOwner := editorPut
	notOwner.Subject = editor2.Subject
	if !again.Apply(editor2) || again.Apply(notOwner) {
		t.Fatal("C-AUTHZ-OWNER the shared residual does not decide on the request's own subject")
	}
	admin := editorPut
	admin.Subject = &Subject{Sub: "editor", Roles: []string{"editor", "admin"}}
	if _, err := c.Compile(context.Background(), admin); err != nil || calls.Load() != 2 {
		t.Fatalf("other roles shared the key: %v, %d calls", err, calls.Load())
	}
}

func TestCompileRevisionChangeInvalidates(t *testing.T) {
	answer := mustTestdata(t, "editor_put.json")
	srv, calls, _ := fakeCompile(t, func() (int, string) { return 200, answer })
	c := mustClient(t, Config{URL: srv.URL, CacheTTL: 10 * time.Second})
	c.Compile(context.Background(), editorPut)
	viewer := editorPut
	viewer.Subject = &Subject{Sub: "viewer", Roles: []string{"viewer"}}
	answer = strings.ReplaceAll(answer, `"r1"`, `"r2"`) // the policy changed
	if comp, _ := c.Compile(context.Background(), viewer); comp.Revision != "r2" {
		t.Fatalf("revision %q", comp.Revision)
	}
	if comp, _ := c.Compile(context.Background(), editorPut); comp.Cached || calls.Load() != 3 {
		t.Fatalf("a residual of revision r1 was used after OPA compiled r2: %+v", comp)
	}
}

func TestCompileFallsBack(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"C-AUTHZ-FAILCLOSED support modules", 200, mustTestdata(t, "collection_support.json"), ErrNotCompiled},
		{"C-AUTHZ-FAILCLOSED no result", 200, `{}`, ErrNotCompiled},
		{"C-AUTHZ-FAILCLOSED malformed", 200, `{"result":{"queries":[[{`, ErrNotCompiled},
		{"C-AUTHZ-FAILCLOSED refused", 401, `{}`, ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _, _ := fakeCompile(t, func() (int, string) { return tc.status, tc.body })
			c := mustClient(t, Config{URL: srv.URL, CacheTTL: time.Second})
			if _, err := c.Compile(context.Background(), editorPut); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if _, err := c.Compile(context.Background(), editorPut); !errors.Is(err, tc.want) {
				t.Fatalf("second time: err %v, want %v (a failure was cached)", err, tc.want)
			}
		})
	}
	c := mustClient(t, Config{URL: "http://127.0.0.1:1"})
	if _, err := c.Compile(context.Background(), editorPut); !errors.Is(err, ErrNotCompiled) {
		t.Fatalf("without a cache: %v", err)
	}
}

// TestCompileCoalesces: requests needing the same residual at once share one compile.
func TestCompileCoalesces(t *testing.T) {
	answer := mustTestdata(t, "editor_put.json")
	release := make(chan struct{})
	srv, calls, _ := fakeCompile(t, func() (int, string) { <-release; return 200, answer })
	c := mustClient(t, Config{URL: srv.URL, CacheTTL: time.Second, Timeout: 10 * time.Second})
	const n = 8
	results := make(chan Compiled, n)
	for range n {
		go func() {
			comp, err := c.Compile(context.Background(), editorPut)
			if err != nil {
				t.Error(err)
			}
			results <- comp
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others join the compile in flight
	close(release)
	fresh := 0
	for range n {
		if comp := <-results; !comp.Cached {
			fresh++
		}
	}
	if calls.Load() != 1 || fresh != 1 {
		t.Fatalf("%d compiles asked of OPA, %d answers not marked cached; want 1 and 1", calls.Load(), fresh)
	}
}

// TestCompileKeysDistinguishRoleLists: no two role lists share a compile
// (nil, sent as null, is not the empty list; order and duplicates count).
func TestCompileKeysDistinguishRoleLists(t *testing.T) {
	lists := [][]string{nil, {}, {""}, {"", ""}, {"a"}, {"a", "b"}, {"b", "a"}, {"a", "a"}, {"ab"},
		{"a", "b", "c", "d"}, {"a", "b", "c", "d", "e"}, {"a", "b", "c", "d", "e", ""}, {"1:a1:b1:c1:d1:e"}}
	seen := map[compileKey]int{}
	for i, roles := range lists {
		k := newCompileKey(Input{Method: "GET", Route: "/v1/movies/{id}", Subject: &Subject{Sub: "s", Roles: roles}})
		if j, ok := seen[k]; ok {
			t.Errorf("%q and %q share a compile key", lists[j], roles)
		}
		seen[k] = i
	}
}
