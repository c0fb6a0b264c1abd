package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/secure-movie-service/sms/pipeline/env"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
)

// Options configure one build.
type Options struct {
	SourceDir  string // any directory inside the git work tree; default "."
	Revision   string // commit to build; default HEAD
	Worktree   bool   // build the work tree as it is (marked dirty if it differs from Revision)
	ModuleDir  string // module of the main package, relative to the work tree root; default "service"
	Package    string // main package relative to ModuleDir; default "./cmd/movies"
	BinaryPath string // path in the image; default "/movies"
	GOOS       string // default linux
	GOARCH     string // default amd64
	Base       string // optional base image, pinned by digest
	SourceRepo string // repository URL for annotations and provenance; default: the git remote (sourceRepository)
	Push       string // push to this reference (a tag or a repository)
	OCILayout  string // or write into this OCI image layout directory
	LayoutTag  string // ref name inside the layout; default "latest"
	// CacheDir keeps builds of clean commits (see DefaultCacheDir); "" builds every time.
	CacheDir string
	Getenv   func(string) string
	Progress io.Writer
}

// Result describes the built image.
type Result struct {
	Ref          string       `json:"ref"` // repository@sha256:… (or layout-dir@sha256:…)
	Digest       string       `json:"digest"`
	Repository   string       `json:"repository,omitempty"`
	Revision     string       `json:"revision"`
	Epoch        int64        `json:"source_date_epoch"`
	Dirty        bool         `json:"dirty"`
	SourceRepo   string       `json:"source_repository"`
	Command      []string     `json:"command"`
	Env          []string     `json:"env"`
	Package      string       `json:"package"`
	Platform     string       `json:"platform"`
	GoVersion    string       `json:"go_version"`
	BinarySHA256 string       `json:"binary_sha256"`
	Deps         []Dependency `json:"dependencies"`
	GoSum        []Dependency `json:"go_sum"`
	Base         string       `json:"base,omitempty"`
	Cached       bool         `json:"cached"` // the binary came from the build cache
	Image        v1.Image     `json:"-"`
}

// DefaultBinaryPath is where the binary lives in the image.
const DefaultBinaryPath = "/movies"

// ErrNoTarget is returned when neither Push nor OCILayout is set.
var ErrNoTarget = errors.New("build: give --push REF or --oci-layout DIR")

