package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrashLosesNoAcknowledgedWrite SIGKILLs a real movies process at
// random moments while 64 clients write, then restarts it on the same data
// dir: every acknowledged write is there byte for byte, nothing is half
// there, and the count lies between acknowledged and acknowledged plus in
// flight.
func TestCrashLosesNoAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts and kills the server several times")
	}
	id := newIdentityProvider(t)
	opa := startOPA(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	opts := moviesOpts{opaURL: opa.url, opaTokenFile: filepath.Join(opa.dir, "opa-token"), dataDir: dataDir,
		extra: []string{"-rate-subject", "100000", "-burst-subject", "100000", "-max-inflight-subject", "256", "-max-inflight-ip", "256"}}
	editor, admin := id.token(t, "editor", "editor"), id.token(t, "admin", "admin")

	acked := map[string][]byte{} // id → the 201 body, across all rounds
	var inFlight int             // requests sent whose answer never came, across all rounds
	const rounds, writers = 4, 64
	for round := range rounds {
		m := startMovies(t, id, opts)
		checkStore(t, m, admin, acked, inFlight)

		var mu sync.Mutex
		var lost atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				for i := 0; i < 10000; i++ {
					select {
					case <-stop:
						return
					default:
					}
					body := fmt.Sprintf(`{"title":"r%d-w%d-%d","year":2000,"genres":["Crash"],"director":"%s"}`, round, w, i, strings.Repeat("d", i%50))
					r, err := tryDo("POST", m.url+"/v1/movies", editor, body)
					if err != nil {
						lost.Add(1) // the server died with the request in flight
						return
					}
					if r.status != 201 {
						t.Errorf("POST: %s", r)
						return
					}
					var mv movie
					json.Unmarshal(r.body, &mv)
					mu.Lock()
					acked[mv.ID] = r.body
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(150+rand.IntN(500)) * time.Millisecond)
		m.kill() // SIGKILL: no shutdown, no flush
		close(stop)
		wg.Wait()
		inFlight += int(lost.Load())
		t.Logf("round %d: %d acknowledged so far, %d in flight at kills", round, len(acked), inFlight)
	}
	m := startMovies(t, id, opts)
	checkStore(t, m, admin, acked, inFlight)
	if len(acked) < rounds {
		t.Fatalf("only %d writes acknowledged: the test did not exercise the store", len(acked))
	}
}

// tryDo is do without failing the test on a transport error.
func tryDo(method, url, token, body string) (response, error) {
	req, _ := newRequest(method, url, token, body)
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// checkStore lists every movie and checks it against what was acknowledged.
func checkStore(t *testing.T, m *moviesServer, token string, acked map[string][]byte, inFlight int) {
	t.Helper()
	got := map[string][]byte{}
	cursor := ""
	for page := 0; page < 10000; page++ {
		url := m.url + "/v1/movies?limit=100"
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		r := do(t, "GET", url, token, "")
		var l struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor *string           `json:"next_cursor"`
		}
		r.json(t, &l)
		for _, raw := range l.Items {
			var mv movie
			json.Unmarshal(raw, &mv)
			got[mv.ID] = raw
		}
		if l.NextCursor == nil {
			break
		}
		cursor = *l.NextCursor
	}
	for id, body := range acked {
		if g, ok := got[id]; !ok {
			t.Fatalf("C-STORE-DURABLE acknowledged movie %s lost after SIGKILL", id)
		} else if string(g) != string(body) {
			t.Fatalf("C-STORE-DURABLE movie %s changed:\n got %s\nwant %s", id, g, body)
		}
	}
	for id, raw := range got {
		var mv struct {
			Title  string   `json:"title"`
			Genres []string `json:"genres"`
		}
		if err := json.Unmarshal(raw, &mv); err != nil || !strings.HasPrefix(mv.Title, "r") || len(mv.Genres) != 1 {
			t.Fatalf("C-STORE-DURABLE movie %s is not whole: %s", id, raw)
		}
	}
	if len(got) < len(acked) || len(got) > len(acked)+inFlight {
		t.Fatalf("C-STORE-DURABLE %d movies after restart; acknowledged %d, in flight %d", len(got), len(acked), inFlight)
	}
}
