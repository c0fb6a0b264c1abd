package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the numeric, non-root user and group the image runs as.
const User = "65532:65532"

// OCI annotation keys (image-spec annotations.md) written on the manifest and as labels.
const (
	AnnotationSource   = "org.opencontainers.image.source"
	AnnotationRevision = "org.opencontainers.image.revision"
	AnnotationCreated  = "org.opencontainers.image.created"
	AnnotationTitle    = "org.opencontainers.image.title"
	AnnotationBaseName = "org.opencontainers.image.base.name"
	AnnotationBaseDgst = "org.opencontainers.image.base.digest"
)

// ImageSpec is everything that goes into the image besides the binary.
type ImageSpec struct {
	Binary     []byte
	BinaryPath string // absolute path in the image, e.g. /movies
	GOOS       string
	GOARCH     string
	Epoch      int64
	Source     string // repository URL
	Revision   string
	Title      string
	Base       v1.Image // nil: no base (the binary is the whole file system)
	BaseName   string   // repo@digest of Base
	// LayerGzip is the binary layer compressed earlier (the build cache); it is used only
	// if it decompresses to exactly this binary's layer, and compressed afresh otherwise.
	LayerGzip []byte
}

// layerTar is the binary layer's tar: the binary, owned by root, read and execute only,
// with the epoch as every timestamp. The bytes depend only on the inputs.
func layerTar(bin []byte, p string, epoch int64) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(epoch, 0).UTC()
	// Parent directories, so that the layer also unpacks on runtimes that do not create them.
	dir := path.Dir(p)
	var dirs []string
	for d := dir; d != "/" && d != "."; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d[1:] + "/", Mode: 0o755, ModTime: mt, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	h := &tar.Header{Typeflag: tar.TypeReg, Name: p[1:], Mode: 0o555, Size: int64(len(bin)), ModTime: mt, Format: tar.FormatPAX}
	if err := tw.WriteHeader(h); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// GzipLevel is the layer's compression level. The compressed bytes, and so the layer and
// image digests, depend on it (and on compress/flate): it must not change between builds.
const GzipLevel = 6

// compress gzips a layer exactly as go-containerregistry's tarball.LayerFromOpener does at
// GzipLevel (compress/gzip, no name, no time), so the digest is the one it would compute.
func compress(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(raw) / 2)
	zw, err := gzip.NewWriterLevel(&buf, GzipLevel)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// memLayer is a layer held in memory, compressed once, its digests computed once: pushing
// it, and reading it for the SBOM, costs no further compression.
type memLayer struct {
	raw, gz        []byte
	digest, diffID v1.Hash
}

func newMemLayer(raw, gz []byte) (*memLayer, error) {
	d, _, err := v1.SHA256(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	id, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return &memLayer{raw: raw, gz: gz, digest: d, diffID: id}, nil
}

// checkGzip reports whether gz decompresses to exactly raw (a cached layer is used only then).
func checkGzip(raw, gz []byte) error {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(zr, int64(len(raw))+1))
	if err != nil {
		return err
	}
	want := sha256.Sum256(raw)
	if n != int64(len(raw)) || !bytes.Equal(h.Sum(nil), want[:]) {
		return errors.New("the compressed layer does not hold the binary's tar")
	}
	return nil
}

func (l *memLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *memLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *memLayer) Size() (int64, error)                { return int64(len(l.gz)), nil }
func (l *memLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.gz)), nil
}
func (l *memLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.raw)), nil
}

// Image assembles the OCI image for spec.
func Image(spec ImageSpec) (v1.Image, error) {
	if spec.BinaryPath == "" || spec.BinaryPath[0] != '/' {
		return nil, fmt.Errorf("binary path %q is not absolute", spec.BinaryPath)
	}
	created := v1.Time{Time: time.Unix(spec.Epoch, 0).UTC()}
	raw, err := layerTar(spec.Binary, spec.BinaryPath, spec.Epoch)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	gz := spec.LayerGzip
	if gz == nil || checkGzip(raw, gz) != nil {
		if gz, err = compress(raw); err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
	}
	layer, err := newMemLayer(raw, gz)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	base := spec.Base
	if base == nil {
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   created,
			CreatedBy: "pipeline build: " + spec.BinaryPath,
			Comment:   "static Go binary, CGO_ENABLED=0 -trimpath -ldflags=-buildid=",
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = spec.GOOS, spec.GOARCH
	cf.Created = created
	cf.Author = ""
	cf.Config.User = User
	cf.Config.Entrypoint = []string{spec.BinaryPath}
	cf.Config.Cmd = nil
	cf.Config.WorkingDir = "/"
	if len(cf.Config.Env) == 0 {
		cf.Config.Env = []string{"PATH=/"}
	}
	ann := map[string]string{
		AnnotationSource:   spec.Source,
		AnnotationRevision: spec.Revision,
		AnnotationCreated:  created.Format(time.RFC3339),
		AnnotationTitle:    spec.Title,
	}
	if spec.BaseName != "" {
		ann[AnnotationBaseName] = spec.BaseName
		if d, err := spec.Base.Digest(); err == nil {
			ann[AnnotationBaseDgst] = d.String()
		}
	}
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	for k, v := range ann {
		cf.Config.Labels[k] = v
	}
	// Base image history entries keep their own times; only ours is set above.
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, ann).(v1.Image), nil
}
