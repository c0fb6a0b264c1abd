package provenance_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/pipeline/build"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/provenance"
)

const (
	revision   = "0123456789abcdef0123456789abcdef01234567"
	sourceRepo = "https://github.com/secure-movie-service/sms"
)

func result() *build.Result {
	return &build.Result{
		Digest: "sha256:" + strings.Repeat("ab", 32), Revision: revision, Epoch: 1700000000,
		SourceRepo: sourceRepo, Command: build.Command("./cmd/movies", "<binary>"),
		Env: build.Env("linux", "amd64"), Package: "service/cmd/movies", Platform: "linux/amd64", GoVersion: "go1.26.8",
		BinarySHA256: strings.Repeat("cd", 32),
		Deps:         []build.Dependency{{Path: "example.com/b", Version: "v1.0.0", Sum: "h1:b="}},
		GoSum: []build.Dependency{
			{Path: "example.com/b", Version: "v1.0.0", Sum: "h1:b="}, // also linked: listed once
			{Path: "example.com/a", Version: "v0.1.0", Sum: "h1:a="},
		},
	}
}

func mustSummarize(t *testing.T, p predicate.Provenance) (*predicate.ProvenanceSummary, []byte) {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	s, err := predicate.Summarize(predicate.TypeProvenance, b)
	if err != nil {
		t.Fatalf("the provenance the pipeline writes does not validate: %v\n%s", err, b)
	}
	return s.Provenance, b
}

func TestProvenanceNamesSourceBuilderAndDependencies(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	p := provenance.For(result(), provenance.Run{InvocationID: "run-1", Started: start, Finished: start.Add(time.Minute)})
	s, _ := mustSummarize(t, p)
	if s.SourceRepository != sourceRepo || s.SourceRevision != revision || s.Dirty ||
		s.BuilderID != provenance.DefaultBuilderID || s.BuildType != predicate.BuildType {
		t.Fatalf("summary %+v", s)
	}
	var uris []string
	for _, d := range p.BuildDefinition.ResolvedDependencies {
		uris = append(uris, d.URI)
	}
	want := []string{
		"git+" + sourceRepo + "@" + revision,
		"pkg:golang/stdlib@1.26.8",
		"pkg:golang/example.com/a@v0.1.0",
		"pkg:golang/example.com/b@v1.0.0",
	}
	if strings.Join(uris, " ") != strings.Join(want, " ") {
		t.Fatalf("resolved dependencies\n got %v\nwant %v", uris, want)
	}
	if d := p.BuildDefinition.ResolvedDependencies[0].Digest["gitCommit"]; d != revision {
		t.Errorf("source digest %q", d)
	}
	if d := p.BuildDefinition.ResolvedDependencies[2].Digest["dirHash"]; d != "h1:a=" {
		t.Errorf("module digest %q", d)
	}
	md := p.RunDetails.Metadata
	if md == nil || md.InvocationID != "run-1" || md.StartedOn.Location() != time.UTC || !md.FinishedOn.Equal(start.Add(time.Minute)) {
		t.Fatalf("metadata %+v", md)
	}
	if got := p.BuildDefinition.InternalParameters["binary_sha256"]; got != strings.Repeat("cd", 32) {
		t.Errorf("binary digest %v", got)
	}
}

func TestProvenanceIsDeterministic(t *testing.T) {
	run := provenance.Run{BuilderID: "https://ci.example/builder", Started: time.Unix(1, 0), Finished: time.Unix(2, 0)}
	_, a := mustSummarize(t, provenance.For(result(), run))
	r := result()
	r.GoSum[0], r.GoSum[1] = r.GoSum[1], r.GoSum[0] // order of go.sum does not matter
	_, b := mustSummarize(t, provenance.For(r, run))
	if !bytes.Equal(a, b) {
		t.Fatalf("two provenances of one build differ:\n%s\n%s", a, b)
	}
	p := provenance.For(result(), provenance.Run{})
	if p.RunDetails.Metadata != nil {
		t.Errorf("metadata %+v without an invocation", p.RunDetails.Metadata)
	}
}

// TestProvenanceRefuses: what a provenance statement must not hide — a dirty tree is said
// so (admission denies it), and a build without a full revision or source cannot produce
// provenance that validates.
func TestProvenanceRefuses(t *testing.T) {
	r := result()
	r.Dirty = true
	if s, _ := mustSummarize(t, provenance.For(r, provenance.Run{})); !s.Dirty {
		t.Fatal("a dirty build is not marked dirty")
	}
	for name, change := range map[string]func(*build.Result){
		"short revision": func(r *build.Result) { r.Revision = "0123456" },
		"no revision":    func(r *build.Result) { r.Revision = "" },
		"no source":      func(r *build.Result) { r.SourceRepo = "" },
	} {
		t.Run(name, func(t *testing.T) {
			r := result()
			change(r)
			b, err := json.Marshal(provenance.For(r, provenance.Run{}))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := predicate.Summarize(predicate.TypeProvenance, b); err == nil {
				t.Fatalf("validated:\n%s", b)
			}
		})
	}
}
