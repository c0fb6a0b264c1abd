package dockerfile

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustParse(tb testing.TB, src string) *File {
	tb.Helper()
	f, err := Parse([]byte(src))
	if err != nil {
		tb.Fatalf("Parse: %v\n%s", err, src)
	}
	return f
}

func TestParseInstructions(t *testing.T) {
	src := "# syntax=docker/dockerfile:1.7\n" + // 1
		"\n" + // 2
		"# a comment\n" + // 3
		"ARG GO_VERSION=1.26 TOKEN\n" + // 4
		"FROM --platform=$BUILDPLATFORM golang:1.26@sha256:" + strings.Repeat("a", 64) + " AS Build\n" + // 5
		"ENV CGO_ENABLED=0 \\\n" + // 6
		"    GOFLAGS=\"-mod=readonly -buildvcs=false\"\n" + // 7
		"RUN --mount=type=cache,target=/root/.cache/go-build \\\n" + // 8
		"    # a comment inside the continuation\n" + // 9
		"    go build -trimpath -o /out/app ./cmd/app\n" + // 10
		"FROM scratch\n" + // 11
		"COPY --from=build /out/app /app\n" + // 12
		"ENV LEGACY some value\n" + // 13
		"USER 65532:65532\n" + // 14
		"HEALTHCHECK --interval=30s CMD [\"/app\", \"healthcheck\"]\n" + // 15
		"ENTRYPOINT [\"/app\"]\n" // 16
	f := mustParse(t, src)
	if f.Directives["syntax"] != "docker/dockerfile:1.7" {
		t.Errorf("directives = %v", f.Directives)
	}
	type want struct {
		cmd         string
		line, end   int
		stage       int
		args        []string
		json        bool
		flags       []Flag
		vars        []KeyValue
		checkVars   bool
		checkFlags  bool
		description string
	}
	wants := []want{
		{cmd: "arg", line: 4, end: 4, stage: -1, args: []string{"GO_VERSION=1.26", "TOKEN"}, checkVars: true,
			vars: []KeyValue{{"GO_VERSION", "1.26", true}, {"TOKEN", "", false}}},
		{cmd: "from", line: 5, end: 5, stage: 0, args: []string{"golang:1.26@sha256:" + strings.Repeat("a", 64), "AS", "Build"},
			checkFlags: true, flags: []Flag{{"platform", "$BUILDPLATFORM", true}}},
		{cmd: "env", line: 6, end: 7, stage: 0, args: []string{"CGO_ENABLED=0", "GOFLAGS=-mod=readonly -buildvcs=false"}, checkVars: true,
			vars: []KeyValue{{"CGO_ENABLED", "0", true}, {"GOFLAGS", "-mod=readonly -buildvcs=false", true}}},
		{cmd: "run", line: 8, end: 10, stage: 0, args: []string{"go build -trimpath -o /out/app ./cmd/app"},
			checkFlags: true, flags: []Flag{{"mount", "type=cache,target=/root/.cache/go-build", true}}},
		{cmd: "from", line: 11, end: 11, stage: 1, args: []string{"scratch"}},
		{cmd: "copy", line: 12, end: 12, stage: 1, args: []string{"/out/app", "/app"}, checkFlags: true, flags: []Flag{{"from", "build", true}}},
		{cmd: "env", line: 13, end: 13, stage: 1, args: []string{"LEGACY", "some", "value"}, checkVars: true, vars: []KeyValue{{"LEGACY", "some value", true}}},
		{cmd: "user", line: 14, end: 14, stage: 1, args: []string{"65532:65532"}},
		{cmd: "healthcheck", line: 15, end: 15, stage: 1, args: []string{"CMD", "/app", "healthcheck"}, json: true},
		{cmd: "entrypoint", line: 16, end: 16, stage: 1, args: []string{"/app"}, json: true},
	}
	if len(f.Instructions) != len(wants) {
		t.Fatalf("got %d instructions, want %d: %+v", len(f.Instructions), len(wants), f.Instructions)
	}
	for i, w := range wants {
		got := f.Instructions[i]
		if got.Cmd != w.cmd || got.Line != w.line || got.EndLine != w.end || got.Stage != w.stage || got.JSON != w.json {
			t.Errorf("#%d: got %s lines %d-%d stage %d json %v; want %s lines %d-%d stage %d json %v",
				i, got.Cmd, got.Line, got.EndLine, got.Stage, got.JSON, w.cmd, w.line, w.end, w.stage, w.json)
		}
		if (len(got.Args) != 0 || len(w.args) != 0) && !reflect.DeepEqual(got.Args, w.args) {
			t.Errorf("#%d %s: args %q, want %q", i, got.Cmd, got.Args, w.args)
		}
		if w.checkVars && !reflect.DeepEqual(got.Vars, w.vars) {
			t.Errorf("#%d %s: vars %+v, want %+v", i, got.Cmd, got.Vars, w.vars)
		}
		if w.checkFlags && !reflect.DeepEqual(got.Flags, w.flags) {
			t.Errorf("#%d %s: flags %+v, want %+v", i, got.Cmd, got.Flags, w.flags)
		}
	}
	wantStages := []Stage{
		{Index: 0, Image: "golang:1.26@sha256:" + strings.Repeat("a", 64), Name: "build", Platform: "$BUILDPLATFORM", Line: 5},
		{Index: 1, Image: "scratch", Line: 11},
	}
	if !reflect.DeepEqual(f.Stages, wantStages) {
		t.Errorf("stages %+v, want %+v", f.Stages, wantStages)
	}
	if f.FinalStage() != 1 || len(f.InStage(1)) != 6 {
		t.Errorf("final stage %d with %d instructions", f.FinalStage(), len(f.InStage(1)))
	}
	if s, ok := f.StageByName("BUILD"); !ok || s.Index != 0 {
		t.Errorf("StageByName(BUILD) = %+v, %v", s, ok)
	}
}

