package main

import (
	"fmt"
	"io"
	"os"

	"github.com/secure-movie-service/sms/service/store"
)

// backup writes a verified, consistent backup of a data dir to -o. It
// reads without the directory lock, so it works while the server runs.
// The file appears under its name only once it is complete and synced, and
// its directory entry is synced too.
func backup(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("movies backup", stderr)
	dataDir := fs.String("data-dir", "", "data directory to back up")
	out := fs.String("o", "", "backup file to write (must not exist)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if *dataDir == "" || *out == "" {
		return fmt.Errorf("%w: movies backup -data-dir DIR -o FILE", errUsage)
	}
	if err := store.BackupFile(*dataDir, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup of %s written to %s\n", *dataDir, *out)
	return nil
}

// restore restores a backup file into an empty data dir, after verifying
// every checksum in it.
func restore(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("movies restore", stderr)
	dataDir := fs.String("data-dir", "", "empty data directory to restore into")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if *dataDir == "" || fs.NArg() != 1 {
		return fmt.Errorf("%w: movies restore -data-dir DIR FILE", errUsage)
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := store.Restore(f, *dataDir); err != nil {
		return fmt.Errorf("restore %s: %w", fs.Arg(0), err)
	}
	fmt.Fprintf(stdout, "restored %s into %s\n", fs.Arg(0), *dataDir)
	return nil
}
