package tests

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestControlsToolsArePinned is evidence for C-DEPS-PINNED (the Go half; the Dockerfile and
// workflow halves are the policy checks): every tool the Makefile, scripts, CI entry point and
// workflows run with `go tool` is a tool directive in go.mod whose module version has a go.sum
// hash, and none of them fetches code at run time (go install/run/get of a remote version,
// @latest, or a downloaded script piped into a shell).
func TestControlsToolsArePinned(t *testing.T) {
	root := repoRoot(t)
	mod := readGoMod(t, filepath.Join(root, "go.mod"))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if len(mod.tools) == 0 {
		t.Fatal("C-DEPS-PINNED go.mod has no tool directives")
	}
	byName := map[string]string{}
	for _, tool := range mod.tools {
		byName[tool[strings.LastIndex(tool, "/")+1:]] = tool
		m, v := mod.moduleOf(tool)
		if m == "" {
			t.Errorf("C-DEPS-PINNED tool %s: no require line provides it", tool)
			continue
		}
		if !strings.Contains(string(sum), "\n"+m+" "+v+" h1:") && !strings.HasPrefix(string(sum), m+" "+v+" h1:") {
			t.Errorf("C-DEPS-PINNED tool %s: go.sum has no hash for %s %s", tool, m, v)
		}
	}

	files := []string{"Makefile", ".ci/run", "Dockerfile"}
	for _, glob := range []string{"scripts/*", ".github/workflows/*.yml", ".github/workflows/*.yaml"} {
		m, _ := filepath.Glob(filepath.Join(root, glob))
		for _, p := range m {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
	}
	goTool := regexp.MustCompile(`(?:\bgo|\$\(GO\)|\$\{GO\}|\$GO)\s+tool\s+(?:-n\s+)?([A-Za-z0-9_.-]+)`)
	fetch := []*regexp.Regexp{
		regexp.MustCompile(`\bgo\s+(?:install|run)\s+[^\s|;&]*@`),
		regexp.MustCompile(`\bgo\s+get\b`),
		regexp.MustCompile(`@latest\b`),
		regexp.MustCompile(`\b(?:curl|wget)\b[^|\n]*\|\s*(?:sudo\s+)?(?:ba|z)?sh\b`),
	}
	used := 0
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range goTool.FindAllStringSubmatch(line, -1) {
				used++
				if _, ok := byName[m[1]]; !ok {
					t.Errorf("C-DEPS-PINNED %s:%d runs `go tool %s`, which is not a tool directive in go.mod", f, i+1, m[1])
				}
			}
			for _, re := range fetch {
				if re.MatchString(line) {
					t.Errorf("C-DEPS-PINNED %s:%d fetches code at run time: %s", f, i+1, strings.TrimSpace(line))
				}
			}
		}
	}
	if used == 0 {
		t.Fatal("no `go tool` use found: the scan reads the wrong files")
	}
}

type goMod struct {
	requires map[string]string // module path -> version
	tools    []string
}

// moduleOf returns the required module that provides pkg (the longest matching path).
func (g goMod) moduleOf(pkg string) (string, string) {
	best := ""
	for m := range g.requires {
		if (pkg == m || strings.HasPrefix(pkg, m+"/")) && len(m) > len(best) {
			best = m
		}
	}
	return best, g.requires[best]
}

func readGoMod(tb testing.TB, path string) goMod {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	g := goMod{requires: map[string]string{}}
	block := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
		case fields[len(fields)-1] == "(":
			block = fields[0]
		case line == ")":
			block = ""
		case block == "require" && len(fields) >= 2:
			g.requires[fields[0]] = fields[1]
		case block == "tool":
			g.tools = append(g.tools, fields[0])
		case fields[0] == "require" && len(fields) >= 3:
			g.requires[fields[1]] = fields[2]
		case fields[0] == "tool" && len(fields) == 2:
			g.tools = append(g.tools, fields[1])
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return g
}
