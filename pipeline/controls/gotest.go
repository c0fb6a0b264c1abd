package controls

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"
)

// goEvent is one line of `go test -json` (test2json) output.
type goEvent struct {
	Action      string
	Package     string
	ImportPath  string // build-output and build-fail events
	Test        string
	Output      string
	FailedBuild string
}

// goPackage is what one `go test -json` run said about a package.
type goPackage struct {
	tests    map[string]string // test name (with subtests) -> pass, fail or skip
	result   string            // the package's own action: pass, fail, skip ("" if never reported)
	buildErr string            // build output when the package or its tests did not build
	listed   []string          // the package's tests, from `go test -list` (only where a named one did not run)
	output   map[string]*bytes.Buffer
}

// goResults holds every package of a run.
type goResults struct {
	pkgs    map[string]*goPackage
	elapsed time.Duration
	stderr  string
}

func (r *goResults) pkg(path string) *goPackage {
	p := r.pkgs[path]
	if p == nil {
		p = &goPackage{tests: map[string]string{}, output: map[string]*bytes.Buffer{}}
		r.pkgs[path] = p
	}
	return p
}

// testName matches a line of `go test -list`.
var testName = regexp.MustCompile(`^(Test|Fuzz|Example)[A-Za-z0-9_]*$`)

// maxOutput bounds the output kept per failing test.
const maxOutput = 8 << 10

// runGoTests runs, with one `go test -json`, the tests the evidence names (package → top-level
// test names; their subtests run with them) and collects each test's outcome. A package that
// does not exist or does not build is reported as such; err is only for a go command that
// could not run at all. Where a named test did not run, the package's tests are listed, so
// that a report can say which name was meant.
func runGoTests(ctx context.Context, gocmd, dir string, env, flags []string, tests map[string][]string) (*goResults, error) {
	res := &goResults{pkgs: map[string]*goPackage{}}
	if len(tests) == 0 {
		return res, nil
	}
	start := time.Now()
	// go test's own 10-minute timeout is too short for a loaded CI runner; the caller's
	// flags may set another.
	args := append([]string{"test", "-json", "-timeout=45m", "-run", runPattern(tests)}, flags...)
	stderr, err := goJSON(ctx, gocmd, dir, env, append(args, sortedKeys(tests)...), res)
	if err != nil {
		return nil, err
	}
	res.stderr = stderr
	if pkgs := res.lacking(tests); len(pkgs) > 0 {
		listed := &goResults{pkgs: map[string]*goPackage{}}
		if _, err := goJSON(ctx, gocmd, dir, env, append([]string{"test", "-json", "-list", "."}, pkgs...), listed); err != nil {
			return nil, err
		}
		for path, p := range listed.pkgs {
			res.pkg(path).listed = p.listed
		}
	}
	res.elapsed = time.Since(start)
	return res, nil
}

// runPattern is the -run pattern that matches exactly the named top-level tests.
func runPattern(tests map[string][]string) string {
	var names []string
	for _, ns := range tests {
		names = append(names, ns...)
	}
	slices.Sort(names)
	return "^(" + strings.Join(slices.Compact(names), "|") + ")$"
}

// lacking lists, sorted, the packages that built but did not run every test named for them.
func (r *goResults) lacking(tests map[string][]string) []string {
	var out []string
	for path, names := range tests {
		p := r.pkgs[path]
		if p != nil && p.buildErr != "" {
			continue
		}
		for _, n := range names {
			if p == nil || p.tests[n] == "" {
				out = append(out, path)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// goJSON runs the go command with args (a -json test run) in dir and parses its events into
// res; it returns the command's standard error.
func goJSON(ctx context.Context, gocmd, dir string, env, args []string, res *goResults) (string, error) {
	cmd := exec.CommandContext(ctx, gocmd, args...) // #nosec G204 -- go test over the packages the reviewed model names; no shell
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("go test: %w", err)
	}
	events, perr := parseGoEvents(out, res)
	werr := cmd.Wait()
	if perr != nil {
		return "", fmt.Errorf("go test -json output: %w", perr)
	}
	var exit *exec.ExitError
	if werr != nil && !errors.As(werr, &exit) {
		return "", fmt.Errorf("go test: %w", werr)
	}
	if werr != nil && events == 0 {
		// go test failed before it ran anything (bad flag, broken go.work, …).
		return "", fmt.Errorf("go test: %w: %s", werr, strings.TrimSpace(stderr.String()))
	}
	return stderr.String(), nil
}

func parseGoEvents(r io.Reader, res *goResults) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue // not JSON: a stray line from the go command
		}
		var e goEvent
		if err := json.Unmarshal(line, &e); err != nil {
			continue
		}
		n++
		switch e.Action {
		case "build-output":
			p := res.pkg(importPath(e.ImportPath))
			if len(p.buildErr) < maxOutput {
				p.buildErr += e.Output
			}
			continue
		case "build-fail":
			res.pkg(importPath(e.ImportPath))
			continue
		}
		if e.Package == "" {
			continue
		}
		p := res.pkg(e.Package)
		switch e.Action {
		case "pass", "fail", "skip":
			if e.Test == "" {
				p.result = e.Action
			} else {
				p.tests[e.Test] = e.Action
			}
		case "output":
			if name := strings.TrimSpace(e.Output); e.Test == "" && testName.MatchString(name) {
				p.listed = append(p.listed, name) // a line of `go test -list`
			}
			if e.Test != "" {
				b := p.output[e.Test]
				if b == nil {
					b = &bytes.Buffer{}
					p.output[e.Test] = b
				}
				if b.Len() < maxOutput {
					b.WriteString(e.Output)
				}
			}
		}
	}
	return n, sc.Err()
}

// importPath drops the " [pkg.test]" suffix go adds to the import path of a test build.
func importPath(s string) string {
	p, _, _ := strings.Cut(s, " ")
	return p
}

// outcome is the status of a test in a package, counting its subtests: fail if it or any
// subtest failed, skip if it or any subtest was skipped, pass otherwise. found is false when
// no such test ran.
func (p *goPackage) outcome(name string) (status, detail string, found bool) {
	st, ok := p.tests[name]
	if !ok {
		return "", "", false
	}
	status = st
	prefix := name + "/"
	var failed, skipped []string
	for t, s := range p.tests {
		if !strings.HasPrefix(t, prefix) {
			continue
		}
		switch s {
		case "fail":
			failed = append(failed, t)
		case "skip":
			skipped = append(skipped, t)
		}
	}
	switch {
	case status == "fail" || len(failed) > 0:
		status = "fail"
		detail = lastLines(p.output[name], 6)
		if len(failed) > 0 {
			detail = "failed subtests: " + strings.Join(sortedFirst(failed, 5), ", ")
		}
	case status == "skip" || len(skipped) > 0:
		status = "skip"
		detail = strings.TrimSpace(lastLines(p.output[name], 3))
		if len(skipped) > 0 {
			detail = "skipped subtests: " + strings.Join(sortedFirst(skipped, 5), ", ")
		}
	}
	return status, detail, true
}

func lastLines(b *bytes.Buffer, n int) string {
	if b == nil {
		return ""
	}
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, " | ")
}
