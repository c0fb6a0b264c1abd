package sbom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/secure-movie-service/sms/pipeline/build"
	"github.com/secure-movie-service/sms/pipeline/buildinfo"
)

// What the documents say about who made them: this project, not syft's vendor.
const (
	Organization  = "Secure Movie Service"
	NamespaceBase = "https://github.com/secure-movie-service/sms/sbom/"
	unknown       = "UNKNOWN" // syft's version for a main module built outside a module proxy
)

// meta is what the release knows that syft does not: the digest and the release's version.
type meta struct {
	digest  string // sha256:…
	version string // a Go pseudo-version of the commit, "" when the image does not say
}

// metaOf reads the image's revision and creation time (pipeline/build's annotations) and
// turns them into the Go pseudo-version of that commit: v0.0.0-YYYYMMDDhhmmss-<12 hex>.
func metaOf(img v1.Image) (meta, error) {
	d, err := img.Digest()
	if err != nil {
		return meta{}, err
	}
	m := meta{digest: d.String()}
	mf, err := img.Manifest()
	if err != nil {
		return meta{}, err
	}
	rev, created := mf.Annotations[build.AnnotationRevision], mf.Annotations[build.AnnotationCreated]
	t, err := time.Parse(time.RFC3339, created)
	if len(rev) >= 12 && err == nil {
		m.version = fmt.Sprintf("v0.0.0-%s-%s", t.UTC().Format("20060102150405"), rev[:12])
	}
	return m, nil
}

// fixSPDX names this project as the creator (with the pipeline's and syft's versions), puts
// the document under this project's namespace (one per image digest), and gives the main
// module the release's version.
func fixSPDX(doc []byte, m meta) ([]byte, error) {
	var d map[string]any
	if err := decodeJSON(doc, &d); err != nil {
		return nil, fmt.Errorf("spdx: %w", err)
	}
	name, _ := d["name"].(string)
	d["documentNamespace"] = NamespaceBase + strings.NewReplacer(":", "-", "/", "-").Replace(name) + "-" + strings.TrimPrefix(m.digest, "sha256:")
	if ci, ok := d["creationInfo"].(map[string]any); ok {
		ci["creators"] = []string{"Organization: " + Organization, "Tool: pipeline-" + buildinfo.Version(), "Tool: syft-" + buildinfo.Dep("github.com/anchore/syft")}
	}
	pkgs, _ := d["packages"].([]any)
	for _, p := range pkgs {
		pm, _ := p.(map[string]any)
		if m.version == "" || pm["versionInfo"] != unknown {
			continue
		}
		refs, _ := pm["externalRefs"].([]any)
		for _, r := range refs {
			rm, _ := r.(map[string]any)
			if purl, ok := mainModulePURL(rm["referenceLocator"]); ok && rm["referenceType"] == "purl" {
				pm["versionInfo"], rm["referenceLocator"] = m.version, purl+"@"+m.version
			}
		}
	}
	return encodeJSON(d)
}

// fixCycloneDX gives the main module the release's version.
func fixCycloneDX(doc []byte, m meta) ([]byte, error) {
	var d map[string]any
	if err := decodeJSON(doc, &d); err != nil {
		return nil, fmt.Errorf("cyclonedx: %w", err)
	}
	comps, _ := d["components"].([]any)
	for _, c := range comps {
		cm, _ := c.(map[string]any)
		if purl, ok := mainModulePURL(cm["purl"]); ok && m.version != "" && cm["version"] == unknown {
			cm["version"], cm["purl"] = m.version, purl+"@"+m.version
		}
	}
	return encodeJSON(d)
}

// mainModulePURL reports whether v is the purl syft gives a Go main module it found no
// version for: pkg:golang/<path>, without @version.
func mainModulePURL(v any) (string, bool) {
	s, _ := v.(string)
	return s, strings.HasPrefix(s, "pkg:golang/") && !strings.Contains(s, "@")
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
