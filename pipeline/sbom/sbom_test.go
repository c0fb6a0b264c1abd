package sbom_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-containerregistry/pkg/name"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"

	"github.com/secure-movie-service/sms/pipeline/build"
	"github.com/secure-movie-service/sms/pipeline/internal/testkit"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/predicate"
	"github.com/secure-movie-service/sms/pipeline/sbom"
)

// mustBuiltImage builds the fixture module's image and pushes it; the image holds a real Go
// binary, so syft has something to find.
func mustBuiltImage(t *testing.T, reg *testkit.Registry) (name.Digest, *build.Result) {
	t.Helper()
	res, err := build.Assemble(context.Background(), testkit.BuildOptions(testkit.MustRepo(t)))
	testkit.Must(t, err)
	return testkit.MustPush(t, reg.Host+"/acme/app", res.Image), res
}

func TestGenerateDescribesTheImage(t *testing.T) {
	reg := testkit.MustRegistry(t)
	ref, res := mustBuiltImage(t, reg)
	ctx := context.Background()
	img, canonical, err := sbom.Image(ctx, ref.String())
	testkit.Must(t, err)
	if canonical != ref.String() {
		t.Fatalf("reference %s, want %s", canonical, ref)
	}
	docs, err := sbom.Generate(ctx, img, canonical)
	testkit.Must(t, err)
	spdx, err := predicate.Summarize(predicate.TypeSPDX, docs.SPDX)
	testkit.Must(t, err)
	cdx, err := predicate.Summarize(predicate.TypeCycloneDX, docs.CycloneDX)
	testkit.Must(t, err)
	for _, s := range []*predicate.SBOMSummary{spdx.SBOM, cdx.SBOM} {
		// The documents also list the image itself.
		if docs.Packages < 2 || s.Packages != docs.Packages+1 {
			t.Errorf("%s: %d packages, generate catalogued %d", s.Format, s.Packages, docs.Packages)
		}
		if !slices.ContainsFunc(s.GoModules, func(p string) bool { return strings.HasPrefix(p, "pkg:golang/stdlib@") }) ||
			!slices.ContainsFunc(s.GoModules, func(p string) bool { return strings.HasPrefix(p, "pkg:golang/example.com/app") }) {
			t.Errorf("%s: Go modules %v lack the binary's main module or its standard library", s.Format, s.GoModules)
		}
	}
	if spdx.SBOM.Format != "spdx-"+sbom.SPDXVersion || cdx.SBOM.Format != "cyclonedx-"+sbom.CycloneDXVersion {
		t.Errorf("formats %s, %s", spdx.SBOM.Format, cdx.SBOM.Format)
	}
	if !strings.Contains(string(docs.SPDX), ref.DigestStr()) {
		t.Error("the SPDX document does not name the image digest")
	}
	checkMetadata(t, docs, res)
}

// checkMetadata: the documents name this project as creator and namespace, and the main
// module by the release's version; SPDX parses with spdx/tools-golang and CycloneDX with
// cyclonedx-go.
func checkMetadata(t *testing.T, docs *sbom.Documents, res *build.Result) {
	t.Helper()
	version := "v0.0.0-" + time.Unix(res.Epoch, 0).UTC().Format("20060102150405") + "-" + res.Revision[:12]
	doc, err := spdxjson.Read(bytes.NewReader(docs.SPDX))
	testkit.Must(t, err)
	if !slices.Contains(doc.CreationInfo.Creators, common.Creator{CreatorType: "Organization", Creator: sbom.Organization}) ||
		strings.Contains(string(docs.SPDX), "Anchore") || !strings.HasPrefix(doc.DocumentNamespace, sbom.NamespaceBase) {
		t.Errorf("SPDX creators %v, namespace %s", doc.CreationInfo.Creators, doc.DocumentNamespace)
	}
	if !slices.ContainsFunc(doc.Packages, func(p *spdx.Package) bool { return p.PackageName == "example.com/app" && p.PackageVersion == version }) {
		t.Errorf("SPDX: no main module example.com/app at %s", version)
	}
	var bom cdx.BOM
	testkit.Must(t, cdx.NewBOMDecoder(bytes.NewReader(docs.CycloneDX), cdx.BOMFileFormatJSON).Decode(&bom))
	if bom.Components == nil || !slices.ContainsFunc(*bom.Components, func(c cdx.Component) bool {
		return c.Name == "example.com/app" && c.Version == version && c.PackageURL == "pkg:golang/example.com/app@"+version
	}) || strings.Contains(string(docs.CycloneDX), `"UNKNOWN"`) {
		t.Errorf("CycloneDX: no main module example.com/app at %s", version)
	}
}

