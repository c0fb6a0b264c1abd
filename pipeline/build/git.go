package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// sourceRepository is the repository the commit comes from, as provenance names it: the URL
// of the remote "origin" without credentials, as https (scp-like and ssh:// addresses of a
// host are rewritten to it) and without a trailing ".git"; a repository with no remote, or one
// whose origin is a local path, is named by file:// and its absolute path. It never invents a
// repository the work tree does not point to.
func sourceRepository(ctx context.Context, root string) (string, error) {
	url, err := git(ctx, root, "config", "--get", "remote.origin.url")
	if err != nil || url == "" {
		url = root // no origin: this very repository
	}
	return normalizeRemote(url, root)
}

var scpLike = regexp.MustCompile(`^(?:[^@/]+@)?([^:/]+):([^/].*)$`)

// normalizeRemote turns a git remote URL into the repository's address (see sourceRepository);
// relative local paths are resolved against root.
func normalizeRemote(remote, root string) (string, error) {
	if u, err := url.Parse(remote); err == nil && u.Scheme != "" && u.Host != "" {
		switch u.Scheme {
		case "https", "http", "ssh", "git", "git+ssh", "ssh+git":
			path := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git")
			if u.Scheme == "https" || u.Scheme == "http" {
				return u.Scheme + "://" + u.Host + path, nil
			}
			return "https://" + u.Hostname() + path, nil // the host's web address, as go get names it
		}
		return "", fmt.Errorf("git remote %q: unsupported scheme %q", u.Redacted(), u.Scheme)
	}
	if strings.HasPrefix(remote, "file://") {
		remote = strings.TrimPrefix(remote, "file://")
	} else if m := scpLike.FindStringSubmatch(remote); m != nil && !filepath.IsAbs(remote) {
		return "https://" + m[1] + "/" + strings.TrimSuffix(strings.TrimSuffix(m[2], "/"), ".git"), nil
	}
	if !filepath.IsAbs(remote) {
		remote = filepath.Join(root, remote)
	}
	return "file://" + filepath.ToSlash(filepath.Clean(remote)), nil
}
