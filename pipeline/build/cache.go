package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// The build cache keeps, per clean commit and toolchain, the binary `go build` made, what was
// read from it and from the commit's go.sum, and the compressed image layer, so that building
// the same commit again — `pipeline build` and then `pipeline release`, or two releases — runs
// no export and no go build. The build is reproducible, so the cached binary is the one the
// build would make again; the cache is trusted as the Go build cache is (the user's own
// directory, 0700), and every entry is checked against the SHA-256 recorded with it.
// Work-tree builds (--worktree) are never cached.

// DefaultCacheDir is the user's cache directory for builds ("" when there is none).
func DefaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "sms-pipeline", "build")
}

// cacheEntry is meta.json of a cached build.
type cacheEntry struct {
	BinarySHA256 string       `json:"binary_sha256"`
	GoVersion    string       `json:"go_version"`
	Deps         []Dependency `json:"deps"`
	GoSum        []Dependency `json:"go_sum"`
}

// cache is one entry's directory (it may not exist yet).
type cache struct{ dir string }

// openCache returns the entry for the build of src with o's settings under toolchain tc.
func openCache(o Options, src Source, tc string) *cache {
	if o.CacheDir == "" || o.Worktree {
		return nil
	}
	key, _ := json.Marshal(map[string]any{
		"v": 1, "revision": src.Revision, "module": o.ModuleDir, "package": o.Package,
		"goos": o.GOOS, "goarch": o.GOARCH, "flags": Flags, "env": Env(o.GOOS, o.GOARCH), "toolchain": tc,
	})
	sum := sha256.Sum256(key)
	return &cache{dir: filepath.Join(o.CacheDir, hex.EncodeToString(sum[:]))}
}

// load returns the cached build, or nil when there is none or it does not check out.
func (c *cache) load() (*compiled, *cacheEntry) {
	if c == nil {
		return nil, nil
	}
	mb, err := os.ReadFile(filepath.Join(c.dir, "meta.json"))
	if err != nil {
		return nil, nil
	}
	var e cacheEntry
	if err := json.Unmarshal(mb, &e); err != nil {
		return nil, nil
	}
	bin, err := os.ReadFile(filepath.Join(c.dir, "binary"))
	if err != nil {
		return nil, nil
	}
	sum := sha256.Sum256(bin)
	if hex.EncodeToString(sum[:]) != e.BinarySHA256 {
		return nil, nil // damaged: build again
	}
	return &compiled{Binary: bin, GoVersion: e.GoVersion, Deps: e.Deps}, &e
}

// store records a build. Failing to store is not an error of the build.
func (c *cache) store(comp *compiled, gosum []Dependency) {
	if c == nil {
		return
	}
	sum := sha256.Sum256(comp.Binary)
	meta, err := json.Marshal(cacheEntry{BinarySHA256: hex.EncodeToString(sum[:]), GoVersion: comp.GoVersion, Deps: comp.Deps, GoSum: gosum})
	if err != nil {
		return
	}
	// The binary first, meta.json last: an entry without meta.json is not used.
	if c.write("binary", comp.Binary) == nil {
		_ = c.write("meta.json", meta)
	}
}

// layerName names the compressed layer of a binary at a path and epoch; the compressor is
// part of the name, so a layer compressed by another Go version is not reused.
func layerName(binarySHA256, binaryPath string, epoch int64) string {
	key := fmt.Sprintf("%s\x00%s\x00%d\x00gzip-%d\x00%s", binarySHA256, binaryPath, epoch, GzipLevel, runtime.Version())
	sum := sha256.Sum256([]byte(key))
	return "layer-" + hex.EncodeToString(sum[:16]) + ".tar.gz"
}

// layer returns the cached compressed layer, if any (Image checks it against the binary).
func (c *cache) layer(name string) []byte {
	if c == nil {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(c.dir, name)) // #nosec G304 -- inside the build cache directory, named by a hash
	if err != nil {
		return nil
	}
	return b
}

// write replaces a file of the entry atomically.
func (c *cache) write(name string, b []byte) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, filepath.Join(c.dir, name))
	}
	if werr != nil {
		_ = os.Remove(tmp)
	}
	return werr
}

// toolchain identifies the Go toolchain a build would use: its version, root and target
// settings as `go env` reports them under the build's environment, and the size and time of
// the go command and the compiler and linker, so that a reinstalled toolchain misses.
func toolchain(ctx context.Context, dir, goos, goarch string, getenv func(string) string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION", "GOROOT", "GOHOSTOS", "GOHOSTARCH", "GOAMD64", "GOARM64", "GOEXPERIMENT", "GOFLAGS")
	cmd.Dir = dir
	cmd.Env = buildEnv(goos, goarch, getenv)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 4 {
		return "", errors.New("go env: unexpected output")
	}
	root, hostOS, hostArch := lines[1], lines[2], lines[3]
	id := string(out)
	tools := filepath.Join(root, "pkg", "tool", hostOS+"_"+hostArch)
	for _, p := range []string{filepath.Join(root, "bin", "go"), filepath.Join(tools, "compile"), filepath.Join(tools, "link")} {
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("toolchain: %w", err)
		}
		id += fmt.Sprintf("%s %d %d\n", p, st.Size(), st.ModTime().UnixNano())
	}
	return id, nil
}
