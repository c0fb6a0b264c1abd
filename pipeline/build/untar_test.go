package build

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestUntarStaysInside: an archive cannot write outside the export
// directory, neither by a path nor through a symlink it created itself.
func TestUntarStaysInside(t *testing.T) {
	outside := t.TempDir()
	for name, entries := range map[string][]*tar.Header{
		"dot-dot path":      {{Name: "../escape", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}},
		"absolute path":     {{Name: filepath.Join(outside, "escape"), Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}},
		"through a symlink": {{Name: "link", Typeflag: tar.TypeSymlink, Linkname: outside}, {Name: "link/escape", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}},
		"relative symlink":  {{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../.."}, {Name: "up/escape", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range entries {
				tw.WriteHeader(h)
				if h.Size > 0 {
					tw.Write([]byte("x"))
				}
			}
			tw.Close()
			dst := filepath.Join(t.TempDir(), "a", "b")
			os.MkdirAll(dst, 0o750)
			if err := untar(&buf, dst); err == nil {
				t.Fatal("untar accepted an escaping archive")
			}
			for _, p := range []string{filepath.Join(outside, "escape"), filepath.Join(filepath.Dir(filepath.Dir(dst)), "escape")} {
				if _, err := os.Stat(p); err == nil {
					t.Fatalf("wrote %s", p)
				}
			}
		})
	}
}
