package tests

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/secure-movie-service/sms/pipeline/build"
	"github.com/secure-movie-service/sms/pipeline/scan/dockerfile"
)

// goBuildValueFlags are the go build flags that take a value.
var goBuildValueFlags = map[string]bool{
	"o": true, "ldflags": true, "gcflags": true, "asmflags": true, "gccgoflags": true, "tags": true,
	"mod": true, "modfile": true, "p": true, "buildmode": true, "compiler": true, "installsuffix": true,
	"overlay": true, "pgo": true, "pkgdir": true, "toolexec": true, "covermode": true, "coverpkg": true,
}

// goBuildFlags parses the arguments after "go build" into flag → value ("" for a boolean),
// leaving out -o (where the binary goes differs by design), and returns the packages.
func goBuildFlags(tb testing.TB, args []string) (map[string]string, []string) {
	tb.Helper()
	flags := map[string]string{}
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if goBuildValueFlags[name] && !hasValue {
			if i+1 >= len(args) {
				tb.Fatalf("go build flag -%s without a value", name)
			}
			i++
			value = args[i]
		}
		if _, dup := flags[name]; dup {
			tb.Fatalf("go build flag -%s given twice", name)
		}
		if name != "o" {
			flags[name] = value
		}
	}
	return flags, args[i:]
}

// shellCommands splits a shell command line into simple commands (at &&, ||, ; and |) of
// words, quotes removed. It is enough for the build line of a Dockerfile.
func shellCommands(s string) [][]string {
	var cmds [][]string
	var words []string
	var b strings.Builder
	inWord := false
	var quote byte
	flush := func() {
		if inWord {
			words = append(words, b.String())
			b.Reset()
			inWord = false
		}
	}
	end := func() {
		flush()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				b.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			flush()
		case c == ';' || c == '|' || c == '&':
			end()
			if i+1 < len(s) && (s[i+1] == '&' || s[i+1] == '|') {
				i++
			}
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	end()
	return cmds
}

// dockerBuild is what the Dockerfile's build stage does to compile the shipped binary.
type dockerBuild struct {
	flags    map[string]string
	packages []string
	env      map[string]string
	final    []dockerfile.Instruction
}

func parseRepoDockerfile(tb testing.TB) dockerBuild {
	tb.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot(tb), "Dockerfile"))
	if err != nil {
		tb.Fatal(err)
	}
	f, err := dockerfile.Parse(src)
	if err != nil {
		tb.Fatalf("parse Dockerfile: %v", err)
	}
	final := f.InStage(f.FinalStage())
	// The binary in the final stage comes from a builder stage by COPY --from.
	from := ""
	for _, ins := range final {
		if ins.Cmd != "copy" {
			continue
		}
		for _, fl := range ins.Flags {
			if fl.Name == "from" {
				from = fl.Value
			}
		}
	}
	stage, ok := f.StageByName(from)
	if !ok {
		tb.Fatalf("the final stage copies from %q, which is no stage of the Dockerfile", from)
	}
	d := dockerBuild{env: map[string]string{}, final: final}
	builds := 0
	for _, ins := range f.InStage(stage.Index) {
		switch ins.Cmd {
		case "env":
			for _, kv := range ins.Vars {
				d.env[kv.Key] = kv.Value
			}
		case "run":
			cmds := [][]string{ins.Args}
			if !ins.JSON {
				cmds = shellCommands(strings.Join(ins.Args, " "))
			}
			for _, words := range cmds {
				// VAR=value prefixes apply to this command only.
				local := map[string]string{}
				for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
					k, v, _ := strings.Cut(words[0], "=")
					local[k] = v
					words = words[1:]
				}
				if len(words) >= 2 && words[0] == "go" && words[1] == "build" {
					builds++
					d.flags, d.packages = goBuildFlags(tb, words[2:])
					for k, v := range local {
						d.env[k] = v
					}
				}
			}
		}
	}
	if builds != 1 {
		tb.Fatalf("the %q stage runs go build %d times, want once", from, builds)
	}
	return d
}

