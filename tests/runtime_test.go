package tests

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const movieBody = `{"title":"Stalker","year":1979,"genres":["Drama","Sci-Fi"],"director":"Andrei Tarkovsky"}`

type movie struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	CreatedBy string `json:"created_by"`
}

func mustCreateMovie(tb testing.TB, m *moviesServer, token string) (movie, string) {
	tb.Helper()
	r := do(tb, "POST", m.url+"/v1/movies", token, movieBody)
	if r.status != 201 {
		tb.Fatalf("create: %s", r)
	}
	var mv movie
	r.json(tb, &mv)
	return mv, r.header.Get("ETag")
}

func listCount(tb testing.TB, m *moviesServer, token string) int {
	tb.Helper()
	r := do(tb, "GET", m.url+"/v1/movies?limit=100", token, "")
	if r.status != 200 {
		tb.Fatalf("list: %s", r)
	}
	var l struct{ Items []movie }
	r.json(tb, &l)
	return len(l.Items)
}

// TestAccessControl runs BOLA and BFLA attacks against the real server and
// a real OPA loaded with policy/api.
func TestAccessControl(t *testing.T) {
	id, _, m := startStack(t)
	viewer, editor, editor2, admin := id.token(t, "viewer", "viewer"), id.token(t, "editor", "editor"), id.token(t, "editor2", "editor"), id.token(t, "admin", "admin")
	mv, tag := mustCreateMovie(t, m, editor)
	item := m.url + "/v1/movies/" + mv.ID
	upd := `{"title":"Stalker (1979)","year":1979}`
	for _, tc := range []struct {
		name               string
		method, url, token string
		body, ifMatch      string
		want               int
	}{
		{"C-AUTHZ-OWNER BOLA editor2 cannot update editor's movie", "PUT", item, editor2, upd, tag, 403},
		{"C-AUTHZ-OWNER BOLA editor2 cannot delete editor's movie", "DELETE", item, editor2, "", "", 403},
		{"C-AUTHZ-RBAC BFLA viewer cannot create", "POST", m.url + "/v1/movies", viewer, movieBody, "", 403},
		{"C-AUTHZ-RBAC BFLA viewer cannot update", "PUT", item, viewer, upd, tag, 403},
		{"C-AUTHZ-RBAC BFLA viewer cannot delete", "DELETE", item, viewer, "", "", 403},
		{"C-AUTHZ-RBAC token without roles cannot read", "GET", item, id.token(t, "nobody"), "", "", 403},
		{"C-AUTHZ-RBAC role names are exact", "DELETE", item, id.token(t, "x", "Admin"), "", "", 403},
		{"C-AUTHN anonymous cannot read", "GET", item, "", "", "", 401},
		{"viewer reads", "GET", item, viewer, "", "", 200},
		{"editor2 reads", "GET", item, editor2, "", "", 200},
		{"owner updates", "PUT", item, editor, upd, tag, 200},
		{"admin deletes", "DELETE", item, admin, "", "", 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h []string
			if tc.ifMatch != "" {
				h = []string{"If-Match", tc.ifMatch}
			}
			r := do(t, tc.method, tc.url, tc.token, tc.body, h...)
			if r.status != tc.want {
				t.Fatalf("got %s, want %d", r, tc.want)
			}
			if b := string(r.body); strings.Contains(b, "AUTHZ_") || strings.Contains(b, "reasons") || strings.Contains(b, "decision") {
				t.Fatalf("C-ERRORS the response reveals the policy's reasoning: %s", b)
			}
		})
	}
	// The denied attempts changed nothing: only the owner's update happened.
	mine, _ := mustCreateMovie(t, m, editor)
	do(t, "DELETE", m.url+"/v1/movies/"+mine.ID, editor2, "")
	if r := do(t, "GET", m.url+"/v1/movies/"+mine.ID, viewer, ""); r.status != 200 || r.header.Get("ETag") != `"1"` {
		t.Fatalf("denied delete had an effect: %s", r)
	}
}

