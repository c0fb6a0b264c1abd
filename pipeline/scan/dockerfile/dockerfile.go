// Package dockerfile parses a Dockerfile into instructions with their line numbers, so that
// policy (policy/repo/dockerfile) can judge it without a container engine. It follows the
// Dockerfile reference: parser directives (escape), comments, line continuations, exec (JSON)
// and shell forms, flags (--from, --mount, …), ENV/ARG/LABEL key=value pairs and heredocs. It
// does not expand variables: a policy sees what the author wrote.
//
// The input is untrusted (any pull request can change it): Parse bounds its size and the number
// of instructions, never panics (FuzzParse), and reports errors with the line they are on.
package dockerfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Limits on the input.
const (
	MaxBytes        = 1 << 20 // larger files are refused
	MaxInstructions = 10000
)

// File is a parsed Dockerfile.
type File struct {
	Directives   map[string]string `json:"directives"` // parser directives (syntax, escape, check), lower-case names
	Instructions []Instruction     `json:"instructions"`
	Stages       []Stage           `json:"stages"`
}

// Instruction is one instruction, continuation lines joined.
type Instruction struct {
	Cmd      string     `json:"cmd"`                // lower-case: from, run, copy, …
	Flags    []Flag     `json:"flags"`              // leading --name[=value] options
	Args     []string   `json:"args"`               // see Parse for what each instruction holds
	JSON     bool       `json:"json"`               // exec (JSON array) form
	Vars     []KeyValue `json:"vars,omitempty"`     // ENV, ARG and LABEL pairs
	Heredocs []Heredoc  `json:"heredocs,omitempty"` // RUN/COPY/ADD <<EOF bodies
	Stage    int        `json:"stage"`              // index of the FROM it belongs to; -1 before the first FROM
	Line     int        `json:"line"`               // first line (1-based)
	EndLine  int        `json:"end_line"`           // last line, continuations and heredocs included
	Original string     `json:"original"`           // the instruction as written, continuations joined
}

// Flag is a --name[=value] option of an instruction.
type Flag struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	HasValue bool   `json:"has_value"`
}

// KeyValue is a variable or label; HasValue is false for ARG NAME without a default.
type KeyValue struct {
	Key      string `json:"key"`
	Value    string `json:"value"`
	HasValue bool   `json:"has_value"`
}

// Heredoc is the body of a <<NAME here-document.
type Heredoc struct {
	Name string `json:"name"`
	Body string `json:"body"`
}

// Stage is one FROM and what it names.
type Stage struct {
	Index    int    `json:"index"`
	Image    string `json:"image"`          // as written, e.g. golang:1.26@sha256:…, scratch, or an earlier stage
	Name     string `json:"name,omitempty"` // the AS name, lower-case
	Platform string `json:"platform,omitempty"`
	Line     int    `json:"line"`
}

// Error is a syntax error at a line.
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ErrTooLarge is returned for input over MaxBytes.
var ErrTooLarge = errors.New("dockerfile: larger than 1 MiB")

// known lists the instructions of the Dockerfile reference.
var known = map[string]bool{
	"add": true, "arg": true, "cmd": true, "copy": true, "entrypoint": true, "env": true,
	"expose": true, "from": true, "healthcheck": true, "label": true, "maintainer": true,
	"onbuild": true, "run": true, "shell": true, "stopsignal": true, "user": true,
	"volume": true, "workdir": true,
}

// withFlags lists the instructions that take --flags.
var withFlags = map[string]bool{"from": true, "run": true, "copy": true, "add": true, "healthcheck": true}

// execForm lists the instructions that accept a JSON array.
var execForm = map[string]bool{"run": true, "cmd": true, "entrypoint": true, "shell": true, "volume": true, "copy": true, "add": true}

var directiveRE = regexp.MustCompile(`^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$`)

