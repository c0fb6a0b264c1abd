package spdxexp

import (
	"slices"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name, expr, want string
	}{
		{"single id", "MIT", "MIT"},
		{"case-insensitive id", "apache-2.0", "Apache-2.0"},
		{"or later", "GPL-2.0+", "GPL-2.0+"},
		{"or later id", "GPL-2.0-or-later", "GPL-2.0-or-later"},
		{"with exception", "GPL-2.0-only WITH Classpath-exception-2.0", "GPL-2.0-only WITH Classpath-exception-2.0"},
		{"lower-case operators", "mit or apache-2.0", "MIT OR Apache-2.0"},
		{"and binds tighter than or", "MIT OR BSD-3-Clause AND Apache-2.0", "MIT OR BSD-3-Clause AND Apache-2.0"},
		{"parentheses kept where needed", "(MIT OR BSD-3-Clause) AND Apache-2.0", "(MIT OR BSD-3-Clause) AND Apache-2.0"},
		{"redundant parentheses dropped", "((MIT))", "MIT"},
		{"license ref", "LicenseRef-acme-1", "LicenseRef-acme-1"},
		{"document ref", "DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2", "DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2"},
		{"whitespace", "  MIT\tAND\nISC ", "MIT AND ISC"},
		{"with inside and", "Apache-2.0 AND GPL-3.0-only WITH GCC-exception-3.1", "Apache-2.0 AND GPL-3.0-only WITH GCC-exception-3.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := Parse(tc.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.expr, err)
			}
			if got := n.String(); got != tc.want {
				t.Errorf("Parse(%q) = %q, want %q", tc.expr, got, tc.want)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	n, err := Parse("MIT OR ISC AND Apache-2.0")
	if err != nil {
		t.Fatal(err)
	}
	if n.Op != "OR" || n.Right.Op != "AND" {
		t.Fatalf("want OR at the root and AND below it, got %+v", n)
	}
	n, err = Parse("MIT AND GPL-2.0-only WITH Classpath-exception-2.0")
	if err != nil {
		t.Fatal(err)
	}
	if n.Op != "AND" || n.Right.Exception != "Classpath-exception-2.0" {
		t.Fatalf("WITH must bind to its license, got %+v", n)
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct{ name, expr string }{
		{"empty", ""},
		{"blank", "   "},
		{"unknown id", "NOT-A-LICENSE"},
		{"unknown exception", "GPL-2.0-only WITH Not-an-exception"},
		{"exception as license", "Classpath-exception-2.0"},
		{"license as exception", "GPL-2.0-only WITH MIT"},
		{"mixed-case operator", "MIT And ISC"},
		{"dangling operator", "MIT AND"},
		{"leading operator", "OR MIT"},
		{"two ids", "MIT ISC"},
		{"unclosed paren", "(MIT OR ISC"},
		{"extra paren", "MIT)"},
		{"empty parens", "()"},
		{"with without exception", "MIT WITH"},
		{"plus alone", "+"},
		{"plus after space", "MIT +"},
		{"plus after ref", "LicenseRef-x+"},
		{"empty license ref", "LicenseRef-"},
		{"document ref without license ref", "DocumentRef-x:MIT"},
		{"two colons", "DocumentRef-a:LicenseRef-b:c"},
		{"trailing colon", "DocumentRef-a:"},
		{"bad character", "MIT/ISC"},
		{"double with", "GPL-2.0-only WITH Classpath-exception-2.0 WITH Classpath-exception-2.0"},
		{"too deep", strings.Repeat("(", maxDepth+1) + "MIT" + strings.Repeat(")", maxDepth+1)},
		{"too long", strings.Repeat("MIT AND ", maxTokens) + "MIT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n, err := Parse(tc.expr); err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tc.expr, n)
			}
		})
	}
}

func TestValidateLicenses(t *testing.T) {
	ok, invalid := ValidateLicenses([]string{"MIT", "Apache-2.0 OR BSD-2-Clause"})
	if !ok || len(invalid) != 0 {
		t.Fatalf("valid list: got %v %v", ok, invalid)
	}
	ok, invalid = ValidateLicenses([]string{"MIT", "Bogus", "GPL-2.0-only WITH Nope"})
	if ok || !slices.Equal(invalid, []string{"Bogus", "GPL-2.0-only WITH Nope"}) {
		t.Fatalf("invalid list: got %v %v", ok, invalid)
	}
	if ok, _ := ValidateLicenses(nil); !ok {
		t.Fatal("an empty list is valid")
	}
}

func TestEmbeddedLists(t *testing.T) {
	for name, text := range map[string]string{"licenses": licenseList, "exceptions": exceptionList} {
		var ids []string
		for line := range strings.SplitSeq(text, "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				ids = append(ids, line)
			}
		}
		if len(ids) < 50 {
			t.Errorf("%s: only %d ids", name, len(ids))
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[strings.ToLower(id)] {
				t.Errorf("%s: duplicate %q", name, id)
			}
			seen[strings.ToLower(id)] = true
			// Deprecated ids such as "GPL-2.0+" carry the or-later suffix in the name.
			base := strings.TrimSuffix(id, "+")
			for i := 0; i < len(base); i++ {
				if !isIDChar(base[i]) {
					t.Errorf("%s: %q is not an idstring", name, id)
					break
				}
			}
		}
	}
	for _, id := range []string{"MIT", "Apache-2.0", "GPL-3.0-or-later", "BSD-3-Clause", "0BSD"} {
		if _, ok := LicenseID(id); !ok {
			t.Errorf("license %q missing", id)
		}
	}
	if _, ok := ExceptionID("LLVM-exception"); !ok {
		t.Error("exception LLVM-exception missing")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"MIT", "(MIT OR ISC) AND Apache-2.0", "GPL-2.0+ WITH Classpath-exception-2.0", "DocumentRef-a:LicenseRef-b", "((", "MIT)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		n, err := Parse(expr)
		if err != nil {
			return
		}
		// The canonical form must parse back to itself.
		again, err := Parse(n.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", n.String(), expr, err)
		}
		if again.String() != n.String() {
			t.Fatalf("canonical form not stable: %q -> %q", n.String(), again.String())
		}
	})
}
