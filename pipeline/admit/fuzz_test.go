package admit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// A digest-pinned image for seeds; nothing is fetched.
const seedImage = "registry.example/acme/movies@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func mustDeploySample(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile("../../deploy/kubernetes/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(b), "${IMAGE}", seedImage))
}

func addManifestSeeds(f *testing.F) {
	dep, review := mustDeploySample(f, "deployment.yaml"), mustDeploySample(f, "admission-review.json")
	for _, s := range [][]byte{dep, review, append(append(dep, "\n---\n"...), dep...)} {
		f.Add(s)
	}
	for _, s := range []string{
		"", "---", "# only a comment\n", "kind: Pod\n---\t\nkind: Pod\n", "kind: Pod\n...\nkind: Pod\n",
		`{"kind":"Pod"}{"kind":"Pod"}`, "--- {kind: Pod}\n", "kind: Pod\nkind: Pod\n", "[1, 2]", "~",
		"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n",
		"kind: CronJob\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{image: " + seedImage + "}]}}}}}\n",
		`{"kind":"AdmissionReview","request":{"object":{"kind":"Pod","spec":{"ephemeralContainers":[{"image":"x"}]}}},"facts":{"x":{}}}`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzSplitYAML: the manifest parser never panics, and what it accepts is a bounded list of
// objects.
func FuzzSplitYAML(f *testing.F) {
	addManifestSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		docs, err := SplitYAML(b)
		if err != nil {
			if docs != nil || err.Error() == "" || !strings.HasPrefix(err.Error(), "manifest") {
				t.Fatalf("error %q with %d documents", err, len(docs))
			}
			return
		}
		if len(docs) == 0 || len(docs) > maxDocuments {
			t.Fatalf("%d documents", len(docs))
		}
		for _, d := range docs {
			if d == nil {
				t.Fatal("a nil document")
			}
			_ = Images(d)
			_ = describe(d)
		}
	})
}

// FuzzAdmitManifest: whatever the manifest or AdmissionReview says, without verified facts
// the policy never allows it — including facts the document carries itself.
func FuzzAdmitManifest(f *testing.F) {
	addManifestSeeds(f)
	ev, err := NewEvaluator()
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, b []byte) {
		ins, err := inputs(Options{Manifest: b})
		if err != nil {
			return
		}
		for _, in := range ins {
			if _, ok := in.doc["facts"]; ok {
				t.Fatalf("the caller's facts travelled into the policy input: %v", in.doc)
			}
			in.doc["facts"] = map[string]any{}
			d, err := ev.Eval(ctx, in.doc)
			if err != nil {
				continue // an evaluation error is an error exit: nothing is admitted
			}
			if d.Allow || len(d.Deny) == 0 {
				t.Fatalf("allowed without verified facts: %s %v", in.name, in.doc)
			}
			for _, r := range d.Deny {
				if r.Code == "" || r.Message == "" {
					t.Fatalf("a deny reason without code or message: %+v", r)
				}
			}
		}
	})
}

// TestSplitYAMLRejectsMalformedManifests: each malformed manifest is refused with an error
// saying what is wrong, never parsed into something else.
func TestSplitYAMLRejectsMalformedManifests(t *testing.T) {
	many := strings.Repeat("kind: Pod\n---\n", maxDocuments+1)
	tests := []struct {
		name     string
		manifest string
		wantErr  string
	}{
		{"empty", "", "manifest: no documents"},
		{"only separators and comments", "---\n# nothing\n---\n", "manifest: no documents"},
		{"a scalar", "hello\n", "manifest document 1 is not an object"},
		{"a list", "- kind: Pod\n", "manifest document 1 is not an object"},
		{"null", "~\n", "manifest document 1 is not an object"},
		{"second document after the end marker", "kind: Pod\n...\nkind: Pod\n", "manifest document 1: holds more than one YAML or JSON document"},
		{"concatenated JSON objects", `{"kind":"Pod"}{"kind":"Pod"}`, "manifest document 1: holds more than one YAML or JSON document"},
		{"JSON objects on two lines", "{\"kind\":\"Pod\"}\n{\"kind\":\"Pod\"}\n", "holds more than one YAML or JSON document"},
		{"content on the separator line", "kind: Pod\n--- {kind: Pod}\n", "manifest line 2: text after the --- document separator"},
		{"four dashes", "kind: Pod\n----\nkind: Pod\n", "manifest line 2: text after the --- document separator"},
		{"duplicate key", "kind: Pod\nspec: {hostPID: false, hostPID: true}\n", `key "hostPID" already set in map`},
		{"duplicate top-level key", "kind: Pod\nkind: Deployment\n", `key "kind" already set in map`},
		{"tab indentation", "kind: Pod\nspec:\n\tcontainers: []\n", "manifest document 1: yaml"},
		{"unclosed quote", "kind: \"Pod\n", "manifest document 1: yaml"},
		{"unclosed JSON", `{"kind": "Pod"`, "manifest document 1: yaml"},
		{"alias bomb", aliasBomb(), "manifest document 1: yaml"},
		{"too many documents", many, fmt.Sprintf("manifest: more than %d documents", maxDocuments)},
		{"too large", "kind: Pod\n# " + strings.Repeat("x", MaxManifestSize), "manifest: larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := SplitYAML([]byte(tc.manifest))
			if err == nil {
				t.Fatalf("accepted: %v", docs)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
			// admit.Run reports it as an error, not as a verdict.
			if v, err := Run(context.Background(), Options{Manifest: []byte(tc.manifest)}); v != nil || err == nil || errors.Is(err, ErrDenied) {
				t.Fatalf("Run: verdict %v, error %v", v, err)
			}
		})
	}
}

// aliasBomb is the "billion laughs" of YAML: each level doubles the expansion.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	return b.String()
}

// TestSplitYAMLSeesEveryDocumentKubectlApplies: every separator kubectl accepts separates
// documents here too, so no document hides inside the one before it.
func TestSplitYAMLSeesEveryDocumentKubectlApplies(t *testing.T) {
	for _, sep := range []string{"---", "--- ", "---\t", "--- # the privileged one", "---\r"} {
		t.Run(fmt.Sprintf("%q", sep), func(t *testing.T) {
			docs, err := SplitYAML([]byte("kind: Pod\nmetadata: {name: a}\n" + sep + "\nkind: Pod\nmetadata: {name: b}\n"))
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != 2 || describe(docs[1]) != "Pod/b" {
				t.Fatalf("documents %v: the second one was not seen", docs)
			}
		})
	}
}
