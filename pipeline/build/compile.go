package build

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
)

// Flags are the compiler flags of every release build. The Dockerfile must use the same
// (a test in the repository-hardening work compares them).
var Flags = []string{"-trimpath", "-ldflags=-buildid="}

// Env is the environment that pins the build, on top of PATH, HOME and the Go caches.
func Env(goos, goarch string) []string {
	return []string{
		"CGO_ENABLED=0",
		"GOOS=" + goos,
		"GOARCH=" + goarch,
		"GOWORK=off", // the runtime module builds alone: only service/go.mod decides its inputs
		"GOFLAGS=-mod=readonly -buildvcs=false",
		"GOTOOLCHAIN=" + Toolchain(),
	}
}

// Toolchain is the Go toolchain every build uses: the one this program was built with (the
// toolchain go.mod names, when built through make), so that the binary a release signs is
// never built by whatever older go happens to be first on PATH. The go command fetches it
// from the module proxy once. A development build of Go gives "local".
func Toolchain() string {
	v := runtime.Version()
	if !toolchainVersion.MatchString(v) {
		return "local"
	}
	return v
}

var toolchainVersion = regexp.MustCompile(`^go1\.[0-9]+(\.[0-9]+)?$`)

// passEnv lists the variables of the caller's environment a build may see.
var passEnv = []string{"PATH", "HOME", "GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOSUMDB", "GOROOT", "TMPDIR"}

// buildEnv is the whole environment of the go command: the pinned variables and the
// caller's passEnv ones.
func buildEnv(goos, goarch string, getenv func(string) string) []string {
	e := Env(goos, goarch)
	for _, k := range passEnv {
		if v := getenv(k); v != "" {
			e = append(e, k+"="+v)
		}
	}
	if getenv("GOCACHE") == "" && getenv("HOME") == "" {
		// go needs a cache directory; fall back to the caller's default.
		if dir, err := os.UserCacheDir(); err == nil {
			e = append(e, "GOCACHE="+filepath.Join(dir, "go-build"))
		}
	}
	return e
}

// Command is the build command line, as written into provenance.
func Command(pkg, out string) []string {
	return append(append([]string{"go", "build"}, Flags...), "-o", out, pkg)
}

// compiled is the output of compile.
type compiled struct {
	Binary    []byte
	GoVersion string
	Deps      []Dependency
	Command   []string
	Env       []string
}

// Dependency is a module linked into the binary, from its embedded build information.
type Dependency struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Sum     string `json:"sum,omitempty"`
}

func compile(ctx context.Context, moduleDir, pkg, goos, goarch string, getenv func(string) string) (*compiled, error) {
	tmp, err := os.MkdirTemp("", "pipeline-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "app")
	args := Command(pkg, out)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...) // #nosec G204 -- the fixed go build command line; the package path is the operator's
	cmd.Dir = moduleDir
	pinned := Env(goos, goarch)
	cmd.Env = buildEnv(goos, goarch, getenv)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	bin, err := os.ReadFile(out) // #nosec G304 -- the binary we just built into our own temporary directory
	if err != nil {
		return nil, err
	}
	c := &compiled{Binary: bin, Command: Command(pkg, "<binary>"), Env: pinned, GoVersion: runtime.Version()}
	if bi, err := buildinfo.ReadFile(out); err == nil {
		c.GoVersion = bi.GoVersion
		for _, d := range bi.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			c.Deps = append(c.Deps, Dependency{Path: d.Path, Version: d.Version, Sum: d.Sum})
		}
	}
	return c, nil
}
