// Command keylessfixture is for the end-to-end tests only: it starts an offline test
// Sigstore (pipeline/internal/sigstoretest), writes its trusted root, and attaches to an image
// in a registry a keyless signature and keyless attestations of the predicate files given,
// all for one identity (by default the release workflow's), the way cosign's tag-based
// keyless signing lays them out. It is never built into a release.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/secure-movie-service/sms/pipeline/internal/sigstoretest"
	"github.com/secure-movie-service/sms/pipeline/sign"
)

// exiter stands in for testing.TB: Fatal prints and exits 2.
type exiter struct{}

func (exiter) Helper() {}

func (exiter) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"keylessfixture:"}, args...)...)
	os.Exit(2)
}

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var preds list
	root := flag.String("root", "", "write the trusted root to `FILE`")
	image := flag.String("image", "", "image `REF@DIGEST` to sign")
	subject := flag.String("subject", sigstoretest.Subject, "certificate subject")
	flag.Var(&preds, "predicate", "`TYPE=FILE` to attest (repeatable)")
	flag.Parse()
	tb := exiter{}
	ref, err := name.NewDigest(*image)
	if err != nil || *root == "" {
		tb.Fatal("usage: keylessfixture --root FILE --image REF@DIGEST [--predicate TYPE=FILE …]", err)
	}
	var ps []sign.Predicate
	for _, p := range preds {
		typ, file, ok := strings.Cut(p, "=")
		b, err := os.ReadFile(file) // #nosec G304 -- a test fixture's predicate file
		if !ok || err != nil {
			tb.Fatal("predicate", p, err)
		}
		ps = append(ps, sign.Predicate{Type: typ, Body: b})
	}
	s := sigstoretest.New(tb)
	if err := os.WriteFile(*root, s.TrustedRoot(tb), 0o600); err != nil {
		tb.Fatal(err)
	}
	id := sigstoretest.Release()
	id.Subject = *subject
	s.Publish(tb, ref, sigstoretest.Spec{Identity: id}, ps...)
}
