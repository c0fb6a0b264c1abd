// Package sbom generates the image's software bill of materials with syft used as a library:
// the image is read straight from the registry (or an OCI layout) by digest, catalogued, and
// encoded as SPDX 2.3 JSON and CycloneDX JSON, whose creator, namespace and main-module
// version are this project's and the release's, not syft's defaults.
package sbom

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/anchore/stereoscope/pkg/file"
	"github.com/anchore/stereoscope/pkg/image"
	"github.com/anchore/syft/syft"
	"github.com/anchore/syft/syft/format/cyclonedxjson"
	"github.com/anchore/syft/syft/format/spdxjson"
	syftsbom "github.com/anchore/syft/syft/sbom"
	"github.com/anchore/syft/syft/source/stereoscopesource"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	_ "modernc.org/sqlite" // the RPM database cataloguer needs a registered sqlite driver

	"github.com/secure-movie-service/sms/pipeline/ociutil"
)

// Versions of the formats written.
const (
	SPDXVersion      = "2.3"
	CycloneDXVersion = "1.6"
)

// Documents are the encoded SBOMs of one image.
type Documents struct {
	Ref       string `json:"ref"`
	SPDX      []byte `json:"-"`
	CycloneDX []byte `json:"-"`
	Packages  int    `json:"packages"`
}

// Image loads IMAGE: a registry reference pinned by digest, or DIR@sha256:… for an OCI
// image layout directory.
func Image(ctx context.Context, ref string) (v1.Image, string, error) {
	if dir, dg, ok := layoutRef(ref); ok {
		p, err := layout.FromPath(dir)
		if err != nil {
			return nil, "", fmt.Errorf("oci layout %s: %w", dir, err)
		}
		h, err := v1.NewHash(dg)
		if err != nil {
			return nil, "", err
		}
		img, err := p.Image(h)
		if err != nil {
			return nil, "", fmt.Errorf("oci layout %s: %w", dir, err)
		}
		return img, ref, nil
	}
	d, err := ociutil.ParseDigest(ref)
	if err != nil {
		return nil, "", err
	}
	img, err := remote.Image(d, ociutil.RemoteOptions(ctx)...)
	if err != nil {
		return nil, "", fmt.Errorf("pull %s: %w", d, err)
	}
	return img, d.String(), nil
}

// layoutRef splits DIR@sha256:… when DIR is an OCI layout on disk.
func layoutRef(ref string) (string, string, bool) {
	for i := len(ref) - 1; i >= 0; i-- {
		if ref[i] == '@' {
			dir := ref[:i]
			if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err == nil {
				return dir, ref[i+1:], true
			}
			return "", "", false
		}
	}
	return "", "", false
}

// config is the syft configuration of every SBOM.
func config() *syft.CreateSBOMConfig {
	return syft.DefaultCreateSBOMConfig().WithTool("pipeline", "v1")
}

// Prepare returns ctx carrying syft's license scanner, built as Generate would build it.
// Building it (compiling the license matcher) is most of the cost of an SBOM of a small
// image, and needs no image: a caller with other work can run Prepare alongside it, and
// Generate with the returned context then does not build it again.
func Prepare(ctx context.Context) (context.Context, error) {
	ctx, err := syft.SetContextLicenseScanner(ctx, config().Licenses)
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	return ctx, nil
}

// Generate catalogues the image and encodes both documents.
func Generate(ctx context.Context, img v1.Image, ref string) (*Documents, error) {
	tmp := file.NewTempDirGenerator("pipeline-sbom")
	defer func() { _ = tmp.Cleanup() }()
	cache, err := tmp.NewDirectory("image")
	if err != nil {
		return nil, err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	simg := image.New(img, tmp, cache,
		image.WithManifest(manifest),
		image.WithRepoDigests(ref),
		image.WithOS(cf.OS),
		image.WithArchitecture(cf.Architecture, cf.Variant))
	if err := simg.Read(ctx); err != nil {
		return nil, fmt.Errorf("sbom: read image: %w", err)
	}
	defer func() { _ = simg.Cleanup() }()
	src := stereoscopesource.New(simg, stereoscopesource.ImageConfig{Reference: ref})
	s, err := syft.CreateSBOM(ctx, src, config())
	if err != nil {
		return nil, fmt.Errorf("sbom: catalogue: %w", err)
	}
	docs := &Documents{Ref: ref, Packages: s.Artifacts.Packages.PackageCount()}
	spdxEnc, err := spdxjson.NewFormatEncoderWithConfig(spdxjson.EncoderConfig{Version: SPDXVersion, Pretty: true})
	if err != nil {
		return nil, fmt.Errorf("sbom: spdx: %w", err)
	}
	cdxEnc, err := cyclonedxjson.NewFormatEncoderWithConfig(cyclonedxjson.EncoderConfig{Version: CycloneDXVersion, Pretty: true})
	if err != nil {
		return nil, fmt.Errorf("sbom: cyclonedx: %w", err)
	}
	m, err := metaOf(img)
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	if docs.SPDX, err = encode(s, spdxEnc, func(b []byte) ([]byte, error) { return fixSPDX(b, m) }); err != nil {
		return nil, fmt.Errorf("sbom: spdx: %w", err)
	}
	if docs.CycloneDX, err = encode(s, cdxEnc, func(b []byte) ([]byte, error) { return fixCycloneDX(b, m) }); err != nil {
		return nil, fmt.Errorf("sbom: cyclonedx: %w", err)
	}
	return docs, nil
}

// encode encodes the SBOM and corrects what syft cannot be told (see meta.go).
func encode(s *syftsbom.SBOM, enc syftsbom.FormatEncoder, fix func([]byte) ([]byte, error)) ([]byte, error) {
	var buf bytes.Buffer
	if err := enc.Encode(&buf, *s); err != nil {
		return nil, err
	}
	return fix(buf.Bytes())
}