func TestTokenAttacks(t *testing.T) {
	id, _, m := startStack(t)
	for name, tok := range id.attacks(t) {
		t.Run("C-AUTHN "+name, func(t *testing.T) {
			r := do(t, "GET", m.url+"/v1/movies", tok, "")
			if r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("got %s", r)
			}
		})
	}
	if r := do(t, "GET", m.url+"/v1/movies", id.token(t, "viewer", "viewer"), ""); r.status != 200 {
		t.Fatalf("a valid token was refused: %s", r)
	}
	if r := do(t, "GET", m.url+"/v1/movies?access_token="+id.token(t, "viewer", "viewer"), "", ""); r.status != 401 {
		t.Fatalf("C-AUTHN token in the query string accepted: %s", r)
	}
}

// TestOPAOutage stops OPA: writes are refused with 503 and nothing is
// written; when OPA returns, the service recovers without a restart.
func TestOPAOutage(t *testing.T) {
	id, opa, m := startStack(t, "-decision-cache-ttl", "0")
	editor, viewer := id.token(t, "editor", "editor"), id.token(t, "viewer", "viewer")
	mustCreateMovie(t, m, editor)
	if r := do(t, "GET", m.url+"/readyz", "", ""); r.status != 200 {
		t.Fatalf("readyz before the outage: %s", r)
	}
	opa.kill()
	for i := range 3 {
		if r := do(t, "POST", m.url+"/v1/movies", editor, movieBody); r.status != 503 || strings.Contains(string(r.body), opa.addr) {
			t.Fatalf("C-AUTHZ-FAILCLOSED write %d with OPA down: %s", i, r)
		}
	}
	if r := do(t, "GET", m.url+"/readyz", "", ""); r.status != 503 {
		t.Fatalf("readyz with OPA down: %s", r)
	}
	if r := do(t, "GET", m.url+"/healthz", "", ""); r.status != 200 {
		t.Fatalf("healthz with OPA down: %s", r)
	}
	opa.start(t)
	waitFor(t, 10*time.Second, "readyz after OPA returned", func() bool { return do(t, "GET", m.url+"/readyz", "", "").status == 200 })
	if n := listCount(t, m, viewer); n != 1 {
		t.Fatalf("C-AUTHZ-FAILCLOSED %d movies after the outage, want 1: a denied write happened", n)
	}
	mustCreateMovie(t, m, editor)
}

// TestOPAMalformedAnswers points a real server at an "OPA" that answers
// with shapes that are not a boolean true allow.
func TestOPAMalformedAnswers(t *testing.T) {
	var answer atomic.Value
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, answer.Load().(string))
	}))
	defer fake.Close()
	answer.Store(`{"result":{"allow":true}}`)
	id := newIdentityProvider(t)
	m := startMovies(t, id, moviesOpts{opaURL: fake.URL, extra: []string{"-decision-cache-ttl", "0"}})
	editor := id.token(t, "editor", "editor")
	if r := do(t, "POST", m.url+"/v1/movies", editor, movieBody); r.status != 201 {
		t.Fatalf("with allow true: %s", r)
	}
	for _, a := range []string{`{"result":"true"}`, `{"result":{"allow":"true"}}`, `{"result":{"allow":1}}`, `{"result":true}`, `{"result":{"deny":false}}`} {
		answer.Store(a)
		if r := do(t, "POST", m.url+"/v1/movies", editor, movieBody); r.status != 403 {
			t.Errorf("C-AUTHZ-FAILCLOSED OPA answered %s: got %s, want 403", a, r)
		}
	}
	// No result at all means OPA lacks the policy: it could not decide (503).
	for _, a := range []string{`{}`, `{"result":null}`, `not json`, `{"result":{"allow":tr`, `{"result":{"allow":true,"x":"` + strings.Repeat("a", 100<<10) + `"}}`} {
		answer.Store(a)
		if r := do(t, "POST", m.url+"/v1/movies", editor, movieBody); r.status != 503 {
			t.Errorf("C-AUTHZ-FAILCLOSED OPA answered %.40s: got %s, want 503", a, r)
		}
	}
	answer.Store(`{"result":{"allow":true}}`)
	if n := listCount(t, m, editor); n != 1 {
		t.Fatalf("%d movies, want 1", n)
	}
}

