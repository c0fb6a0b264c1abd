package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// KubeVersion is the Kubernetes release whose kube-apiserver the test builds (go.mod pins it).
const KubeVersion = "v1.37.2"

// root is the repository root.
func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	must(t, err)
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// cleanEnv is the environment for the processes under test: no proxy variables (the API
// server would send webhook calls to a proxy), everything else inherited. Builds keep the
// proxy variables: the module proxy may be behind one.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasSuffix(strings.ToUpper(k), "_PROXY") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// kubeAPIServer returns the cached kube-apiserver binary, building it once (several minutes
// cold) into $(go env GOCACHE)/../sms-k8s/VERSION/.
func kubeAPIServer(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	must(t, err)
	dir := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "sms-k8s", KubeVersion)
	bin := filepath.Join(dir, "kube-apiserver")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	must(t, os.MkdirAll(dir, 0o750))
	t.Logf("building kube-apiserver %s into %s (once; several minutes cold)", KubeVersion, dir)
	start := time.Now()
	tmp := bin + fmt.Sprintf(".%d.tmp", os.Getpid())
	cmd := exec.Command("go", "build", "-trimpath", "-o", tmp, "k8s.io/kubernetes/cmd/kube-apiserver")
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build kube-apiserver: %v\n%s", err, b)
	}
	must(t, os.Rename(tmp, bin))
	t.Logf("built kube-apiserver in %v", time.Since(start).Round(time.Second))
	return bin
}

// goBuild builds a package of the toolkit module (through the repository's go.work).
func goBuild(t *testing.T, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, pkg) // as tests/ builds: one cache
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), "GOWORK=", "CGO_ENABLED=0") // the workspace, whatever the test runs under
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
	return bin
}

// proc is a process the test started; Stop ends it (and its group).
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan error
}

// start runs bin with args, logging to a file; the test's cleanup stops it.
func start(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	log := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(log)
	must(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = f, f, cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &proc{name: name, cmd: cmd, log: log, done: make(chan error, 1)}
	return p.run(t, f)
}

func (p *proc) run(t *testing.T, f *os.File) *proc {
	t.Helper()
	must(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("--- %s log (tail) ---\n%s", p.name, tail(p.log, 40))
		}
	})
	return p
}

// Stop sends SIGTERM to the process group, then SIGKILL after 10s.
func (p *proc) Stop() {
	if p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		p.done <- nil
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	p.done <- nil // later Stops return at once
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// freePort asks the kernel for a free loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitFor polls ok every 200ms until it returns nil, the process exits, or timeout passes.
func waitFor(t *testing.T, p *proc, what string, timeout time.Duration, ok func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for i := 0; time.Now().Before(deadline) && i < int(timeout/(200*time.Millisecond))+1; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		last = ok(ctx)
		cancel()
		if last == nil {
			return
		}
		if p != nil {
			select {
			case err := <-p.done:
				p.done <- err
				t.Fatalf("%s exited while waiting for %s: %v\n%s", p.name, what, err, tail(p.log, 40))
			default:
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not ready after %v: %v", what, timeout, errors.Join(last))
}