func (o *Options) defaults() {
	if o.SourceDir == "" {
		o.SourceDir = "."
	}
	if o.Revision == "" {
		o.Revision = "HEAD"
	}
	if o.ModuleDir == "" {
		o.ModuleDir = "service"
	}
	if o.Package == "" {
		o.Package = "./cmd/movies"
	}
	if o.BinaryPath == "" {
		o.BinaryPath = DefaultBinaryPath
	}
	if o.GOOS == "" {
		o.GOOS = "linux"
	}
	if o.GOARCH == "" {
		o.GOARCH = "amd64"
	}
	if o.LayoutTag == "" {
		o.LayoutTag = "latest"
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// Run compiles, assembles and writes the image.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	if (o.Push == "") == (o.OCILayout == "") {
		return nil, ErrNoTarget
	}
	res, err := Assemble(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := write(ctx, o, res); err != nil {
		return nil, err
	}
	return res, nil
}

// Assemble compiles the binary and builds the image in memory, without writing it anywhere.
func Assemble(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	src, err := resolveSource(ctx, o.SourceDir, o.Revision, env.SourceDateEpoch.Get(o.Getenv))
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if o.SourceRepo == "" {
		if o.SourceRepo, err = sourceRepository(ctx, src.Root); err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
	}
	var c *cache
	if o.CacheDir != "" && !o.Worktree {
		tc, err := toolchain(ctx, src.Root, o.GOOS, o.GOARCH, o.Getenv)
		if err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
		c = openCache(o, src, tc)
	}
	comp, entry := c.load()
	var gosum []Dependency
	if comp != nil {
		fmt.Fprintf(o.Progress, "build: %s (%.12s) was built before: using the cached binary\n", o.Revision, src.Revision)
		comp.Command, comp.Env, gosum = Command(o.Package, "<binary>"), Env(o.GOOS, o.GOARCH), entry.GoSum
	} else {
		if comp, gosum, err = compileSource(ctx, o, &src); err != nil {
			return nil, err
		}
		c.store(comp, gosum)
	}
	sum := sha256.Sum256(comp.Binary)
	binarySHA := hex.EncodeToString(sum[:])
	layerFile := layerName(binarySHA, o.BinaryPath, src.Epoch)
	spec := ImageSpec{
		Binary: comp.Binary, BinaryPath: o.BinaryPath, GOOS: o.GOOS, GOARCH: o.GOARCH,
		Epoch: src.Epoch, Source: o.SourceRepo, Revision: src.Revision, Title: filepath.Base(o.BinaryPath),
		LayerGzip: c.layer(layerFile),
	}
	if o.Base != "" {
		d, err := ociutil.ParseDigest(o.Base)
		if err != nil {
			return nil, fmt.Errorf("build: base image: %w", err)
		}
		base, err := remote.Image(d, append(ociutil.RemoteOptions(ctx), remote.WithPlatform(v1.Platform{OS: o.GOOS, Architecture: o.GOARCH}))...)
		if err != nil {
			return nil, fmt.Errorf("build: pull base %s: %w", d, err)
		}
		spec.Base, spec.BaseName = base, d.String()
	}
	img, err := Image(spec)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	dg, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if c != nil {
		if l, ok := binaryLayerOf(img); ok && !bytes.Equal(l.gz, spec.LayerGzip) {
			_ = c.write(layerFile, l.gz)
		}
	}
	return &Result{
		Digest: dg.String(), Revision: src.Revision, Epoch: src.Epoch, Dirty: src.Dirty,
		SourceRepo: o.SourceRepo, Command: comp.Command, Env: comp.Env, GoVersion: comp.GoVersion,
		Package:      strings.TrimSuffix(o.ModuleDir, "/") + "/" + strings.TrimPrefix(o.Package, "./"),
		Platform:     o.GOOS + "/" + o.GOARCH,
		BinarySHA256: binarySHA, Deps: comp.Deps, GoSum: gosum, Base: spec.BaseName, Cached: entry != nil, Image: img,
	}, nil
}

// compileSource exports the commit (or takes the work tree), compiles the main package and
// reads the module's go.sum.
func compileSource(ctx context.Context, o Options, src *Source) (*compiled, []Dependency, error) {
	tree := src.Root
	if o.Worktree {
		st, err := git(ctx, src.Root, "status", "--porcelain", "--", o.ModuleDir)
		if err != nil {
			return nil, nil, fmt.Errorf("build: %w", err)
		}
		src.Dirty = st != ""
	} else {
		tmp, err := os.MkdirTemp("", "pipeline-src-")
		if err != nil {
			return nil, nil, err
		}
		defer os.RemoveAll(tmp)
		fmt.Fprintf(o.Progress, "build: exporting %s (%.12s)\n", o.Revision, src.Revision)
		if err := export(ctx, src.Root, src.Revision, o.ModuleDir, tmp); err != nil {
			return nil, nil, fmt.Errorf("build: %w", err)
		}
		tree = tmp
	}
	modDir := filepath.Join(tree, filepath.FromSlash(o.ModuleDir))
	fmt.Fprintf(o.Progress, "build: go build %s (%s/%s, SOURCE_DATE_EPOCH=%d)\n", o.Package, o.GOOS, o.GOARCH, src.Epoch)
	c, err := compile(ctx, modDir, o.Package, o.GOOS, o.GOARCH, o.Getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("build: %w", err)
	}
	gosum, err := readGoSum(filepath.Join(modDir, "go.sum"))
	if err != nil {
		return nil, nil, fmt.Errorf("build: %w", err)
	}
	return c, gosum, nil
}

// binaryLayerOf returns the image's last layer, the binary, when it is held in memory.
func binaryLayerOf(img v1.Image) (*memLayer, bool) {
	ls, err := img.Layers()
	if err != nil || len(ls) == 0 {
		return nil, false
	}
	l, ok := ls[len(ls)-1].(*memLayer)
	return l, ok
}

// Push writes the assembled image to ref (a tag or a repository) and sets res.Repository and
// res.Ref. Layers are uploaded concurrently.
func Push(ctx context.Context, res *Result, ref string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("build: push %s: %w", ref, err)
	}
	if err := remote.Write(r, res.Image, ociutil.RemoteOptions(ctx)...); err != nil {
		return fmt.Errorf("build: push %s: %w", r, err)
	}
	res.Repository = r.Context().String()
	res.Ref = res.Repository + "@" + res.Digest
	return nil
}

func write(ctx context.Context, o Options, res *Result) error {
	if o.Push != "" {
		fmt.Fprintf(o.Progress, "build: push %s\n", o.Push)
		return Push(ctx, res, o.Push)
	}
	p, err := layout.FromPath(o.OCILayout)
	if err != nil {
		if p, err = layout.Write(o.OCILayout, empty.Index); err != nil {
			return fmt.Errorf("build: oci layout %s: %w", o.OCILayout, err)
		}
	}
	ann := map[string]string{"org.opencontainers.image.ref.name": o.LayoutTag}
	if err := p.ReplaceImage(res.Image, match.Annotation("org.opencontainers.image.ref.name", o.LayoutTag), layout.WithAnnotations(ann)); err != nil {
		return fmt.Errorf("build: oci layout %s: %w", o.OCILayout, err)
	}
	fmt.Fprintf(o.Progress, "build: wrote %s to OCI layout %s\n", res.Digest, o.OCILayout)
	res.Ref = o.OCILayout + "@" + res.Digest
	return nil
}

// readGoSum lists the module versions a go.sum file records (absent file: none).
func readGoSum(p string) ([]Dependency, error) {
	b, err := os.ReadFile(p) // #nosec G304 -- go.sum inside the exported tree of the commit being built
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var deps []Dependency
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || strings.HasSuffix(f[1], "/go.mod") {
			continue
		}
		deps = append(deps, Dependency{Path: f[0], Version: f[1], Sum: f[2]})
	}
	return deps, nil
}
