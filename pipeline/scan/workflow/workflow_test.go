package workflow

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustParse(tb testing.TB, src string) *Document {
	tb.Helper()
	d, err := Parse([]byte(src))
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return d
}

const sample = `name: ci
on:
  push:
    branches: [main]
permissions: {}
jobs:
  test:
    runs-on: ubuntu-24.04
    timeout-minutes: 30
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@0123456789abcdef0123456789abcdef01234567 # v6.0.2
        with:
          persist-credentials: false
      - name: test
        env:
          REF: ${{ github.head_ref }}
        run: |
          echo start
          echo "$REF"
`

func TestParseValuesLinesComments(t *testing.T) {
	d := mustParse(t, sample)
	want := map[string]any{
		"name":        "ci",
		"on":          map[string]any{"push": map[string]any{"branches": []any{"main"}}},
		"permissions": map[string]any{},
		"jobs": map[string]any{"test": map[string]any{
			"runs-on": "ubuntu-24.04", "timeout-minutes": int64(30),
			"permissions": map[string]any{"contents": "read"},
			"steps": []any{
				map[string]any{"uses": "actions/checkout@0123456789abcdef0123456789abcdef01234567", "with": map[string]any{"persist-credentials": false}},
				map[string]any{"name": "test", "env": map[string]any{"REF": "${{ github.head_ref }}"}, "run": "echo start\necho \"$REF\"\n"},
			},
		}},
	}
	if !reflect.DeepEqual(d.Value, want) {
		t.Errorf("value:\n%#v\nwant\n%#v", d.Value, want)
	}
	lines := map[string]int{
		"/on": 2, "/on/push/branches/0": 4, "/permissions": 5, "/jobs/test": 7,
		"/jobs/test/permissions": 10, "/jobs/test/steps/0": 13, "/jobs/test/steps/0/uses": 13,
		"/jobs/test/steps/1/run": 19,
	}
	for ptr, line := range lines {
		if d.Lines[ptr] != line {
			t.Errorf("Lines[%s] = %d, want %d", ptr, d.Lines[ptr], line)
		}
	}
	if got := d.ContentLines["/jobs/test/steps/1/run"]; got != 20 {
		t.Errorf("ContentLines[run] = %d, want 20", got)
	}
	if got := d.Comments["/jobs/test/steps/0/uses"]; got != "# v6.0.2" {
		t.Errorf("Comments[uses] = %q", got)
	}
}

func TestParseAliasesAndEscapes(t *testing.T) {
	d := mustParse(t, "a: &x {k: 1}\nb: *x\n\"c/d~e\": 2\non: yes\nf: 1.5\ng: null\nh: .nan\n")
	m := d.Value.(map[string]any)
	if !reflect.DeepEqual(m["b"], map[string]any{"k": int64(1)}) {
		t.Errorf("alias: %#v", m["b"])
	}
	if d.Lines["/b"] != 2 || d.Lines["/b/k"] != 1 || d.Lines["/c~1d~0e"] != 3 {
		t.Errorf("lines: %v", d.Lines)
	}
	if m["on"] != "yes" || m["f"] != 1.5 || m["g"] != nil || m["h"] != ".nan" {
		t.Errorf("scalars: %#v", m)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
	}{
		{"duplicate key", "a: 1\na: 2\n"},
		{"syntax", "a: [\n"},
		{"two documents", "a: 1\n---\nb: 2\n"},
		{"complex key", "? [a]\n: 1\n"},
		{"too deep", strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2)},
		{"billion laughs", laughs()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *Error", err)
			}
		})
	}
	if _, err := Parse(make([]byte, MaxBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	var pe *Error
	if _, err := Parse([]byte("a: 1\nb: [\n")); !errors.As(err, &pe) || pe.Line == 0 {
		t.Errorf("syntax error without a line: %v", err)
	}
	d := mustParse(t, "")
	if d.Value != nil {
		t.Errorf("empty document: %#v", d.Value)
	}
}

// laughs builds nine levels of aliases that each repeat the previous ten times.
func laughs() string {
	var b strings.Builder
	b.WriteString("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("l")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(": &l")
		b.WriteString(string(rune('0' + i)))
		b.WriteString(" [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l")
			b.WriteString(string(rune('0' + i - 1)))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestEscape(t *testing.T) {
	if got := Escape("a/b~c"); got != "a~1b~0c" {
		t.Errorf("Escape = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		sample, "", "a: 1\n", "a: &x [1, 2]\nb: *x\n", "- a\n- {b: c}\n", "a: |\n  x\n  y\n", "a: >\n  x\n",
		"k: !!binary aGVsbG8=\n", "t: 2001-12-14\n", "a: 1 # c\n", "? a\n: b\n", "x: *unknown\n", "a: [\n",
		laughs(),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if _, err := json.Marshal(d); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		for ptr, line := range d.Lines {
			if line < 0 || (ptr != "" && line == 0) {
				t.Fatalf("Lines[%q] = %d", ptr, line)
			}
		}
	})
}
