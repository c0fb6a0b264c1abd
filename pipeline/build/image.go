package build

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
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
}

// binaryLayer is a one-file tar layer: the binary, owned by root, read and execute only,
// with the epoch as every timestamp. The bytes depend only on the inputs.
func binaryLayer(bin []byte, p string, epoch int64) (v1.Layer, error) {
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
	raw := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(6))
}

// Image assembles the OCI image for spec.
func Image(spec ImageSpec) (v1.Image, error) {
	if spec.BinaryPath == "" || spec.BinaryPath[0] != '/' {
		return nil, fmt.Errorf("binary path %q is not absolute", spec.BinaryPath)
	}
	created := v1.Time{Time: time.Unix(spec.Epoch, 0).UTC()}
	layer, err := binaryLayer(spec.Binary, spec.BinaryPath, spec.Epoch)
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
