package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer collects a process's output safely while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Reset drops what was collected (benchmarks keep memory flat with it).
func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is a started child process.
type proc struct {
	cmd     *exec.Cmd
	out     *lockedBuffer // stdout and stderr, unless they go to logPath
	logPath string
	waited  chan struct{}
	err     error
}

func startProc(tb testing.TB, dir, bin string, args ...string) *proc {
	return startProcLogging(tb, dir, bin, "", args...)
}

// startProcLogging starts bin with its stdout and stderr in the file logPath (when not
// empty) rather than in memory: the file costs the process its own writes and nothing
// else, as when `make run` is redirected or a container runtime keeps the log.
func startProcLogging(tb testing.TB, dir, bin, logPath string, args ...string) *proc {
	tb.Helper()
	p := &proc{cmd: exec.Command(bin, args...), out: &lockedBuffer{}, logPath: logPath, waited: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			tb.Fatal(err)
		}
		defer f.Close() // the child has its own descriptor
		p.cmd.Stdout, p.cmd.Stderr = f, f
	}
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.waited) }()
	tb.Cleanup(func() { p.kill() })
	return p
}

// logs is what the process has written so far.
func (p *proc) logs() string {
	if p.logPath == "" {
		return p.out.String()
	}
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.waited
}

// stop sends SIGTERM and waits at most d for the process to exit.
func (p *proc) stop(tb testing.TB, d time.Duration) error {
	tb.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.waited:
		return p.err
	case <-time.After(d):
		tb.Fatalf("process did not exit within %v after SIGTERM:\n%s", d, p.out)
		return nil
	}
}

// waitFor polls cond every 50ms for at most d.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for i := 0; i < 1000 && time.Now().Before(deadline); i++ {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("timed out after %v waiting for %s", d, what)
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// opaServer is a real OPA process hardened as `make run` starts it.
// apiDir is the movies.authz policy it loads (policy/api unless a test
// restarts it with another).
type opaServer struct {
	*proc
	url, addr, token, dir string
	apiDir                string
}

// startOPA starts OPA with policy/api and policy/system on a loopback
// port, token authentication, and a fresh service token.
func startOPA(tb testing.TB) *opaServer {
	tb.Helper()
	dir := tb.TempDir()
	var raw [32]byte
	rand.Read(raw[:])
	token := hex.EncodeToString(raw[:])
	writeFile(tb, filepath.Join(dir, "opa-token"), []byte(token+"\n"), 0o600)
	o := &opaServer{addr: freeAddr(tb), token: token, dir: dir, apiDir: filepath.Join(repoRoot(tb), "policy/api")}
	o.url = "http://" + o.addr
	o.start(tb)
	return o
}

// policyRevision is what scripts/run-dev.sh loads as data.movies_policy.revision: the SHA-256
// of the policy's authz.rego in dir.
func policyRevision(tb testing.TB, dir string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "authz.rego"))
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// start starts OPA with o.apiDir, writing the data file as scripts/run-dev.sh does: the
// service token's hash and the policy's revision.
func (o *opaServer) start(tb testing.TB) {
	tb.Helper()
	root := repoRoot(tb)
	sum := sha256.Sum256([]byte(o.token))
	data, _ := json.Marshal(map[string]any{"movies_opa": map[string]string{"service_token_sha256": hex.EncodeToString(sum[:])},
		"movies_policy": map[string]string{"revision": policyRevision(tb, o.apiDir)}})
	writeFile(tb, filepath.Join(o.dir, "opa-data.json"), data, 0o600)
	o.proc = startProc(tb, root, toolBinary(tb, "opa"), "run", "--server", "--addr", o.addr,
		"--authentication=token", "--authorization=basic", "--skip-version-check",
		"--set", "decision_logs.console=true", "--ignore", "*_test.rego",
		o.apiDir, filepath.Join(root, "policy/system"), filepath.Join(o.dir, "opa-data.json"))
	waitFor(tb, 60*time.Second, "OPA /health", func() bool {
		resp, err := http.Get(o.url + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// moviesServer is a real movies process.
type moviesServer struct {
	*proc
	url, addr string
	dataDir   string
}

type moviesOpts struct {
	opaURL, opaTokenFile string
	dataDir              string
	extra                []string
	https                bool
	bin                  string // the movies binary; default: built from this checkout
	logPath              string // where its output goes; default: memory (see startProcLogging)
}

// startMovies starts the movies binary on an ephemeral loopback port and
// waits until it logs the address it listens on.
func startMovies(tb testing.TB, id *identityProvider, o moviesOpts) *moviesServer {
	tb.Helper()
	if o.dataDir == "" {
		o.dataDir = filepath.Join(tb.TempDir(), "data")
	}
	args := []string{"-addr", "127.0.0.1:0", "-data-dir", o.dataDir, "-jwks", id.jwksPath,
		"-issuer", id.issuer, "-audience", id.audience, "-opa-url", o.opaURL}
	if o.opaTokenFile != "" {
		args = append(args, "-opa-token-file", o.opaTokenFile)
	}
	args = append(args, o.extra...)
	bin := o.bin
	if bin == "" {
		bin = binary(tb, "./service/cmd/movies")
	}
	m := &moviesServer{proc: startProcLogging(tb, tb.TempDir(), bin, o.logPath, args...), dataDir: o.dataDir}
	waitFor(tb, 20*time.Second, "movies to listen", func() bool {
		sc := bufio.NewScanner(strings.NewReader(m.logs()))
		for sc.Scan() {
			var line struct{ Msg, Addr, URL string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				m.addr, m.url = line.Addr, line.URL
				return true
			}
		}
		select {
		case <-m.waited:
			tb.Fatalf("movies exited: %v\n%s", m.err, m.logs())
		default:
		}
		return false
	})
	return m
}

// startStack starts OPA and a movies server that uses it.
func startStack(tb testing.TB, extra ...string) (*identityProvider, *opaServer, *moviesServer) {
	tb.Helper()
	id := newIdentityProvider(tb)
	opa := startOPA(tb)
	m := startMovies(tb, id, moviesOpts{opaURL: opa.url, opaTokenFile: filepath.Join(opa.dir, "opa-token"), extra: extra})
	return id, opa, m
}

func writeFile(tb testing.TB, path string, data []byte, mode os.FileMode) {
	tb.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		tb.Fatal(err)
	}
}

// response is what a test needs from an HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}

func newRequest(method, url, token, body string) (*http.Request, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

func do(tb testing.TB, method, url, token, body string, header ...string) response {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := newRequest(method, url, token, body)
	if err != nil {
		tb.Fatal(err)
	}
	req = req.WithContext(ctx)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

func (r response) json(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.body, err)
	}
}