func TestAbuseLimits(t *testing.T) {
	id, _, m := startStack(t, "-rate-subject", "0.01", "-burst-subject", "3", "-read-header-timeout", "500ms", "-max-header-bytes", "4096")
	viewer := id.token(t, "viewer", "viewer")
	t.Run("C-RATE subject over its rate gets 429 with Retry-After", func(t *testing.T) {
		var last response
		for range 4 {
			last = do(t, "GET", m.url+"/v1/movies", viewer, "")
		}
		if last.status != 429 || last.header.Get("Retry-After") == "" {
			t.Fatalf("got %s Retry-After=%q", last, last.header.Get("Retry-After"))
		}
	})
	t.Run("C-DOS-TIMEOUTS slow header client is cut off", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", m.addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 512)
		_, err = conn.Read(buf)
		for i := 0; err == nil && i < 10; i++ {
			_, err = conn.Read(buf)
		}
		if ne, ok := err.(net.Error); (ok && ne.Timeout()) || time.Since(start) > 4*time.Second {
			t.Fatalf("connection still open after %v", time.Since(start))
		}
	})
	t.Run("C-DOS-HEADERS oversized header gets 431", func(t *testing.T) {
		r := do(t, "GET", m.url+"/healthz", "", "", "X-Big", strings.Repeat("a", 16<<10))
		if r.status != 431 {
			t.Fatalf("got %s", r)
		}
	})
}

// TestLogCanary sends secrets in the Authorization header, the body and
// the query string, and checks that neither the service's nor OPA's logs
// hold them.
func TestLogCanary(t *testing.T) {
	id, opa, m := startStack(t)
	const canary = "c4n4ry-s3cr3t-1d9f"
	claims := id.claims("editor", "editor")
	claims["note"] = canary
	tok := id.sign(t, id.header(), claims)
	do(t, "POST", m.url+"/v1/movies", tok, `{"title":"`+canary+`","year":2000}`)
	do(t, "POST", m.url+"/v1/movies", tok, `{"title":"x","year":2000,"secret":"`+canary+`"}`)
	do(t, "GET", m.url+"/v1/movies?title="+canary, tok, "")
	do(t, "GET", m.url+"/v1/movies?access_token="+canary, "", "")
	do(t, "GET", m.url+"/v1/movies", "Bearer "+canary, "")
	do(t, "GET", m.url+"/v1/movies", canary+".x.y", "")
	// The service batches log lines (at most 5ms): wait for the six requests' access lines.
	waitFor(t, 5*time.Second, "six access lines", func() bool { return strings.Count(m.out.String(), `"log":"access"`) >= 6 })
	for name, logs := range map[string]string{"movies": m.out.String(), "opa": opa.out.String()} {
		if strings.Contains(logs, canary) {
			t.Errorf("C-LOG-REDACT the canary reached the %s log", name)
		}
		if strings.Contains(logs, tok) || strings.Contains(logs, strings.Split(tok, ".")[2]) {
			t.Errorf("C-LOG-REDACT a bearer token reached the %s log", name)
		}
	}
	// The access and audit log are there and name what they should.
	logs := m.out.String()
	for _, want := range []string{`"log":"access"`, `"log":"audit"`, `"route":"POST /v1/movies"`, `"subject":"editor"`, `"client_ip":"127.0.0.1"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("service log lacks %s", want)
		}
	}
	var withID int
	for line := range strings.Lines(logs) {
		var l struct {
			Log        string `json:"log"`
			DecisionID string `json:"decision_id"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Log == "audit" && l.DecisionID != "" {
			withID++
		}
	}
	if withID == 0 {
		t.Error("no audit line carries OPA's decision id")
	}
}

func TestGracefulShutdownAndHealthcheck(t *testing.T) {
	_, _, m := startStack(t)
	bin := binary(t, "./service/cmd/movies")
	if out, err := runCmd(t, bin, "healthcheck", "-addr", m.addr); err != nil {
		t.Fatalf("healthcheck on a live server: %v %s", err, out)
	}
	if err := m.stop(t, 15*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, m.out)
	}
	if !strings.Contains(m.out.String(), `"msg":"stopped"`) {
		t.Fatalf("no graceful stop logged:\n%s", m.out)
	}
	if _, err := runCmd(t, bin, "healthcheck", "-addr", m.addr, "-timeout", "1s"); err == nil {
		t.Fatal("healthcheck passed on a stopped server")
	}
}

func runCmd(tb testing.TB, bin string, args ...string) (string, error) {
	tb.Helper()
	p := startProc(tb, filepath.Dir(bin), bin, args...)
	select {
	case <-p.waited:
	case <-time.After(30 * time.Second):
		tb.Fatalf("%s %v did not finish", bin, args)
	}
	return p.out.String(), p.err
}
