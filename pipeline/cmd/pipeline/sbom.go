package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/secure-movie-service/sms/pipeline/sbom"
)

func runSBOM(ctx context.Context, a *app, args []string) error {
	fs := a.flags("sbom", "[--spdx FILE] [--cyclonedx FILE] IMAGE@DIGEST")
	spdx := fs.String("spdx", "sbom.spdx.json", "write the SPDX 2.3 JSON document to `FILE`")
	cdx := fs.String("cyclonedx", "sbom.cyclonedx.json", "write the CycloneDX JSON document to `FILE`")
	var o output
	o.register(fs, "text")
	if err := parse(fs, args, 1, &o); err != nil {
		return err
	}
	img, ref, err := sbom.Image(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "sbom: cataloguing %s\n", ref)
	docs, err := sbom.Generate(ctx, img, ref)
	if err != nil {
		return err
	}
	for p, b := range map[string][]byte{*spdx: docs.SPDX, *cdx: docs.CycloneDX} {
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
	}
	res := map[string]any{"image": ref, "packages": docs.Packages, "spdx": *spdx, "cyclonedx": *cdx}
	return o.emit(a, res, func(w io.Writer) {
		fmt.Fprintf(w, "%s: %d packages\n%s\n%s\n", ref, docs.Packages, *spdx, *cdx)
	})
}
