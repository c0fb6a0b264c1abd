package vuln

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// A source scan of the toolkit takes minutes, and its outcome depends only on its inputs:
// the module's own files (go.mod, go.sum, every .go file outside nested modules and
// testdata), the Go toolchain and build environment, the patterns, the scanner version and
// the database (URI, version and date). With Options.ResultCache set, the findings of a
// module are kept under a SHA-256 of exactly those inputs and reused while none changes.
// Dependencies need no hashing: go.sum fixes their content. VEX is applied after the
// cache, so a changed or expired statement always counts.

// maxHashedFile bounds one file hashed into the cache key.
const maxHashedFile = 64 << 20

// sourceKey is the cache key of a source scan of the module in dir.
func sourceKey(ctx context.Context, dir, gover string, o *Options) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "scanner %s\ndb %s %s %s\ngo %s\npatterns %q\n", scannerInfo().Version, o.DB.URI, o.DB.Version,
		o.DB.Modified.UTC().Format("2006-01-02T15:04:05Z"), gover, o.Patterns)
	out, err := goEnv(ctx, dir, "GOOS", "GOARCH", "CGO_ENABLED", "GOEXPERIMENT")
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "env %s\n", out)
	files, err := moduleFiles(dir)
	if err != nil {
		return "", err
	}
	for _, rel := range files {
		if err := hashFile(h, dir, rel); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func goEnv(ctx context.Context, dir string, names ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"env"}, names...)...) // #nosec G204 -- fixed variable names
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env: %w", err)
	}
	return strings.Join(strings.Fields(string(out)), " "), nil
}

// moduleFiles lists, sorted, the files of the module at dir that a scan reads: go.mod,
// go.sum and .go files, skipping nested modules, testdata, vendor-less hidden and _ dirs.
func moduleFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		name := d.Name()
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module is scanned on its own
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") || (filepath.Dir(rel) == "." && (name == "go.mod" || name == "go.sum")) {
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

func hashFile(h io.Writer, dir, rel string) error {
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel))) // #nosec G304 -- a file of the module being scanned
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "file %s\n", rel)
	n, err := io.Copy(h, io.LimitReader(f, maxHashedFile+1))
	if err != nil {
		return err
	}
	if n > maxHashedFile {
		return fmt.Errorf("%s: larger than %d bytes", rel, maxHashedFile)
	}
	return nil
}

// cached is what the cache keeps of one module's scan.
type cached struct {
	GoVersion string    `json:"go_version"`
	Findings  []Finding `json:"findings"`
}

func loadCached(dir, key string) (*cached, bool) {
	if dir == "" {
		return nil, false
	}
	raw, err := os.ReadFile(filepath.Join(dir, key+".json")) // #nosec G304 -- our cache directory; the name is a hex digest
	if err != nil {
		return nil, false
	}
	var c cached
	if json.Unmarshal(raw, &c) != nil {
		return nil, false
	}
	return &c, true
}

// storeCached writes the entry atomically; a failure only costs the next run time.
func storeCached(dir, key string, c *cached) {
	if dir == "" {
		return
	}
	raw, err := json.Marshal(c)
	if err != nil || os.MkdirAll(dir, 0o750) != nil {
		return
	}
	tmp, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return
	}
	_, werr := tmp.Write(raw)
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		_ = os.Remove(tmp.Name())
		return
	}
	if os.Rename(tmp.Name(), filepath.Join(dir, key+".json")) != nil {
		_ = os.Remove(tmp.Name())
	}
}
