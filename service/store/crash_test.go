package store

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ledger records, per movie id, the states its writer asked for in order
// ("" is absent) and how many of them were acknowledged. One goroutine owns
// each id and waits for each write, so at most one is ever in flight.
type ledger struct {
	mu    sync.Mutex
	hist  map[string][]string // hist[id][0] is the state before the first write
	acked map[string]int      // index into hist of the last acknowledged state
}

func newLedger() *ledger { return &ledger{hist: map[string][]string{}, acked: map[string]int{}} }

func (l *ledger) start(id, state string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.hist[id]; !ok {
		l.hist[id] = []string{""}
	}
	l.hist[id] = append(l.hist[id], state)
}

func (l *ledger) ack(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked[id]++
}

func (l *ledger) ackedNow() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.acked))
	for k, v := range l.acked {
		out[k] = v
	}
	return out
}

// startedNow returns, per id, the index in hist of the last state asked for.
func (l *ledger) startedNow() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.hist))
	for k, h := range l.hist {
		out[k] = len(h) - 1
	}
	return out
}

// check compares what a reopened store holds with what was acknowledged
// before the crash (ackedAt, taken before it) and what had been asked for by
// then (startedAt, taken after it): each id shows its last acknowledged
// state or a later one that was asked for; ids nobody wrote do not exist.
// Then the observed states become the settled truth for later rounds.
func (l *ledger) check(t *testing.T, got []Movie, ackedAt, startedAt map[string]int) (acked, present int) {
	t.Helper()
	acked = l.verify(t, got, ackedAt, startedAt)
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[string]string{}
	for _, m := range got {
		seen[m.ID] = movieBytes(m)
	}
	for id := range l.hist {
		l.hist[id], l.acked[id] = []string{seen[id]}, 0
	}
	return acked, len(got)
}

// verify is check without settling; it returns how many ids had a present
// state acknowledged.
func (l *ledger) verify(t *testing.T, got []Movie, ackedAt, startedAt map[string]int) (acked int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[string]string{}
	for _, m := range got {
		seen[m.ID] = movieBytes(m)
		if _, ok := l.hist[m.ID]; !ok {
			t.Fatalf("movie %s exists but was never written", m.ID)
		}
	}
	for id, h := range l.hist {
		a, ok := ackedAt[id], false
		for k := a; k <= startedAt[id] && k < len(h); k++ {
			ok = ok || seen[id] == h[k]
		}
		if !ok {
			t.Fatalf("movie %s: found %q; acknowledged state %q (later: %v)", id, seen[id], h[a], h[a+1:])
		}
		if h[a] != "" {
			acked++
		}
	}
	return acked
}

// recorder learns each write's intended state before the call and its
// acknowledgement after it.
type recorder interface {
	start(id, state string)
	ack(id string)
}

// writeLoad runs writers that create, update and delete their own movies
// until ctx ends or a write fails.
func writeLoad(ctx context.Context, s Store, l recorder, prefix string, writers int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprintf("%s-w%02d-%05d", prefix, w, i)
				m := testMovie(id, i)
				m.Version = 1
				l.start(id, movieBytes(m))
				if _, err := s.Create(ctx, m); err != nil {
					return
				}
				l.ack(id)
				if i%3 == 1 {
					u := testMovie(id, i+7)
					u.Title = "updated " + id
					u.Version = 2
					l.start(id, movieBytes(u))
					if _, err := s.Update(ctx, u, 1); err != nil {
						return
					}
					l.ack(id)
				}
				if i%5 == 2 {
					l.start(id, "")
					if err := s.Delete(ctx, id, 0); err != nil {
						return
					}
					l.ack(id)
				}
			}
		})
	}
	return &wg
}

