package build

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// mustRepo makes a git repository holding a tiny stdlib-only main module (the fixture stands
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
		if m.Annotations[AnnotationRevision] != res.Revision || m.Annotations[AnnotationSource] != DefaultSourceRepository ||
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