// Parse parses a Dockerfile. What Args holds depends on the instruction:
//   - RUN, CMD, ENTRYPOINT in shell form: one element, the command line as written;
//     in exec form (JSON true): the array's elements.
//   - HEALTHCHECK: ["NONE"], or "CMD" followed by the command as for RUN.
//   - ENV, ARG, LABEL: the words; Vars holds the parsed pairs.
//   - everything else (FROM, USER, COPY, ADD, …): the words, quotes removed.
func Parse(src []byte) (*File, error) {
	if len(src) > MaxBytes {
		return nil, ErrTooLarge
	}
	text := strings.ReplaceAll(string(src), "\r\n", "\n")
	text = strings.TrimPrefix(text, "\ufeff")
	lines := strings.Split(text, "\n")
	f := &File{Directives: map[string]string{}, Instructions: []Instruction{}, Stages: []Stage{}}
	escape := byte('\\')
	i := 0
	// Parser directives: only at the very top, before any comment, blank line or instruction.
	for ; i < len(lines); i++ {
		m := directiveRE.FindStringSubmatch(lines[i])
		if m == nil {
			break
		}
		name := strings.ToLower(m[1])
		if _, dup := f.Directives[name]; dup {
			break // a repeated directive is a plain comment
		}
		f.Directives[name] = m[2]
		if name == "escape" {
			switch m[2] {
			case "\\":
				escape = '\\'
			case "`":
				escape = '`'
			default:
				return nil, &Error{Line: i + 1, Msg: fmt.Sprintf("invalid escape directive %q (want \\ or `)", m[2])}
			}
		}
	}
	stage := -1
	for i < len(lines) {
		trimmed := strings.TrimSpace(lines[i])
		if trimmed == "" || trimmed[0] == '#' {
			i++
			continue
		}
		if len(f.Instructions) >= MaxInstructions {
			return nil, &Error{Line: i + 1, Msg: fmt.Sprintf("more than %d instructions", MaxInstructions)}
		}
		start := i
		logical, next := joinContinuations(lines, i, escape)
		ins, err := parseInstruction(logical, escape)
		if err != nil {
			return nil, &Error{Line: start + 1, Msg: err.Error()}
		}
		ins.Line, ins.EndLine = start+1, next
		if ins.Cmd == "run" || ins.Cmd == "copy" || ins.Cmd == "add" {
			docs, after, err := readHeredocs(ins, lines, next)
			if err != nil {
				return nil, &Error{Line: start + 1, Msg: err.Error()}
			}
			ins.Heredocs, next = docs, after
			if after > ins.EndLine {
				ins.EndLine = after
			}
		}
		if ins.Cmd == "from" {
			stage++
			st := Stage{Index: stage, Image: ins.Args[0], Line: ins.Line}
			if len(ins.Args) == 3 && strings.EqualFold(ins.Args[1], "as") {
				st.Name = strings.ToLower(ins.Args[2])
			} else if len(ins.Args) != 1 {
				return nil, &Error{Line: start + 1, Msg: "FROM takes an image and an optional AS name"}
			}
			for _, fl := range ins.Flags {
				if fl.Name == "platform" {
					st.Platform = fl.Value
				}
			}
			f.Stages = append(f.Stages, st)
		}
		ins.Stage = stage
		f.Instructions = append(f.Instructions, ins)
		i = next
	}
	return f, nil
}

// joinContinuations joins the physical lines of one instruction starting at lines[i]. It returns
// the logical line and the index of the line after it. Comment lines and blank lines inside a
// continuation are dropped, as the builder does.
func joinContinuations(lines []string, i int, escape byte) (string, int) {
	var b strings.Builder
	for {
		line := lines[i]
		i++
		body := strings.TrimRight(line, " \t")
		if len(body) > 0 && body[len(body)-1] == escape && !escapedEscape(body, escape) {
			b.WriteString(body[:len(body)-1])
			// Skip comment and blank lines that sit inside the continuation.
			for i < len(lines) {
				t := strings.TrimSpace(lines[i])
				if t != "" && t[0] != '#' {
					break
				}
				i++
			}
			if i >= len(lines) {
				return b.String(), i
			}
			continue
		}
		b.WriteString(line)
		return b.String(), i
	}
}

// escapedEscape reports whether the final escape character is itself escaped (e.g. `\\`),
// which makes it a literal and not a continuation. The builder treats only an odd run of
// escape characters at the end as a continuation.
func escapedEscape(body string, escape byte) bool {
	n := 0
	for j := len(body) - 1; j >= 0 && body[j] == escape; j-- {
		n++
	}
	return n%2 == 0
}

func parseInstruction(logical string, escape byte) (Instruction, error) {
	s := strings.TrimSpace(logical)
	word, rest := cutWord(s)
	cmd := strings.ToLower(word)
	if !known[cmd] {
		return Instruction{}, fmt.Errorf("unknown instruction %q", word)
	}
	ins := Instruction{Cmd: cmd, Flags: []Flag{}, Args: []string{}, Original: s}
	if withFlags[cmd] {
		ins.Flags, rest = parseFlags(rest)
	}
	switch cmd {
	case "run", "cmd", "entrypoint":
		ins.Args, ins.JSON = commandArgs(rest)
	case "healthcheck":
		kind, after := cutWord(rest)
		switch strings.ToUpper(kind) {
		case "NONE":
			ins.Args = []string{"NONE"}
		case "CMD":
			args, isJSON := commandArgs(after)
			if len(args) == 0 {
				return ins, errors.New("HEALTHCHECK CMD needs a command")
			}
			ins.Args, ins.JSON = append([]string{"CMD"}, args...), isJSON
		default:
			return ins, errors.New("HEALTHCHECK takes NONE or CMD")
		}
	case "env", "label":
		kvs, words, err := parsePairs(rest, escape, cmd == "env")
		if err != nil {
			return ins, err
		}
		ins.Vars, ins.Args = kvs, words
	case "arg":
		words := splitWords(rest, escape)
		for _, w := range words {
			k, v, ok := strings.Cut(w, "=")
			if k == "" {
				return ins, errors.New("ARG needs a name")
			}
			ins.Vars = append(ins.Vars, KeyValue{Key: k, Value: v, HasValue: ok})
		}
		ins.Args = words
	default:
		if execForm[cmd] {
			if arr, ok := jsonArray(rest); ok {
				ins.Args, ins.JSON = arr, true
				break
			}
		}
		ins.Args = splitWords(rest, escape)
	}
	if needsArgs(cmd) && len(ins.Args) == 0 {
		return ins, fmt.Errorf("%s needs at least one argument", strings.ToUpper(cmd))
	}
	return ins, nil
}