func TestImageFromAnOCILayout(t *testing.T) {
	dir := t.TempDir()
	o := testkit.BuildOptions(testkit.MustRepo(t))
	o.OCILayout = dir
	res, err := build.Run(context.Background(), o)
	testkit.Must(t, err)
	img, canonical, err := sbom.Image(context.Background(), res.Ref)
	testkit.Must(t, err)
	dg, err := img.Digest()
	testkit.Must(t, err)
	if dg.String() != res.Digest || canonical != dir+"@"+res.Digest {
		t.Fatalf("loaded %s as %s, want %s", dg, canonical, res.Ref)
	}
}

// TestSBOMRefuses: an SBOM is only ever made of the very image named by digest.
func TestSBOMRefuses(t *testing.T) {
	reg := testkit.MustRegistry(t)
	ref, res := mustBuiltImage(t, reg)
	ctx := context.Background()
	t.Run("a tag", func(t *testing.T) {
		if _, _, err := sbom.Image(ctx, ref.Repository.Name()+":latest"); !errors.Is(err, ociutil.ErrNotDigest) {
			t.Fatalf("got %v, want ErrNotDigest", err)
		}
	})
	t.Run("a digest the registry does not have", func(t *testing.T) {
		missing := ref.Repository.Name() + "@sha256:" + strings.Repeat("0", 64)
		if _, _, err := sbom.Image(ctx, missing); err == nil {
			t.Fatal("loaded an image that does not exist")
		}
	})
	t.Run("a digest an OCI layout does not have", func(t *testing.T) {
		dir := t.TempDir()
		o := testkit.BuildOptions(testkit.MustRepo(t))
		o.OCILayout = dir
		_, err := build.Run(ctx, o)
		testkit.Must(t, err)
		if _, _, err := sbom.Image(ctx, dir+"@sha256:"+strings.Repeat("0", 64)); err == nil {
			t.Fatal("loaded an image the layout does not hold")
		}
	})
	t.Run("a layer the registry serves changed", func(t *testing.T) {
		layers, err := res.Image.Layers()
		testkit.Must(t, err)
		h, err := layers[0].Digest()
		testkit.Must(t, err)
		reg.Tamper(h)
		img, canonical, err := sbom.Image(ctx, ref.String())
		if err == nil {
			_, err = sbom.Generate(ctx, img, canonical)
		}
		if err == nil {
			t.Fatal("an SBOM was generated from a layer that does not match its digest")
		}
	})
}

// TestPrepareChangesNothingButWhen: a scanner prepared beforehand gives the same SBOM.
func TestPrepareChangesNothingButWhen(t *testing.T) {
	reg := testkit.MustRegistry(t)
	ref, res := mustBuiltImage(t, reg)
	ctx := context.Background()
	pctx, err := sbom.Prepare(ctx)
	testkit.Must(t, err)
	var summaries []*predicate.SBOMSummary
	for _, c := range []context.Context{ctx, pctx} {
		docs, err := sbom.Generate(c, res.Image, ref.String())
		testkit.Must(t, err)
		for _, b := range [][]byte{docs.SPDX, docs.CycloneDX} {
			typ, err := predicate.TypeFor(predicate.KindSBOM, b)
			testkit.Must(t, err)
			s, err := predicate.Summarize(typ, b)
			testkit.Must(t, err)
			summaries = append(summaries, s.SBOM)
		}
	}
	if !reflect.DeepEqual(summaries[:2], summaries[2:]) {
		t.Fatalf("SBOMs differ with a prepared scanner:\n%+v\n%+v", summaries[:2], summaries[2:])
	}
}
