package vuln

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/mod/module"
)

// DBModule is the module that publishes the Go vulnerability database.
const DBModule = "golang.org/x/vulndb"

// MaxDBAge is the age beyond which a report warns that its database is stale.
const MaxDBAge = 30 * 24 * time.Hour

// DB is a vulnerability database govulncheck can read.
type DB struct {
	URI      string    `json:"uri"`      // file:///… or https://…
	Modified time.Time `json:"modified"` // the newest entry's modification time: the database's date
	Version  string    `json:"version"`  // the golang.org/x/vulndb module version, or "live"
}

// Snapshot is the pinned database: a version of DBModule, its data/osv directory, and the
// time of the commit it was cut from. The entries in data/osv carry no dates of their own
// (vuln.go.dev's deployment sets "modified" from the repository's history; the module's
// files say 0001-01-01), so the snapshot's commit time is the database's date.
type Snapshot struct {
	Version string
	OSVDir  string
	Time    time.Time
}

// DefaultCacheDir is where the CLI prepares databases: <user cache>/sms-pipeline/vulndb.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("vulnerability database cache: %w", err)
	}
	return filepath.Join(dir, "sms-pipeline", "vulndb"), nil
}

// PrepareDB prepares the database pinned by the module of the current directory (see
// PinnedSnapshot) in cacheDir/<version>.
func PrepareDB(ctx context.Context, cacheDir string) (*DB, error) {
	s, err := PinnedSnapshot(ctx, ".")
	if err != nil {
		return nil, err
	}
	return BuildDB(s, cacheDir)
}

// PinnedSnapshot reads the version of DBModule that the module at dir requires and
// downloads it through the go command, which verifies it against go.sum.
func PinnedSnapshot(ctx context.Context, dir string) (Snapshot, error) {
	var m struct {
		Path, Version, Dir, Error string
	}
	if err := goJSON(ctx, dir, &m, "list", "-m", "-json", DBModule); err != nil {
		return Snapshot{}, fmt.Errorf("pinned vulnerability database: %w", err)
	}
	if m.Version == "" {
		return Snapshot{}, fmt.Errorf("pinned vulnerability database: %s is not required by the module in %s", DBModule, dir)
	}
	var d struct {
		Dir   string
		Info  string
		Sum   string
		Error string
	}
	if err := goJSON(ctx, dir, &d, "mod", "download", "-json", DBModule+"@"+m.Version); err != nil {
		return Snapshot{}, fmt.Errorf("download %s@%s: %w", DBModule, m.Version, err)
	}
	if d.Error != "" || d.Dir == "" {
		return Snapshot{}, fmt.Errorf("download %s@%s: %s", DBModule, m.Version, d.Error)
	}
	t, err := versionTime(m.Version, d.Info)
	if err != nil {
		return Snapshot{}, fmt.Errorf("%s@%s: %w", DBModule, m.Version, err)
	}
	return Snapshot{Version: m.Version, OSVDir: filepath.Join(d.Dir, "data", "osv"), Time: t}, nil
}

// versionTime is the commit time of a module version: the one a pseudo-version spells, or
// else the Time of the proxy's .info file.
func versionTime(version, infoFile string) (time.Time, error) {
	if module.IsPseudoVersion(version) {
		return module.PseudoVersionTime(version)
	}
	raw, err := os.ReadFile(infoFile) // #nosec G304 -- the go command's module cache
	if err != nil {
		return time.Time{}, err
	}
	var info struct{ Time time.Time }
	if err := json.Unmarshal(raw, &info); err != nil {
		return time.Time{}, err
	}
	return info.Time, nil
}

// goJSON runs a go command in dir (the repository's modules, with go.work off so that
// only go.mod and go.sum decide) and decodes its JSON output into v.
func goJSON(ctx context.Context, dir string, v any, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...) // #nosec G204 -- fixed go subcommands; the module path is a constant
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if stdout.Len() > 0 {
		if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
			return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
		}
	}
	if runErr != nil && stdout.Len() == 0 {
		return fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), runErr, strings.TrimSpace(stderr.String()))
	}
	return nil
}

var safeVersion = regexp.MustCompile(`^v[0-9A-Za-z.+-]{1,120}$`)

// BuildDB lays snapshot s out as a v1 database in cacheDir/<version>, unless it is already
// there: the layout is written into a temporary directory beside it and renamed into place
// only when complete, so a directory under its final name is always whole.
func BuildDB(s Snapshot, cacheDir string) (*DB, error) {
	if !safeVersion.MatchString(s.Version) {
		return nil, fmt.Errorf("vulnerability database: version %q", s.Version)
	}
	final := filepath.Join(cacheDir, s.Version)
	if db, err := openDir(final, s.Version); err == nil {
		return db, nil
	}
	if err := os.MkdirAll(cacheDir, 0o750); err != nil {
		return nil, fmt.Errorf("vulnerability database: %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".tmp-"+s.Version+"-")
	if err != nil {
		return nil, fmt.Errorf("vulnerability database: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := writeLayout(s.OSVDir, tmp, s.Time); err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", s.Version, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another process may have finished first; its directory is as good as ours.
		if db, oerr := openDir(final, s.Version); oerr == nil {
			return db, nil
		}
		return nil, fmt.Errorf("vulnerability database %s: %w", s.Version, err)
	}
	return openDir(final, s.Version)
}

// openDir opens a prepared database directory.
func openDir(dir, version string) (*DB, error) {
	b, err := os.ReadFile(filepath.Join(dir, "index", "db.json")) // #nosec G304 -- our cache directory
	if err != nil {
		return nil, err
	}
	mod, err := parseDBMeta(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	return &DB{URI: u.String(), Modified: mod, Version: version}, nil
}

// maxDBMeta bounds index/db.json.
const maxDBMeta = 4 << 10

func parseDBMeta(b []byte) (time.Time, error) {
	var meta struct {
		Modified time.Time `json:"modified"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return time.Time{}, fmt.Errorf("index/db.json: %w", err)
	}
	if meta.Modified.IsZero() {
		return time.Time{}, errors.New("index/db.json: no modified time")
	}
	return meta.Modified.UTC(), nil
}

// OpenDB opens a live database at uri (http, https or file) and reads its date from
// index/db.json (index/db.json.gz over HTTP is what govulncheck reads; db.json is served
// beside it by vuln.go.dev).
func OpenDB(ctx context.Context, uri string) (*DB, error) {
	uri = strings.TrimRight(uri, "/")
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %q: %w", uri, err)
	}
	switch u.Scheme {
	case "file":
		db, err := openDir(filepath.FromSlash(u.Path), "live")
		if err != nil {
			return nil, fmt.Errorf("vulnerability database %s: %w", uri, err)
		}
		return db, nil
	case "http", "https":
	default:
		return nil, fmt.Errorf("vulnerability database %q: scheme must be file, http or https", uri)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri+"/index/db.json", nil)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", uri, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", uri, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("vulnerability database %s: index/db.json: %s", uri, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDBMeta))
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", uri, err)
	}
	mod, err := parseDBMeta(b)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", uri, err)
	}
	return &DB{URI: uri, Modified: mod, Version: "live"}, nil
}

// Age is how old the database is at now.
func (db *DB) Age(now time.Time) time.Duration { return now.Sub(db.Modified) }