// TestDockerfileBuildMatchesPipelineBuild: the Dockerfile compiles the service with the flags
// and the pinned environment of `pipeline build` (build.Flags, build.Env), both parsed, so the
// two ways of building the image cannot drift apart.
func TestDockerfileBuildMatchesPipelineBuild(t *testing.T) {
	d := parseRepoDockerfile(t)

	cmd := build.Command("./cmd/movies", "/out/movies")
	if len(cmd) < 2 || cmd[0] != "go" || cmd[1] != "build" {
		t.Fatalf("pipeline build command %q is not go build", cmd)
	}
	wantFlags, wantPkgs := goBuildFlags(t, cmd[2:])
	if len(wantFlags) != len(build.Flags) {
		t.Fatalf("build.Command %q does not carry build.Flags %q", cmd, build.Flags)
	}
	t.Run("go build flags", func(t *testing.T) {
		if !reflect.DeepEqual(d.flags, wantFlags) {
			t.Errorf("Dockerfile go build flags %v, pipeline build %v", d.flags, wantFlags)
		}
		if _, ok := d.flags["trimpath"]; !ok {
			t.Error("no -trimpath")
		}
		if d.flags["ldflags"] != "-buildid=" {
			t.Errorf("-ldflags %q, want -buildid=", d.flags["ldflags"])
		}
	})
	t.Run("package", func(t *testing.T) {
		if !reflect.DeepEqual(d.packages, wantPkgs) {
			t.Errorf("Dockerfile builds %q, pipeline builds %q", d.packages, wantPkgs)
		}
	})
	t.Run("environment", func(t *testing.T) {
		for _, kv := range build.Env("linux", "amd64") {
			k, v, _ := strings.Cut(kv, "=")
			got, ok := d.env[k]
			switch {
			case !ok:
				t.Errorf("%s is not set in the build stage (pipeline build sets %s)", k, kv)
			case k == "GOOS" || k == "GOARCH":
				if got == "" {
					t.Errorf("%s is empty", k)
				}
			case got != v:
				t.Errorf("%s=%s in the Dockerfile, %s in pipeline build", k, got, kv)
			}
		}
		if d.env["CGO_ENABLED"] != "0" {
			t.Errorf("CGO_ENABLED=%q", d.env["CGO_ENABLED"])
		}
	})
}

// TestDockerfileFinalStageMatchesPipelineImage: the shipped stage is scratch with the binary
// alone, run as build.User, with the binary as entrypoint and its own healthcheck.
func TestDockerfileFinalStageMatchesPipelineImage(t *testing.T) {
	d := parseRepoDockerfile(t)
	var user, entrypoint, health []string
	copies := 0
	for _, ins := range d.final {
		switch ins.Cmd {
		case "from":
			if ins.Args[0] != "scratch" {
				t.Errorf("final stage FROM %s, want scratch", ins.Args[0])
			}
		case "copy", "add":
			copies++
			if ins.Cmd != "copy" || len(ins.Args) != 2 || ins.Args[1] != "/movies" {
				t.Errorf("line %d: the final stage may only COPY the binary to /movies: %s", ins.Line, ins.Original)
			}
		case "run":
			t.Errorf("line %d: RUN in the final stage: %s", ins.Line, ins.Original)
		case "user":
			user = ins.Args
		case "entrypoint":
			if !ins.JSON {
				t.Errorf("line %d: ENTRYPOINT in shell form needs a shell", ins.Line)
			}
			entrypoint = ins.Args
		case "healthcheck":
			if !ins.JSON {
				t.Errorf("line %d: HEALTHCHECK in shell form needs a shell", ins.Line)
			}
			health = ins.Args
		}
	}
	if copies != 1 {
		t.Errorf("%d files copied into the final stage, want the binary alone", copies)
	}
	if !reflect.DeepEqual(user, []string{build.User}) {
		t.Errorf("USER %q, want %s (pipeline build)", user, build.User)
	}
	if !reflect.DeepEqual(entrypoint, []string{"/movies"}) {
		t.Errorf("ENTRYPOINT %q", entrypoint)
	}
	if !reflect.DeepEqual(health, []string{"CMD", "/movies", "healthcheck"}) {
		t.Errorf("HEALTHCHECK %q, want CMD [\"/movies\", \"healthcheck\"]", health)
	}
}

func TestShellCommands(t *testing.T) {
	got := shellCommands(`CGO_ENABLED=0 go build -ldflags "-s -w" -o /x ./cmd && echo 'a b';ls | wc`)
	want := [][]string{{"CGO_ENABLED=0", "go", "build", "-ldflags", "-s -w", "-o", "/x", "./cmd"}, {"echo", "a b"}, {"ls"}, {"wc"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
	flags, pkgs := goBuildFlags(t, []string{"-trimpath", "--ldflags", "-buildid=", "-o=/x", "./cmd/movies"})
	if !reflect.DeepEqual(flags, map[string]string{"trimpath": "", "ldflags": "-buildid="}) || !reflect.DeepEqual(pkgs, []string{"./cmd/movies"}) {
		t.Errorf("flags %v packages %v", flags, pkgs)
	}
}
