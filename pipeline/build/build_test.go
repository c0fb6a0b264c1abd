package build

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// mustRepo makes a git repository, with no remote, holding a tiny stdlib-only main module (the fixture stands
// in for service/, so this test does not depend on the runtime's code).
func mustRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"app/go.mod":        "module example.com/app\n\ngo 1.24\n",
		"app/cmd/x/main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	}
	for p, c := range files {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"init", "-q"}, {"add", "."},
		{"-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "fixture", "--date", "@1700000000"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=@1700000000")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
	}
	return dir
}

func TestBuildIsReproducibleAndHardened(t *testing.T) {
	repo := mustRepo(t)
	getenv := func(k string) string {
		if k == "SOURCE_DATE_EPOCH" {
			return ""
		}
		return os.Getenv(k)
	}
	var digests []string
	for i := 0; i < 2; i++ {
		lay := t.TempDir()
		res, err := Run(context.Background(), Options{
			SourceDir: repo, ModuleDir: "app", Package: "./cmd/x", OCILayout: lay, Getenv: getenv,
		})
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, res.Digest)
		if res.Epoch != 1700000000 {
			t.Errorf("SOURCE_DATE_EPOCH %d, want the commit time", res.Epoch)
		}
		p, err := layout.FromPath(lay)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := p.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil || len(im.Manifests) != 1 {
			t.Fatalf("layout index: %v %v", err, im)
		}
		cf, err := res.Image.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Config.User != "65532:65532" || cf.Config.Entrypoint[0] != "/movies" || cf.Created.Unix() != 1700000000 {
			t.Errorf("config %+v", cf.Config)
		}
		layers, _ := res.Image.Layers()
		if len(layers) != 1 {
			t.Errorf("%d layers, want only the binary", len(layers))
		}
		m, _ := res.Image.Manifest()
		if m.Annotations[AnnotationRevision] != res.Revision || m.Annotations[AnnotationSource] != "file://"+repo ||
			m.Annotations[AnnotationCreated] != "2023-11-14T22:13:20Z" {
			t.Errorf("annotations %v", m.Annotations)
		}
	}
	if digests[0] != digests[1] {
		t.Fatalf("two builds of one commit differ: %v", digests)
	}
}

func TestBuildRejectsUnpinnedBase(t *testing.T) {
	repo := mustRepo(t)
	_, err := Run(context.Background(), Options{SourceDir: repo, ModuleDir: "app", Package: "./cmd/x", OCILayout: t.TempDir(), Base: "gcr.io/distroless/static:nonroot"})
	if err == nil {
		t.Fatal("a base image by tag was accepted")
	}
}

func TestBuildCacheReusesTheBinaryOfTheSameCommit(t *testing.T) {
	repo := mustRepo(t)
	cacheDir := t.TempDir()
	o := func() Options {
		return Options{SourceDir: repo, ModuleDir: "app", Package: "./cmd/x", OCILayout: t.TempDir(), CacheDir: cacheDir,
			Getenv: func(k string) string {
				if k == "SOURCE_DATE_EPOCH" {
					return ""
				}
				return os.Getenv(k)
			}}
	}
	ctx := context.Background()
	first, err := Run(ctx, o())
	if err != nil {
		t.Fatal(err)
	}
	if first.Cached {
		t.Fatal("the first build came from an empty cache")
	}
	entries, err := filepath.Glob(filepath.Join(cacheDir, "*", "*"))
	if err != nil || len(entries) != 3 {
		t.Fatalf("cache holds %v (%v), want binary, meta.json and the layer", entries, err)
	}
	same := func(t *testing.T, r *Result) {
		t.Helper()
		if r.Digest != first.Digest || r.BinarySHA256 != first.BinarySHA256 || r.GoVersion != first.GoVersion ||
			!reflect.DeepEqual(r.Deps, first.Deps) || !reflect.DeepEqual(r.GoSum, first.GoSum) ||
			!reflect.DeepEqual(r.Command, first.Command) || !reflect.DeepEqual(r.Env, first.Env) {
			t.Fatalf("the cached build differs:\n%+v\n%+v", r, first)
		}
	}
	second, err := Run(ctx, o())
	if err != nil {
		t.Fatal(err)
	}
	if !second.Cached {
		t.Fatal("the second build of one commit did not use the cache")
	}
	same(t, second)

	t.Run("a damaged binary is built again", func(t *testing.T) {
		bins, _ := filepath.Glob(filepath.Join(cacheDir, "*", "binary"))
		if len(bins) != 1 {
			t.Fatalf("binaries %v", bins)
		}
		b, err := os.ReadFile(bins[0])
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(bins[0], b, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Run(ctx, o())
		if err != nil {
			t.Fatal(err)
		}
		if r.Cached {
			t.Fatal("a damaged cached binary was used")
		}
		same(t, r)
	})
	t.Run("a damaged layer is compressed again", func(t *testing.T) {
		layers, _ := filepath.Glob(filepath.Join(cacheDir, "*", "layer-*"))
		if len(layers) != 1 {
			t.Fatalf("layers %v", layers)
		}
		if err := os.WriteFile(layers[0], []byte("not gzip"), 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Run(ctx, o())
		if err != nil {
			t.Fatal(err)
		}
		same(t, r)
	})
	t.Run("a work-tree build never uses the cache", func(t *testing.T) {
		wo := o()
		wo.Worktree = true
		r, err := Run(ctx, wo)
		if err != nil {
			t.Fatal(err)
		}
		if r.Cached {
			t.Fatal("a work-tree build used the cache")
		}
	})
}

// TestLayerIsCompressedAsGoContainerregistryWould: compressing once, in memory, gives the
// bytes (and digest) tarball.LayerFromOpener gives, so image digests did not change.
func TestLayerIsCompressedAsGoContainerregistryWould(t *testing.T) {
	bin := bytes.Repeat([]byte("binary\x00\x01"), 1<<16)
	raw, err := layerTar(bin, "/movies", 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := compress(raw)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := newMemLayer(raw, gz)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(GzipLevel))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []func(v1.Layer) (v1.Hash, error){v1.Layer.Digest, v1.Layer.DiffID} {
		a, _ := f(ours)
		b, _ := f(theirs)
		if a != b {
			t.Fatalf("layer hashes differ: %s, go-containerregistry %s", a, b)
		}
	}
	if err := checkGzip(raw, gz); err != nil {
		t.Fatal(err)
	}
	if err := checkGzip(append(raw, 0), gz); err == nil {
		t.Fatal("a layer of other content passed the check")
	}
}

func TestSourceRepositoryIsTheGitRemote(t *testing.T) {
	for remote, want := range map[string]string{
		"https://github.com/acme/sms.git":                   "https://github.com/acme/sms",
		"https://x-access-token:ghs_secret@github.com/a/b/": "https://github.com/a/b",
		"git@github.com:acme/sms.git":                       "https://github.com/acme/sms",
		"ssh://git@gitlab.example.com:2222/group/sms.git":   "https://gitlab.example.com/group/sms",
		"http://127.0.0.1:3000/acme/sms":                    "http://127.0.0.1:3000/acme/sms",
		"/srv/git/sms.git":                                  "file:///srv/git/sms.git",
		"file:///srv/git/sms":                               "file:///srv/git/sms",
		"../sms":                                            "file:///work/sms",
	} {
		got, err := normalizeRemote(remote, "/work/clone")
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", remote, got, err, want)
		}
	}
	if _, err := normalizeRemote("ftp://example.com/sms", "/"); err == nil {
		t.Error("an ftp remote was accepted")
	}
}
