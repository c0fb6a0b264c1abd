package controls

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/tester"
)

// regoResults maps "package.rule" (package without "data.") to pass, fail or skip, and a
// package to the error that kept its tests from running.
type regoResults struct {
	tests   map[string]string
	details map[string]string
	pkgErr  map[string]string
	dirs    map[string]string // package -> directory it was found in
	elapsed time.Duration
}

var packageLine = regexp.MustCompile(`(?m)^package\s+([A-Za-z0-9_.]+)`)

// policyPackages maps every Rego package under root to the directory that declares it.
func policyPackages(root string) (map[string]string, error) {
	out := map[string]string{}
	fsys := os.DirFS(root)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".rego") {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if m := packageLine.FindSubmatch(b); m != nil {
			if _, ok := out[string(m[1])]; !ok {
				out[string(m[1])] = filepath.Join(root, filepath.FromSlash(path.Dir(p)))
			}
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	return out, err
}

// runRegoTests runs, in-process with OPA's tester, the tests of every directory that declares
// one of pkgs, each directory with the data directories beside it (as `opa test DIR DATA…`).
func runRegoTests(ctx context.Context, policyRoot string, data []string, pkgs []string) (*regoResults, error) {
	res := &regoResults{tests: map[string]string{}, details: map[string]string{}, pkgErr: map[string]string{}}
	if len(pkgs) == 0 {
		return res, nil
	}
	start := time.Now()
	defer func() { res.elapsed = time.Since(start) }()
	dirs, err := policyPackages(policyRoot)
	if err != nil {
		return nil, fmt.Errorf("find policies: %w", err)
	}
	res.dirs = dirs
	byDir := map[string][]string{}
	for _, p := range pkgs {
		d, ok := dirs[p]
		if !ok {
			res.pkgErr[p] = fmt.Sprintf("no Rego file under %s declares package %s", policyRoot, p)
			continue
		}
		byDir[d] = append(byDir[d], p)
	}
	keys := make([]string, 0, len(byDir))
	for d := range byDir {
		keys = append(keys, d)
	}
	sort.Strings(keys)
	for _, d := range keys {
		args := append([]string{d}, data...)
		modules, store, err := tester.Load(args, func(_ string, info fs.FileInfo, _ int) bool {
			// Only policies and JSON data: a YAML or Go file beside a policy is not data.
			return !info.IsDir() && !strings.HasSuffix(info.Name(), ".rego") && !strings.HasSuffix(info.Name(), ".json")
		})
		if err != nil {
			for _, p := range byDir[d] {
				res.pkgErr[p] = "load " + d + ": " + oneLine(err.Error())
			}
			continue
		}
		ch, err := tester.NewRunner().SetStore(store).CapturePrintOutput(true).Run(ctx, modules)
		if err != nil {
			for _, p := range byDir[d] {
				res.pkgErr[p] = "compile " + d + ": " + oneLine(err.Error())
			}
			continue
		}
		for r := range ch {
			key := strings.TrimPrefix(r.Package, "data.") + "." + r.Name
			switch {
			case r.Skip:
				res.tests[key] = "skip"
			case r.Error != nil:
				res.tests[key] = "fail"
				res.details[key] = oneLine(r.Error.Error())
			case r.Fail:
				res.tests[key] = "fail"
				if r.FailedAt != nil {
					res.details[key] = "failed at " + oneLine(r.FailedAt.String())
				}
			default:
				res.tests[key] = "pass"
			}
		}
	}
	return res, nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
