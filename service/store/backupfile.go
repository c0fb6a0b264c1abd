package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// BackupFile writes a backup of the data in dir (see Backup) to the new
// file out: into a temporary file beside it, synced, renamed to out, and
// the directory synced, so that out, once this returns nil, survives a
// power loss whole, and is never seen half written. out must not exist.
func BackupFile(dir, out string) error { return backupFile(osFS{}, dir, out) }

func backupFile(fsys fileSystem, dir, out string) error {
	if f, err := fsys.OpenFile(out, os.O_RDONLY, 0); err == nil {
		f.Close()
		return fmt.Errorf("%s exists; choose a new file", out)
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".partial-"+hex.EncodeToString(rnd[:]))
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create backup: %w", err)
	}
	err = backup(fsys, dir, &offsetWriter{f: f})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, out)
	}
	if err != nil {
		fsys.Remove(tmp)
		return err
	}
	if err := fsys.SyncDir(filepath.Dir(out)); err != nil {
		return fmt.Errorf("sync %s after the rename: %w", filepath.Dir(out), err)
	}
	return nil
}
