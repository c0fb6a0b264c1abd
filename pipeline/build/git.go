package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// git runs git in dir and returns its trimmed standard output.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...) // #nosec G204 -- git with arguments the pipeline builds, never a shell
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// Source describes the commit being built.
type Source struct {
	Root     string // top of the git work tree
	Revision string // full commit id
	Epoch    int64  // SOURCE_DATE_EPOCH
	Dirty    bool   // building a work tree that differs from Revision
}

// resolveSource finds the commit and its time. A SOURCE_DATE_EPOCH from the environment
// takes precedence over the commit time, as reproducible-builds.org defines.
func resolveSource(ctx context.Context, dir, rev, epochEnv string) (Source, error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return Source{}, fmt.Errorf("revision %q: not a revision", rev) // never an option to git
	}
	root, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return Source{}, err
	}
	full, err := git(ctx, root, "rev-parse", "--verify", rev+"^{commit}")
	if err != nil {
		return Source{}, err
	}
	ct := epochEnv
	if ct == "" {
		if ct, err = git(ctx, root, "log", "-1", "--format=%ct", full); err != nil {
			return Source{}, err
		}
	}
	epoch, err := strconv.ParseInt(ct, 10, 64)
	if err != nil || epoch < 0 {
		return Source{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a Unix time", ct)
	}
	return Source{Root: root, Revision: full, Epoch: epoch}, nil
}

// maxExport bounds what a clean export may write (the repository is far smaller).
const maxExport = 1 << 30

// export writes the tree of rev under dir (a path relative to the root; "." for all of it)
// into dst with `git archive`, so that the build sees exactly the commit and nothing else in
// the work tree. The module being built is self-contained (it builds with GOWORK=off, and
// Go reads nothing outside a module), so only its directory is exported.
func export(ctx context.Context, root, rev, dir, dst string) error {
	cmd := exec.CommandContext(ctx, "git", "archive", "--format=tar", rev, "--", filepath.ToSlash(dir)) // #nosec G204 -- rev is resolved to a commit id by git first, dir is a path after --; no shell
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git archive: %w", err)
	}
	xerr := untar(out, dst)
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git archive %s: %w: %s", rev, err, strings.TrimSpace(stderr.String()))
	}
	return xerr
}

// untar extracts the archive into dst through an os.Root, so that no entry,
// not even one behind a symlink the archive itself created, lands outside it.
func untar(r io.Reader, dst string) error {
	root, err := os.OpenRoot(dst)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer root.Close()
	tr := tar.NewReader(r)
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if !filepath.IsLocal(h.Name) {
			return fmt.Errorf("export: unsafe path %q", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(h.Name, 0o750); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		case tar.TypeReg:
			total += h.Size
			if total > maxExport {
				return fmt.Errorf("export: tree larger than %d bytes", maxExport)
			}
			if err := root.MkdirAll(filepath.Dir(h.Name), 0o750); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			mode := os.FileMode(0o600)
			if h.Mode&0o111 != 0 {
				mode = 0o700
			}
			if err := writeFile(root, h.Name, tr, h.Size, mode); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		case tar.TypeSymlink:
			if err := root.Symlink(h.Linkname, h.Name); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		}
	}
}

func writeFile(root *os.Root, name string, r io.Reader, size int64, mode os.FileMode) error {
	f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, r, size); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
