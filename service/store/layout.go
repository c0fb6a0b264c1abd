package store

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// File names in a data directory. A snapshot of generation G holds the
// state of every journal segment below G; segments G, G+1, … are replayed on
// top of it. With no snapshot, replay starts at segment 1.
const (
	lockName   = "LOCK"
	tempSuffix = ".tmp"
)

func journalName(gen uint64) string  { return fmt.Sprintf("journal-%016x.log", gen) }
func snapshotName(gen uint64) string { return fmt.Sprintf("snapshot-%016x.snap", gen) }

// quarantineName names the file that keeps the bad tail of segment gen
// from offset off: Open sets such bytes aside and never deletes them.
func quarantineName(gen uint64, off int64) string {
	return fmt.Sprintf("%s.quarantine-%016x", journalName(gen), off)
}

// parseGen returns the generation in name if it is prefix + 16 hex digits + suffix.
func parseGen(name, prefix, suffix string) (uint64, bool) {
	s, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, suffix)
	if !ok || len(s) != 16 {
		return 0, false
	}
	g, err := strconv.ParseUint(s, 16, 64)
	if err != nil || g == 0 || fmt.Sprintf("%016x", g) != s {
		return 0, false
	}
	return g, true
}

// layout is what a data directory holds.
type layout struct {
	dir         string
	snapshots   []uint64 // ascending
	journals    []uint64 // ascending
	temps       []string // names ending in .tmp: unfinished snapshots
	unknown     []string
	quarantined []string // bad tails set aside by Open; kept for the operator
}

func readLayout(fsys fileSystem, dir string) (layout, error) {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return layout{}, fmt.Errorf("read data dir: %w", err)
	}
	l := layout{dir: dir}
	for _, n := range names { // sorted, and the fixed-width hex sorts numerically
		if g, ok := parseGen(n, "journal-", ".log"); ok {
			l.journals = append(l.journals, g)
		} else if g, ok := parseGen(n, "snapshot-", ".snap"); ok {
			l.snapshots = append(l.snapshots, g)
		} else if strings.HasSuffix(n, tempSuffix) {
			l.temps = append(l.temps, n)
		} else if strings.Contains(n, ".quarantine-") {
			l.quarantined = append(l.quarantined, n)
		} else if n != lockName {
			l.unknown = append(l.unknown, n)
		}
	}
	return l, nil
}

// base is the generation replay starts from: the newest snapshot's, or 1.
func (l layout) base() uint64 {
	if len(l.snapshots) == 0 {
		return 1
	}
	return l.snapshots[len(l.snapshots)-1]
}

func (l layout) hasSnapshot() bool { return len(l.snapshots) > 0 }

// live returns the journal generations to replay, base, base+1, …; a gap
// means lost data and is reported as corruption.
func (l layout) live() ([]uint64, error) {
	base := l.base()
	var live []uint64
	for _, g := range l.journals {
		if g < base {
			continue
		}
		want := base + uint64(len(live))
		if g != want {
			return nil, &CorruptError{File: filepath.Join(l.dir, journalName(want)), Offset: 0,
				Reason: fmt.Sprintf("journal segment missing (found %s)", journalName(g))}
		}
		live = append(live, g)
	}
	return live, nil
}

// stale returns the names that a newer snapshot has made redundant, and
// unfinished snapshot temp files.
func (l layout) stale() []string {
	base := l.base()
	var names []string
	for _, g := range l.journals {
		if g < base {
			names = append(names, journalName(g))
		}
	}
	for _, g := range l.snapshots {
		if g < base {
			names = append(names, snapshotName(g))
		}
	}
	return append(names, l.temps...)
}
