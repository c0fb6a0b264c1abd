package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/secure-movie-service/sms/pipeline/vuln"
)

func runVuln(ctx context.Context, a *app, args []string) error {
	fs := a.flags("vuln", "[flags] [PACKAGE-PATTERN...]   (default ./... in every module of go.work)")
	var o vuln.Options
	var dbURL, format, outFile, cacheDir, predicateFile string
	var fresh bool
	fs.StringVar(&o.Dir, "root", ".", "repository `DIR` (source mode scans the modules of its go.work)")
	fs.StringVar(&o.Mode, "mode", vuln.ModeSource, "scan mode: source or binary")
	fs.StringVar(&o.Binary, "binary", "", "binary mode: the executable `FILE` to scan")
	fs.StringVar(&dbURL, "vuln-db", "", "vulnerability database `URL` (default: the snapshot go.mod pins, prepared in the cache)")
	fs.StringVar(&cacheDir, "cache-dir", "", "`DIR` for prepared databases (default <user cache>/sms-pipeline/vulndb)")
	fs.BoolVar(&fresh, "fresh", false, "scan every module even when its inputs match a cached scan")
	fs.StringVar(&o.VEX, "vex", vuln.VEXDir, "`DIR` of OpenVEX documents: the only exceptions (relative to -root)")
	fs.StringVar(&format, "format", "text", "report format: "+strings.Join(vuln.Formats, ", "))
	fs.StringVar(&outFile, "o", "", "write the report to `FILE` (a text summary still goes to stderr)")
	fs.StringVar(&predicateFile, "predicate", "", "also write cosign's vulnerability predicate to `FILE` (for pipeline attest --type vuln)")
	if err := parse(fs, args, -1); err != nil {
		return err
	}
	if !slices.Contains(vuln.Formats, format) {
		return fmt.Errorf("%w: --format %q (want %s)", errUsage, format, strings.Join(vuln.Formats, ", "))
	}
	if o.Mode == vuln.ModeBinary && (o.Binary == "" || fs.NArg() > 0) {
		return fmt.Errorf("%w: binary mode takes --binary FILE and no patterns", errUsage)
	}
	if o.Mode != vuln.ModeBinary && o.Binary != "" {
		return fmt.Errorf("%w: --binary needs --mode binary", errUsage)
	}
	o.Patterns = fs.Args()
	if o.VEX != "" && !filepath.IsAbs(o.VEX) {
		o.VEX = filepath.Join(o.Dir, o.VEX)
	}
	db, err := vulnDB(ctx, o.Dir, dbURL, cacheDir)
	if err != nil {
		return err
	}
	o.DB, o.Progress = db, a.stderr
	if !fresh {
		o.ResultCache = vuln.ResultCacheDir(cacheDir)
	}
	r, err := vuln.Scan(ctx, o)
	if errors.Is(err, vuln.ErrVEX) {
		return fmt.Errorf("%w: %v", errDeny, err)
	}
	if err != nil {
		return err
	}
	if err := writeReport(a, outFile, func(w io.Writer) error { return r.Write(w, format) }, r.WriteText); err != nil {
		return err
	}
	if predicateFile != "" {
		raw, err := r.Predicate()
		if err != nil {
			return err
		}
		if err := os.WriteFile(predicateFile, raw, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", predicateFile, err)
		}
	}
	if n := len(r.Findings); n > 0 {
		ids := make([]string, 0, n)
		for _, f := range r.Findings {
			ids = append(ids, f.ID+" in "+f.Target)
		}
		return fmt.Errorf("%w: %d unwaived called vulnerabilities (database of %s): %s", errDeny, n,
			r.DB.Modified.Format("2006-01-02"), strings.Join(ids, ", "))
	}
	return nil
}

// vulnDB opens the live database at url, or prepares the snapshot the module at root pins.
func vulnDB(ctx context.Context, root, url, cacheDir string) (*vuln.DB, error) {
	if url != "" {
		return vuln.OpenDB(ctx, url)
	}
	if cacheDir == "" {
		var err error
		if cacheDir, err = vuln.DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	s, err := vuln.PinnedSnapshot(ctx, root)
	if err != nil {
		return nil, err
	}
	return vuln.BuildDB(s, cacheDir)
}
