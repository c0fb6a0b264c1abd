package vuln

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/vuln/scan"

	"github.com/secure-movie-service/sms/pipeline/predicate"
)

// Scan modes.
const (
	ModeSource = "source"
	ModeBinary = "binary"
)

// ScannerModule is the module of govulncheck.
const ScannerModule = "golang.org/x/vuln"

// Options configure one Scan.
type Options struct {
	DB   *DB    // the database (PrepareDB or OpenDB); required
	Mode string // ModeSource (default) or ModeBinary
	// Dir is the repository (or module) root: source mode scans modules under it, and
	// findings name their target relative to it. Default ".".
	Dir string
	// Modules are the module directories, relative to Dir, scanned in source mode, each
	// with its own go.mod (GOWORK=off). Default: the `use` directories of Dir/go.work, or
	// "." when there is none.
	Modules []string
	// Patterns are the package patterns scanned in each module; default ./...
	Patterns []string
	Binary   string    // binary mode: the executable to scan
	VEX      string    // directory of OpenVEX documents; "" for none
	Now      time.Time // the time VEX expiry and database age are judged at; default time.Now()
	Progress io.Writer // one line per target scanned; default none
	// ResultCache, when set, is a directory where source-mode findings are kept per module
	// under a hash of every input of the scan (see cache.go); "" scans every time.
	ResultCache string
}

// Scan runs govulncheck in-process (golang.org/x/vuln/scan, -format json) over the
// modules or the binary, and sorts its findings into failing, informational and waived.
// A VEX problem is an error wrapping ErrVEX; call Report.Err for the verdict.
func Scan(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	vex, err := LoadVEX(o.VEX, o.Now)
	if err != nil {
		return nil, err
	}
	r := &Report{Scanner: scannerInfo(), DB: *o.DB, Mode: o.Mode, Started: time.Now().UTC(),
		Findings: []Finding{}, Informational: []Finding{}, Waived: []Finding{}, Warnings: []string{}}
	var all []Finding
	if o.Mode == ModeBinary {
		all, err = scanBinary(ctx, o, r)
	} else {
		all, err = scanSources(ctx, o, r)
	}
	if err != nil {
		return nil, err
	}
	r.Finished = time.Now().UTC()
	r.sort(all, vex)
	if age := o.DB.Age(o.Now); age > MaxDBAge {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the vulnerability database is %d days old (modified %s; limit %d days)",
			int(age.Hours()/24), o.DB.Modified.Format(time.DateOnly), int(MaxDBAge.Hours()/24)))
	}
	return r, nil
}

func (o *Options) defaults() error {
	if o.DB == nil || o.DB.URI == "" {
		return errors.New("scan: no vulnerability database")
	}
	if o.Mode == "" {
		o.Mode = ModeSource
	}
	if o.Mode != ModeSource && o.Mode != ModeBinary {
		return fmt.Errorf("scan: mode %q (want source or binary)", o.Mode)
	}
	if o.Mode == ModeBinary && o.Binary == "" {
		return errors.New("scan: binary mode needs a binary")
	}
	if o.Dir == "" {
		o.Dir = "."
	}
	if len(o.Patterns) == 0 {
		o.Patterns = []string{"./..."}
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Mode == ModeSource && len(o.Modules) == 0 {
		mods, err := workspaceModules(o.Dir)
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		o.Modules = mods
	}
	return nil
}

// workspaceModules lists the use directories of dir/go.work, or "." without one.
func workspaceModules(dir string) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "go.work")) // #nosec G304 -- the repository's go.work
	if errors.Is(err, os.ErrNotExist) {
		return []string{"."}, nil
	}
	if err != nil {
		return nil, err
	}
	wf, err := modfile.ParseWork("go.work", raw, nil)
	if err != nil {
		return nil, err
	}
	var mods []string
	for _, u := range wf.Use {
		mods = append(mods, filepath.ToSlash(filepath.Clean(u.Path)))
	}
	return mods, nil
}

// scanSources scans each module in its directory with GOWORK=off, so that its own go.mod
// decides what it is built from.
func scanSources(ctx context.Context, o Options, r *Report) ([]Finding, error) {
	var all []Finding
	for _, m := range o.Modules {
		c, hit, err := scanModule(ctx, &o, m)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", m, err)
		}
		if hit {
			r.Cached = append(r.Cached, m)
		}
		r.Targets = append(r.Targets, m)
		r.GoVersion = c.GoVersion
		all = append(all, c.Findings...)
	}
	return all, nil
}

