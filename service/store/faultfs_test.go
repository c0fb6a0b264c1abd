package store

import (
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// faults says which operations of a faultFS fail, for files whose name
// contains match (all files when empty).
type faults struct {
	match    string
	write    error         // WriteAt fails with this error …
	short    bool          // … after writing half the bytes (a short write)
	sync     error         // Sync fails, dropping the dirty data (Linux) …
	keep     bool          // … or keeping it dirty, to reach the disk later (other systems)
	gate     chan struct{} // Sync waits until this is closed
	delay    time.Duration // Sync takes at least this long
	truncate error
	create   error // OpenFile with O_CREATE fails
	syncDir  error
}

// faultFS wraps a fileSystem and injects the current faults.
type faultFS struct {
	fileSystem
	mu     sync.Mutex
	f      faults
	writes int // WriteAt calls that reached the file system
	syncs  int // successful file syncs
}

func (ffs *faultFS) set(f faults) {
	ffs.mu.Lock()
	defer ffs.mu.Unlock()
	ffs.f = f
}

func (ffs *faultFS) current(name string) faults {
	ffs.mu.Lock()
	defer ffs.mu.Unlock()
	if ffs.f.match != "" && !strings.Contains(name, ffs.f.match) {
		return faults{}
	}
	return ffs.f
}

func (ffs *faultFS) counts() (writes, syncs int) {
	ffs.mu.Lock()
	defer ffs.mu.Unlock()
	return ffs.writes, ffs.syncs
}

func (ffs *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	if err := ffs.current(name).create; err != nil && flag&os.O_CREATE != 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f, err := ffs.fileSystem.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{file: f, fs: ffs, name: name}, nil
}

func (ffs *faultFS) SyncDir(dir string) error {
	if err := ffs.current(dir).syncDir; err != nil {
		return err
	}
	return ffs.fileSystem.SyncDir(dir)
}

type faultFile struct {
	file
	fs   *faultFS
	name string
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	f.fs.writes++
	f.fs.mu.Unlock()
	flt := f.fs.current(f.name)
	if flt.write == nil && !flt.short {
		return f.file.WriteAt(p, off)
	}
	n := 0
	if flt.short {
		var err error
		if n, err = f.file.WriteAt(p[:len(p)/2], off); err != nil {
			return n, err
		}
		if flt.write == nil {
			return n, nil // a short write that reports no error
		}
	}
	return n, &fs.PathError{Op: "write", Path: f.name, Err: flt.write}
}

func (f *faultFile) Sync() error {
	flt := f.fs.current(f.name)
	if flt.gate != nil {
		<-flt.gate
	}
	time.Sleep(flt.delay)
	if err := flt.sync; err != nil {
		if d, ok := f.file.(interface{ dropDirty() }); ok && !flt.keep {
			d.dropDirty()
		}
		return &fs.PathError{Op: "sync", Path: f.name, Err: err}
	}
	if err := f.file.Sync(); err != nil {
		return err
	}
	f.fs.mu.Lock()
	f.fs.syncs++
	f.fs.mu.Unlock()
	return nil
}

func (f *faultFile) Truncate(n int64) error {
	if err := f.fs.current(f.name).truncate; err != nil {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: err}
	}
	return f.file.Truncate(n)
}

var (
	_ fileSystem = (*faultFS)(nil)
	_ fileSystem = (*memFS)(nil)
	_ io.Closer  = memLock{}
	_            = syscall.ENOSPC
)
