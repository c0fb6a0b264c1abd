package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// fileSystem is everything the journal does to its directory. The operating
// system implements it in production; tests substitute one that injects
// faults or models what survives a power loss.
type fileSystem interface {
	// MkdirAll makes dir (mode 0700) and reports whether it had to, tightening
	// the mode of an existing one to 0700.
	MkdirAll(dir string) (created bool, err error)
	OpenFile(name string, flag int, perm fs.FileMode) (file, error)
	// ReadDir returns the sorted names in dir.
	ReadDir(dir string) ([]string, error)
	Rename(oldname, newname string) error
	Remove(name string) error
	// SyncDir makes dir's entries (creations, renames, removals) durable.
	SyncDir(dir string) error
	// Lock takes an exclusive lock on name, creating it with mode 0600;
	// ErrLocked if another holder has it. Closing the result releases it.
	Lock(name string) (io.Closer, error)
}

// file is an open file of a fileSystem.
type file interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	Sync() error
	Truncate(size int64) error
	Size() (int64, error)
}

// osFS is the operating system's file system.
type osFS struct{}

type osFile struct{ *os.File }

func (f osFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (osFS) MkdirAll(dir string) (bool, error) {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return false, fmt.Errorf("%s is not a directory", dir)
	case err == nil:
		if fi.Mode().Perm()&0o077 != 0 {
			return false, os.Chmod(dir, 0o700) // #nosec G302 -- a directory needs x; 0700 is owner-only
		}
		return false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	return true, nil
}

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	f, err := os.OpenFile(name, flag, perm) // #nosec G304 -- names are built by the journal inside its data dir, never from requests
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) ReadDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	slices.Sort(names)
	return names, nil
}

func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }
func (osFS) Remove(name string) error             { return os.Remove(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- the data dir is operator configuration (-data-dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (osFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the LOCK file inside the data dir
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, name)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return f, nil
}

// ensureDir makes dir on fsys and, when it was new, makes its entry in the
// parent durable too.
func ensureDir(fsys fileSystem, dir string) error {
	created, err := fsys.MkdirAll(dir)
	if err != nil {
		return fmt.Errorf("make data dir: %w", err)
	}
	if created {
		if err := fsys.SyncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return fmt.Errorf("sync parent of data dir: %w", err)
		}
	}
	return nil
}

// classify turns an I/O error into the sentinel the API maps to a status:
// no space (507) or unavailable (503). The cause stays wrapped for logs.
func classify(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