// scanModule scans the module at o.Dir/m, or takes its findings from o.ResultCache when
// none of the scan's inputs changed since they were stored (hit).
func scanModule(ctx context.Context, o *Options, m string) (c *cached, hit bool, err error) {
	dir := filepath.Join(o.Dir, filepath.FromSlash(m))
	modPath, err := modulePath(dir)
	if err != nil {
		return nil, false, err
	}
	gover, err := goVersion(ctx, dir)
	if err != nil {
		return nil, false, err
	}
	key := ""
	if o.ResultCache != "" {
		if key, err = sourceKey(ctx, dir, gover, o); err != nil {
			return nil, false, err
		}
		if c, ok := loadCached(o.ResultCache, key); ok {
			fmt.Fprintf(o.Progress, "vuln: %s unchanged since its last scan (%.12s): findings from the cache\n", m, key)
			return c, true, nil
		}
	}
	fmt.Fprintf(o.Progress, "vuln: govulncheck %s (%s, %s, database %s) …\n", m, modPath, gover, o.DB.Modified.Format(time.DateOnly))
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly", "GOVERSION="+gover)
	args := append([]string{"-db", o.DB.URI, "-format", "json", "-C", dir}, o.Patterns...)
	s, err := govulncheck(ctx, env, args, m)
	if err != nil {
		return nil, false, err
	}
	c = &cached{GoVersion: s.Config.GoVersion, Findings: []Finding{}}
	for _, f := range s.Findings {
		f.Product = modPath
		c.Findings = append(c.Findings, f)
	}
	storeCached(o.ResultCache, key, c)
	return c, false, nil
}

// scanBinary scans one executable's symbol table and build information.
func scanBinary(ctx context.Context, o Options, r *Report) ([]Finding, error) {
	bi, err := buildinfo.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", o.Binary, err)
	}
	fmt.Fprintf(o.Progress, "vuln: govulncheck -mode binary %s (%s, %s, database %s) …\n", o.Binary, bi.Main.Path, bi.GoVersion, o.DB.Modified.Format(time.DateOnly))
	args := []string{"-db", o.DB.URI, "-format", "json", "-mode", "binary", o.Binary}
	s, err := govulncheck(ctx, os.Environ(), args, filepath.Base(o.Binary))
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", o.Binary, err)
	}
	r.Targets = []string{filepath.Base(o.Binary)}
	r.GoVersion = bi.GoVersion
	var all []Finding
	for _, f := range s.Findings {
		f.Product = bi.Main.Path
		all = append(all, f)
	}
	return all, nil
}

// govulncheck runs the scanner in-process and parses its JSON stream. The scanner never sees
// ctx's cancellation: govulncheck v1.9.0 dereferences a nil result, and so crashes the whole
// process, when its call graph is cancelled mid-scan (internal/vulncheck/source.go returns
// nil, nil for a failed build). A cancelled scan is abandoned instead: this returns ctx's
// error at once, and the scan finishes on its own and is discarded.
func govulncheck(ctx context.Context, env, args []string, target string) (*stream, error) {
	var stdout, stderr bytes.Buffer
	cmd := scan.Command(context.WithoutCancel(ctx), args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, &stderr
	cmd.Stdin = bytes.NewReader(nil)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("govulncheck: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("govulncheck: %w", ctx.Err())
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("govulncheck: %w: %s", err, lastLines(stderr.String(), 20))
		}
	}
	return parseStream(&stdout, target)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func modulePath(dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "go.mod")) // #nosec G304 -- a module of the repository
	if err != nil {
		return "", err
	}
	p := modfile.ModulePath(raw)
	if p == "" {
		return "", fmt.Errorf("%s/go.mod has no module line", dir)
	}
	return p, nil
}

// goVersion is the Go version that builds the module in dir: govulncheck checks the
// standard library at it.
func goVersion(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// scannerInfo names govulncheck by the version linked into this program.
func scannerInfo() Scanner {
	v := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == ScannerModule {
				v = d.Version
				if d.Replace != nil {
					v = d.Replace.Version
				}
			}
		}
	}
	return Scanner{URI: "pkg:golang/" + ScannerModule + "@" + v, Version: v}
}

// sort files every finding: called ones fail unless a VEX statement waives them; the
// others are informational.
func (r *Report) sort(all []Finding, vex *VEX) {
	for _, f := range all {
		if f.Level != predicate.LevelCalled {
			r.Informational = append(r.Informational, f)
			continue
		}
		if f.WaivedBy = vex.Waive(f); f.WaivedBy != nil {
			r.Waived = append(r.Waived, f)
			continue
		}
		r.Findings = append(r.Findings, f)
	}
	sortFindings(r.Findings)
	sortFindings(r.Informational)
	sortFindings(r.Waived)
}