func TestParseForms(t *testing.T) {
	tests := []struct {
		name string
		src  string
		cmd  string
		args []string
		json bool
	}{
		{"shell form kept whole", "RUN apt-get update && apt-get install -y curl", "run", []string{"apt-get update && apt-get install -y curl"}, false},
		{"exec form", `CMD ["a", "b c"]`, "cmd", []string{"a", "b c"}, true},
		{"broken JSON is shell form", `CMD ["a", `, "cmd", []string{`["a",`}, false},
		{"lower-case keyword", "user nobody", "user", []string{"nobody"}, false},
		{"quoted words", `COPY "a b" 'c d' /dst/`, "copy", []string{"a b", "c d", "/dst/"}, false},
		{"ADD exec form", `ADD ["https://example.com/x", "/x"]`, "add", []string{"https://example.com/x", "/x"}, true},
		{"healthcheck none", "HEALTHCHECK NONE", "healthcheck", []string{"NONE"}, false},
		{"healthcheck shell", "HEALTHCHECK CMD /app healthcheck", "healthcheck", []string{"CMD", "/app healthcheck"}, false},
		{"escaped escape is no continuation", "RUN echo a\\\\\nUSER 1", "run", []string{"echo a\\\\"}, false},
		{"CRLF", "USER 1:2\r\n", "user", []string{"1:2"}, false},
		{"continuation at EOF", "RUN echo \\", "run", []string{"echo"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.src)
			if len(f.Instructions) == 0 {
				t.Fatal("no instruction")
			}
			got := f.Instructions[0]
			if got.Cmd != tt.cmd || got.JSON != tt.json || !reflect.DeepEqual(got.Args, tt.args) {
				t.Errorf("got %s %q json=%v, want %s %q json=%v", got.Cmd, got.Args, got.JSON, tt.cmd, tt.args, tt.json)
			}
		})
	}
}

func TestParseEscapeDirective(t *testing.T) {
	f := mustParse(t, "# escape=`\nFROM scratch\nRUN dir c:\\ `\n  && echo ok\n")
	if len(f.Instructions) != 2 {
		t.Fatalf("instructions: %+v", f.Instructions)
	}
	run := f.Instructions[1]
	if run.Args[0] != `dir c:\   && echo ok` || run.Line != 3 || run.EndLine != 4 {
		t.Errorf("run = %q lines %d-%d", run.Args[0], run.Line, run.EndLine)
	}
}

