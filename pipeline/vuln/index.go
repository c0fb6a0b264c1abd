package vuln

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// maxEntry bounds one OSV file; maxEntries bounds the number of entries in a snapshot.
const (
	maxEntry   = 4 << 20
	maxEntries = 100_000
)

// entry is the part of an OSV entry the indexes need.
type entry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases"`
	Affected []struct {
		Module struct {
			Path string `json:"name"`
		} `json:"package"`
		Ranges []osvRange `json:"ranges"`
	} `json:"affected"`
}

// osvRange is an OSV affected range.
type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced"`
		Fixed      string `json:"fixed"`
	} `json:"events"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Fixed    string    `json:"fixed,omitempty"`
}

type moduleMeta struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type vulnMeta struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

var entryID = regexp.MustCompile(`^GO-[0-9]{4}-[0-9]{4,}$`)

// writeLayout reads every <id>.json in osvDir and writes the v1 layout into dst:
// ID/<id>.json (the entry as published), index/modules.json, index/vulns.json, and last
// index/db.json, whose modified time is the newest entry's, or cut (the snapshot's commit
// time) when that is newer.
func writeLayout(osvDir, dst string, cut time.Time) error {
	names, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("no OSV entries in %s", osvDir)
	}
	if len(names) > maxEntries {
		return fmt.Errorf("%d OSV entries in %s (limit %d)", len(names), osvDir, maxEntries)
	}
	for _, d := range []string{"ID", "index"} {
		if err := os.Mkdir(filepath.Join(dst, d), 0o750); err != nil {
			return err
		}
	}
	modules := map[string]*moduleMeta{}
	vulns := make([]vulnMeta, 0, len(names))
	newest := cut
	for _, name := range names {
		e, raw, err := readEntry(name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, "ID", e.ID+".json"), raw, 0o600); err != nil {
			return err
		}
		if e.Modified.After(newest) {
			newest = e.Modified
		}
		vulns = append(vulns, vulnMeta{ID: e.ID, Modified: e.Modified.UTC(), Aliases: e.Aliases})
		addModules(modules, e)
	}
	return writeIndexes(dst, modules, vulns, newest)
}

// readEntry reads and checks one OSV file: its name must be its id.
func readEntry(name string) (*entry, []byte, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() > maxEntry {
		return nil, nil, fmt.Errorf("%s: %d bytes (limit %d)", filepath.Base(name), fi.Size(), maxEntry)
	}
	raw, err := os.ReadFile(name) // #nosec G304 -- a file of the checksum-verified snapshot
	if err != nil {
		return nil, nil, err
	}
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", filepath.Base(name), err)
	}
	if !entryID.MatchString(e.ID) || filepath.Base(name) != e.ID+".json" {
		return nil, nil, fmt.Errorf("%s: entry id %q does not match its file name", filepath.Base(name), e.ID)
	}
	return &e, raw, nil
}

func addModules(modules map[string]*moduleMeta, e *entry) {
	for _, a := range e.Affected {
		p := a.Module.Path
		if p == "" {
			continue
		}
		m := modules[p]
		if m == nil {
			m = &moduleMeta{Path: p, Vulns: []moduleVuln{}}
			modules[p] = m
		}
		m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified.UTC(), Fixed: latestFix(a.Ranges)})
	}
}

// latestFix is the fixed version of the latest SEMVER range event, or "" when the
// vulnerability was reintroduced after it (as govulncheck's own index computes it).
func latestFix(ranges []osvRange) string {
	latest := ""
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && less(latest, e.Fixed) {
				latest = e.Fixed
			}
		}
		for _, e := range r.Events {
			if e.Introduced != "" && e.Introduced != "0" && less(latest, e.Introduced) {
				latest = ""
				break
			}
		}
	}
	return latest
}

// less compares OSV versions (SemVer without the leading v); "" is the smallest.
func less(a, b string) bool {
	if a == "" {
		return b != ""
	}
	return semver.Compare("v"+strings.TrimPrefix(a, "v"), "v"+strings.TrimPrefix(b, "v")) < 0
}

func writeIndexes(dst string, modules map[string]*moduleMeta, vulns []vulnMeta, newest time.Time) error {
	if newest.IsZero() {
		return errors.New("neither the snapshot nor any entry has a modified time")
	}
	mods := make([]*moduleMeta, 0, len(modules))
	for _, m := range modules {
		sort.Slice(m.Vulns, func(i, j int) bool { return m.Vulns[i].ID < m.Vulns[j].ID })
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	sort.Slice(vulns, func(i, j int) bool { return vulns[i].ID < vulns[j].ID })
	files := []struct {
		name string
		v    any
	}{
		{"modules.json", mods},
		{"vulns.json", vulns},
		{"db.json", struct {
			Modified time.Time `json:"modified"`
		}{newest.UTC()}},
	}
	for _, f := range files { // db.json last: its presence marks a complete layout
		b, err := json.Marshal(f.v)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, "index", f.name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