// TestPowerLossUnderLoad cuts the power (only synced data and synced
// directory entries survive) at random moments while 32 writers run and the
// journal compacts every few KiB, ten rounds in a row on the surviving
// state: every acknowledged write survives, byte for byte.
func TestPowerLossUnderLoad(t *testing.T) {
	mfs := newMemFS()
	l := newLedger()
	for round := range 10 {
		opts := memOpts(mfs)
		opts.CompactBytes = 16 << 10
		j, err := Open(testDir, opts)
		if err != nil {
			t.Fatalf("round %d: reopen after power loss: %v", round, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		wg := writeLoad(ctx, j, l, fmt.Sprintf("r%02d", round), 32)
		time.Sleep(time.Duration(5+rand.IntN(40)) * time.Millisecond)
		ackedAt := l.ackedNow()
		crashed := mfs.crash()
		if round%3 == 2 {
			crashed = mfs.processCrash()
		}
		startedAt := l.startedNow()
		cancel()
		wg.Wait()
		j.Close()
		mfs = crashed
		r, err := Open(testDir, memOpts(mfs))
		if err != nil {
			t.Fatalf("round %d: Open after power loss: %v", round, err)
		}
		acked, present := l.check(t, listAll(t, r), ackedAt, startedAt)
		r.Close()
		t.Logf("round %d: %d movies acknowledged, %d present", round, acked, present)
	}
}

// The helper process for TestKillUnderLoad: it opens the data dir, runs 64
// writers and prints one line per intent ("S id bytes") before each call and
// one per acknowledgement ("A id") after it, until it is killed.
const helperEnv = "SMS_STORE_HELPER_DIR"

func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process for TestKillUnderLoad")
	}
	j, err := Open(dir, Options{CompactBytes: 256 << 10})
	if err != nil {
		fmt.Fprintln(os.Stdout, "ERR", err)
		os.Exit(3)
	}
	out := &lineWriter{w: os.Stdout}
	l := &printingLedger{out: out}
	writeLoad(context.Background(), j, l, os.Getenv("SMS_STORE_HELPER_PREFIX"), 64).Wait()
	fmt.Fprintln(os.Stdout, "ERR a write failed")
	os.Exit(5)
}

type lineWriter struct {
	mu sync.Mutex
	w  *os.File
}

func (w *lineWriter) line(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.WriteString(s + "\n"); err != nil {
		os.Exit(4)
	}
}

// printingLedger stands in for ledger in the child: it prints instead.
type printingLedger struct{ out *lineWriter }

func (p *printingLedger) start(id, state string) {
	b, _ := json.Marshal(state)
	p.out.line("S " + id + " " + string(b))
}
func (p *printingLedger) ack(id string) { p.out.line("A " + id) }

// TestKillUnderLoad runs a real child process (this test binary) with 64
// writers on a real data dir and SIGKILLs it at a random moment, five
// times: after each restart every acknowledged write is there byte for
// byte, nothing unacknowledged is half there, and the number of movies lies
// between the acknowledged ones and acknowledged plus in flight.
func TestKillUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	l := newLedger()
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+dir, fmt.Sprintf("SMS_STORE_HELPER_PREFIX=k%d", round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan struct{}, 1)
		readDone := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				kind, rest, _ := strings.Cut(sc.Text(), " ")
				switch kind {
				case "S":
					id, state, _ := strings.Cut(rest, " ")
					var s string
					if err := json.Unmarshal([]byte(state), &s); err != nil {
						readDone <- fmt.Errorf("bad line %q", sc.Text())
						return
					}
					l.start(id, s)
				case "A":
					l.ack(rest)
					select {
					case lines <- struct{}{}:
					default:
					}
				default:
					readDone <- fmt.Errorf("child: %s", sc.Text())
					return
				}
			}
			readDone <- sc.Err()
		}()
		select { // let it get going, then kill it within 2 s
		case <-lines:
		case <-time.After(30 * time.Second):
			t.Fatal("child acknowledged nothing")
		}
		time.Sleep(time.Duration(100+rand.IntN(1200)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := <-readDone; err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		ackedAt := l.ackedNow() // everything the dead child ever printed
		inflight := 0
		l.mu.Lock()
		for id, h := range l.hist {
			inflight += len(h) - 1 - ackedAt[id]
		}
		l.mu.Unlock()
		j, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("round %d: Open after SIGKILL: %v", round, err)
		}
		acked, present := l.check(t, listAll(t, j), ackedAt, l.startedNow())
		j.Close()
		if present < acked-inflight || present > acked+inflight {
			t.Fatalf("round %d: %d movies, acknowledged %d, in flight %d", round, present, acked, inflight)
		}
		t.Logf("round %d: %d movies present, %d acknowledged, %d writes in flight at the kill", round, present, acked, inflight)
	}
}