func TestParseHeredoc(t *testing.T) {
	src := "FROM scratch\nRUN <<EOF bash\napt-get install -y curl\nEOF\nUSER 1\nCOPY <<-\"CONF\" /etc/x\n\tkey=value\n\tCONF\n"
	f := mustParse(t, src)
	if len(f.Instructions) != 4 {
		t.Fatalf("instructions: %+v", f.Instructions)
	}
	run := f.Instructions[1]
	if len(run.Heredocs) != 1 || run.Heredocs[0].Name != "EOF" || run.Heredocs[0].Body != "apt-get install -y curl" || run.EndLine != 4 {
		t.Errorf("run heredocs %+v end %d", run.Heredocs, run.EndLine)
	}
	if u := f.Instructions[2]; u.Cmd != "user" || u.Line != 5 {
		t.Errorf("after heredoc: %+v", u)
	}
	cp := f.Instructions[3]
	if len(cp.Heredocs) != 1 || cp.Heredocs[0].Body != "key=value" {
		t.Errorf("copy heredocs %+v", cp.Heredocs)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
	}{
		{"unknown instruction", "FROM scratch\nFORM x\n", 2},
		{"FROM without image", "FROM\n", 1},
		{"FROM with junk", "FROM a b c d\n", 1},
		{"ENV without value", "FROM a\nENV A=1 B\n", 2},
		{"bad escape directive", "# escape=x\nFROM a\n", 1},
		{"unclosed heredoc", "FROM a\nRUN <<EOF\necho\n", 2},
		{"healthcheck without CMD", "HEALTHCHECK /bin/true\n", 1},
		{"USER without argument", "FROM a\nUSER\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if pe.Line != tt.line {
				t.Errorf("line %d, want %d (%v)", pe.Line, tt.line, err)
			}
		})
	}
	if _, err := Parse(make([]byte, MaxBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized input: %v", err)
	}
	if _, err := Parse([]byte(strings.Repeat("USER 1\n", MaxInstructions+1))); err == nil {
		t.Error("too many instructions accepted")
	}
}

// checkInvariants holds for every successful parse.
func checkInvariants(tb testing.TB, src []byte, f *File) {
	tb.Helper()
	lines := strings.Count(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n") + 1
	prevEnd, stages := 0, 0
	for _, ins := range f.Instructions {
		if ins.Cmd == "" || ins.Cmd != strings.ToLower(ins.Cmd) || !known[ins.Cmd] {
			tb.Fatalf("bad cmd %q", ins.Cmd)
		}
		if ins.Line < 1 || ins.Line > ins.EndLine || ins.EndLine > lines || ins.Line <= prevEnd {
			tb.Fatalf("bad lines %d-%d (previous end %d, %d lines)", ins.Line, ins.EndLine, prevEnd, lines)
		}
		prevEnd = ins.EndLine
		if ins.Cmd == "from" {
			stages++
		}
		if ins.Stage != stages-1 {
			tb.Fatalf("stage %d after %d FROMs", ins.Stage, stages)
		}
	}
	if len(f.Stages) != stages {
		tb.Fatalf("%d stages, %d FROMs", len(f.Stages), stages)
	}
	if _, err := json.Marshal(f); err != nil {
		tb.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"FROM golang:1.26@sha256:" + strings.Repeat("0", 64) + " AS build\nRUN go build -trimpath ./...\nFROM scratch\nCOPY --from=build /a /a\nUSER 65532:65532\n",
		"# escape=`\nFROM a\nRUN x `\n y\n",
		"FROM a\nRUN <<EOF\nx\nEOF\n",
		"FROM a\nRUN <<-EOF\n\tx\n\tEOF\n",
		"ENV A=1 B=\"2 3\" C='4'\nENV D e f\n",
		"ARG X\nARG Y=1 Z\n",
		"ADD [\"http://a/b\", \"/c\"]\n",
		"HEALTHCHECK --interval=1s CMD [\"/x\"]\nHEALTHCHECK NONE\n",
		"RUN a \\\n\n# c\n b\n",
		"FROM a\r\nUSER 0\r\n",
		"\ufeffFROM a\n",
		"",
		"\\",
		"RUN \"unterminated",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		checkInvariants(t, data, file)
	})
}
