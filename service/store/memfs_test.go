package store

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"syscall"
)

// memFS is an in-memory fileSystem that models what survives a power loss:
// file data is durable only once synced, a directory entry (create, rename,
// remove) only once its directory is synced. crash returns the durable state
// as a new file system. A failed fsync drops the dirty data without writing
// it (as Linux does), so a later successful fsync does not save it.
type memFS struct {
	mu    sync.Mutex
	dirs  map[string]*memDir
	locks map[string]bool
}

type memDir struct {
	entries map[string]*memInode
	synced  map[string]*memInode
}

type memInode struct {
	data  []byte
	disk  []byte
	dirty [][2]int64
	mode  fs.FileMode
}

func newMemFS() *memFS {
	m := &memFS{dirs: map[string]*memDir{}, locks: map[string]bool{}}
	m.MkdirAll("/")
	return m
}

func (m *memFS) split(name string) (*memDir, string, error) {
	d, ok := m.dirs[filepath.Dir(name)]
	if !ok {
		return nil, "", &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return d, filepath.Base(name), nil
}

func (m *memFS) MkdirAll(dir string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = filepath.Clean(dir)
	if _, ok := m.dirs[dir]; ok {
		return false, nil
	}
	m.dirs[dir] = &memDir{entries: map[string]*memInode{}, synced: map[string]*memInode{}}
	return true, nil
}

func (m *memFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.split(name)
	if err != nil {
		return nil, err
	}
	ino, ok := d.entries[base]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case !ok && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case !ok:
		ino = &memInode{mode: perm}
		d.entries[base] = ino
	}
	f := &memFile{fs: m, ino: ino, name: name, ro: flag&(os.O_WRONLY|os.O_RDWR) == 0}
	if flag&os.O_TRUNC != 0 {
		ino.truncate(0)
	}
	return f, nil
}

func (m *memFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dirs[filepath.Clean(dir)]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	var names []string
	for n := range d.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func (m *memFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ob, err := m.split(oldname)
	if err != nil {
		return err
	}
	d2, nb, err := m.split(newname)
	if err != nil || d2 != d {
		return fmt.Errorf("memfs: rename across directories")
	}
	ino, ok := d.entries[ob]
	if !ok {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	delete(d.entries, ob)
	d.entries[nb] = ino
	return nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, b, err := m.split(name)
	if err != nil {
		return err
	}
	if _, ok := d.entries[b]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(d.entries, b)
	return nil
}

func (m *memFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dirs[filepath.Clean(dir)]
	if !ok {
		return &fs.PathError{Op: "sync", Path: dir, Err: fs.ErrNotExist}
	}
	d.synced = maps(d.entries)
	return nil
}

func maps(in map[string]*memInode) map[string]*memInode {
	out := make(map[string]*memInode, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

type memLock struct {
	fs   *memFS
	name string
}

func (l memLock) Close() error {
	l.fs.mu.Lock()
	defer l.fs.mu.Unlock()
	delete(l.fs.locks, l.name)
	return nil
}

func (m *memFS) Lock(name string) (io.Closer, error) {
	f, err := m.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks[name] {
		return nil, fmt.Errorf("%w: %s", ErrLocked, name)
	}
	m.locks[name] = true
	return memLock{m, name}, nil
}

// crash returns the durable state of m as a new file system: synced
// directory entries pointing at the synced data of their files. m itself is
// left alone (the old process may still be running against it).
func (m *memFS) crash() *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := newMemFS()
	copied := map[*memInode]*memInode{}
	for p, d := range m.dirs {
		nd := &memDir{entries: map[string]*memInode{}}
		for n, ino := range d.synced {
			c, ok := copied[ino]
			if !ok {
				c = &memInode{data: slices.Clone(ino.disk), disk: slices.Clone(ino.disk), mode: ino.mode}
				copied[ino] = c
			}
			nd.entries[n] = c
		}
		nd.synced = maps(nd.entries)
		out.dirs[p] = nd
	}
	return out
}

// bytes returns the current (page cache) content of name.
func (m *memFS) bytes(name string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, b, err := m.split(name)
	if err != nil {
		return nil
	}
	if ino, ok := d.entries[b]; ok {
		return slices.Clone(ino.data)
	}
	return nil
}

// setBytes replaces the content of name, durably (a test's corruption).
func (m *memFS) setBytes(name string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, b, _ := m.split(name)
	ino, ok := d.entries[b]
	if !ok {
		ino = &memInode{mode: 0o600}
		d.entries[b] = ino
		d.synced[b] = ino
	}
	ino.data, ino.disk, ino.dirty = slices.Clone(data), slices.Clone(data), nil
}

func (ino *memInode) truncate(n int64) {
	if n <= int64(len(ino.data)) {
		ino.data = ino.data[:n]
	} else {
		ino.data = append(ino.data, make([]byte, n-int64(len(ino.data)))...)
	}
	ino.dirty = append(ino.dirty, [2]int64{0, 0}) // a size change is dirty metadata
}

// sync writes the dirty ranges to disk and sets the disk size.
func (ino *memInode) sync() {
	disk := make([]byte, len(ino.data))
	copy(disk, ino.disk)
	for _, r := range ino.dirty {
		lo, hi := min(r[0], int64(len(disk))), min(r[1], int64(len(disk)))
		copy(disk[lo:hi], ino.data[lo:hi])
	}
	ino.disk, ino.dirty = disk, nil
}

type memFile struct {
	fs     *memFS
	ino    *memInode
	name   string
	ro     bool
	closed bool
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, os.ErrClosed
	}
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, os.ErrClosed
	}
	if f.ro {
		return 0, syscall.EBADF
	}
	if end := off + int64(len(p)); end > int64(len(f.ino.data)) {
		f.ino.data = append(f.ino.data, make([]byte, end-int64(len(f.ino.data)))...)
	}
	copy(f.ino.data[off:], p)
	f.ino.dirty = append(f.ino.dirty, [2]int64{off, off + int64(len(p))})
	return len(p), nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return os.ErrClosed
	}
	f.ino.sync()
	return nil
}

// dropDirty is what a failed fsync does on Linux: the dirty pages are marked
// clean without reaching the disk.
func (f *memFile) dropDirty() {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.ino.dirty = nil
}

func (f *memFile) Truncate(n int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return os.ErrClosed
	}
	f.ino.truncate(n)
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return int64(len(f.ino.data)), nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return os.ErrClosed
	}
	f.closed = true
	return nil
}

// processCrash returns the state a killed process leaves behind: the page
// cache survives, so every write and every directory change is there.
func (m *memFS) processCrash() *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := newMemFS()
	for p, d := range m.dirs {
		nd := &memDir{entries: map[string]*memInode{}}
		for n, ino := range d.entries {
			nd.entries[n] = &memInode{data: slices.Clone(ino.data), disk: slices.Clone(ino.data), mode: ino.mode}
		}
		nd.synced = maps(nd.entries)
		out.dirs[p] = nd
	}
	return out
}

// writeback writes every file's dirty data to disk, as the kernel's
// background writeback eventually does.
func (m *memFS) writeback() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.dirs {
		for _, ino := range d.entries {
			ino.sync()
		}
	}
}