func needsArgs(cmd string) bool {
	switch cmd {
	case "from", "user", "workdir", "copy", "add", "env", "arg", "label", "expose", "healthcheck", "onbuild", "stopsignal", "shell", "volume":
		return true
	}
	return false
}

// commandArgs reads the command of RUN, CMD, ENTRYPOINT or HEALTHCHECK CMD.
func commandArgs(rest string) ([]string, bool) {
	if arr, ok := jsonArray(rest); ok {
		return arr, true
	}
	if rest == "" {
		return []string{}, false
	}
	return []string{rest}, false
}

// jsonArray reads a JSON array of strings, the exec form.
func jsonArray(s string) ([]string, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") {
		return nil, false
	}
	var arr []string
	if err := json.Unmarshal([]byte(s), &arr); err != nil || arr == nil {
		return nil, false
	}
	return arr, true
}

// cutWord splits off the first whitespace-separated word.
func cutWord(s string) (string, string) {
	s = strings.TrimLeft(s, " \t")
	if j := strings.IndexAny(s, " \t"); j >= 0 {
		return s[:j], strings.TrimLeft(s[j:], " \t")
	}
	return s, ""
}

// parseFlags reads leading --name[=value] words.
func parseFlags(rest string) ([]Flag, string) {
	flags := []Flag{}
	for strings.HasPrefix(rest, "--") {
		word, after := cutWord(rest)
		if word == "--" {
			return flags, after
		}
		name, value, has := strings.Cut(word[2:], "=")
		flags = append(flags, Flag{Name: strings.ToLower(name), Value: value, HasValue: has})
		rest = after
	}
	return flags, rest
}

// parsePairs reads ENV or LABEL: key=value words, or for ENV the legacy "ENV key value".
func parsePairs(rest string, escape byte, legacy bool) ([]KeyValue, []string, error) {
	words := splitWords(rest, escape)
	if len(words) == 0 {
		return nil, words, errors.New("needs key=value pairs")
	}
	first, _ := cutWord(rest)
	if legacy && !strings.Contains(first, "=") {
		_, value := cutWord(rest)
		v := strings.Join(splitWords(value, escape), " ")
		return []KeyValue{{Key: words[0], Value: v, HasValue: true}}, words, nil
	}
	kvs := make([]KeyValue, 0, len(words))
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, words, fmt.Errorf("%q is not key=value", w)
		}
		kvs = append(kvs, KeyValue{Key: k, Value: v, HasValue: true})
	}
	return kvs, words, nil
}

// splitWords splits on unquoted blanks and removes quotes and escapes, as the builder's word
// processing does (without variable expansion).
func splitWords(s string, escape byte) []string {
	words := []string{}
	var b strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				b.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == escape && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == escape || s[i+1] == '$'):
				i++
				b.WriteByte(s[i])
			default:
				b.WriteByte(c)
			}
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == escape && i+1 < len(s):
			i++
			b.WriteByte(s[i])
			inWord = true
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, b.String())
	}
	return words
}

var heredocRE = regexp.MustCompile(`^<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)(["']?)$`)

// readHeredocs reads the bodies of the here-documents an instruction opens, from lines[next:].
func readHeredocs(ins Instruction, lines []string, next int) ([]Heredoc, int, error) {
	if ins.JSON {
		return nil, next, nil
	}
	var docs []Heredoc
	for _, w := range strings.Fields(ins.Original) {
		m := heredocRE.FindStringSubmatch(w)
		if m == nil || m[2] != m[4] {
			continue
		}
		strip, name := m[1] == "-", m[3]
		var body []string
		closed := false
		for next < len(lines) {
			l := lines[next]
			next++
			cmp := l
			if strip {
				cmp = strings.TrimLeft(l, "\t")
			}
			if cmp == name {
				closed = true
				break
			}
			if strip {
				l = strings.TrimLeft(l, "\t")
			}
			body = append(body, l)
		}
		if !closed {
			return nil, next, fmt.Errorf("here-document <<%s is not closed", name)
		}
		docs = append(docs, Heredoc{Name: name, Body: strings.Join(body, "\n")})
	}
	return docs, next, nil
}

// FinalStage returns the index of the last stage, or -1 when there is no FROM.
func (f *File) FinalStage() int { return len(f.Stages) - 1 }

// InStage returns the instructions of one stage, in order.
func (f *File) InStage(stage int) []Instruction {
	var out []Instruction
	for _, ins := range f.Instructions {
		if ins.Stage == stage {
			out = append(out, ins)
		}
	}
	return out
}

// StageByName returns the stage with the AS name (case-insensitive).
func (f *File) StageByName(name string) (Stage, bool) {
	for _, s := range f.Stages {
		if s.Name != "" && s.Name == strings.ToLower(name) {
			return s, true
		}
	}
	return Stage{}, false
}
