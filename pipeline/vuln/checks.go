package vuln

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/secure-movie-service/sms/pipeline/build"
)

// Check names, for check:<name> evidence in the threat model.
const (
	CheckSourceName = "vulnerability-scan" // C-DEPS-SCAN
	CheckImageName  = "image-scan"         // C-IMAGE-SCAN
)

// VEXDir is the repository's directory of OpenVEX documents, relative to its root.
const VEXDir = "vex"

// CheckSource is the vulnerability-scan check: source mode over every module of the
// repository at root (its go.work), against the pinned database prepared in cacheDir, with
// root/vex as the only exceptions. The error names the database's date and each finding.
// With reuse, findings cached for unchanged inputs are reused (ResultCache); without, every
// module is scanned now, as control results that get signed must be.
func CheckSource(root, cacheDir string, reuse bool) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		db, err := pinnedDB(ctx, root, cacheDir)
		if err != nil {
			return "", err
		}
		o := Options{DB: db, Mode: ModeSource, Dir: root, VEX: filepath.Join(root, VEXDir)}
		if reuse {
			o.ResultCache = ResultCacheDir(cacheDir)
		}
		r, err := Scan(ctx, o)
		if err != nil {
			return "", err
		}
		return r.Summary(), r.Err()
	}
}

// CheckImage is the image-scan check: it builds the service image in memory from the
// committed source (pipeline/build, no cache), takes the binary out of the image's layer
// and scans it in binary mode.
func CheckImage(root, cacheDir string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		db, err := pinnedDB(ctx, root, cacheDir)
		if err != nil {
			return "", err
		}
		res, err := build.Assemble(ctx, build.Options{SourceDir: root, CacheDir: ""})
		if err != nil {
			return "", fmt.Errorf("image scan: %w", err)
		}
		r, err := ScanImage(ctx, res.Image, "/movies", Options{DB: db, VEX: filepath.Join(root, VEXDir)})
		if err != nil {
			return "", fmt.Errorf("image scan %s: %w", res.Digest, err)
		}
		if err := r.Err(); err != nil {
			return "", fmt.Errorf("image %s: %w", res.Digest, err)
		}
		return fmt.Sprintf("image %s: %s", res.Digest, r.Summary()), nil
	}
}

// ScanImage scans, in binary mode, the executable at binaryPath in img (e.g. "/movies" in
// the service image): what a release attests about the image it pushes.
func ScanImage(ctx context.Context, img v1.Image, binaryPath string, o Options) (*Report, error) {
	tmp, err := os.MkdirTemp("", "pipeline-vuln-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, path.Base(binaryPath))
	if err := ExtractFile(img, binaryPath, bin); err != nil {
		return nil, err
	}
	o.Mode, o.Binary = ModeBinary, bin
	return Scan(ctx, o)
}

// ResultCacheDir is where source-scan findings are cached beside the databases of
// cacheDir ("" for DefaultCacheDir).
func ResultCacheDir(cacheDir string) string {
	if cacheDir == "" {
		cacheDir, _ = DefaultCacheDir()
	}
	if cacheDir == "" {
		return ""
	}
	return filepath.Join(cacheDir, "results")
}

func pinnedDB(ctx context.Context, root, cacheDir string) (*DB, error) {
	if cacheDir == "" {
		var err error
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	s, err := PinnedSnapshot(ctx, root)
	if err != nil {
		return nil, err
	}
	return BuildDB(s, cacheDir)
}

// maxBinary bounds the file taken out of an image.
const maxBinary = 512 << 20

// ErrNotInImage is returned when the image holds no regular file at the path.
var ErrNotInImage = errors.New("file not in the image")

// ExtractFile writes the regular file at path p in img's flattened filesystem (the last
// layer that has it wins) to dst.
func ExtractFile(img v1.Image, p, dst string) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	want := strings.TrimPrefix(path.Clean("/"+p), "/")
	for i := len(layers) - 1; i >= 0; i-- {
		found, err := extractFromLayer(layers[i], want, dst)
		if err != nil || found {
			return err
		}
	}
	return fmt.Errorf("%s: %w", p, ErrNotInImage)
}

func extractFromLayer(l v1.Layer, want, dst string) (bool, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return false, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if strings.TrimPrefix(path.Clean("/"+h.Name), "/") != want || h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > maxBinary {
			return false, fmt.Errorf("%s: %d bytes (limit %d)", h.Name, h.Size, maxBinary)
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600) // #nosec G304 -- our temporary directory
		if err != nil {
			return false, err
		}
		_, err = io.Copy(f, io.LimitReader(tr, maxBinary))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return true, err
	}
}
