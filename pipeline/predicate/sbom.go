package predicate

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// SBOMSummary is the verified summary of an SBOM predicate.
type SBOMSummary struct {
	Format     string   `json:"format"` // "spdx-2.3" or "cyclonedx-1.x"
	Name       string   `json:"name,omitempty"`
	Packages   int      `json:"packages"`
	GoModules  []string `json:"go_modules"` // purls of Go modules found in the image's binaries
	Generators []string `json:"generators,omitempty"`
}

func summarizeSPDX(raw []byte) (*SBOMSummary, error) {
	var doc struct {
		SPDXVersion  string `json:"spdxVersion"`
		SPDXID       string `json:"SPDXID"`
		DataLicense  string `json:"dataLicense"`
		Name         string `json:"name"`
		Namespace    string `json:"documentNamespace"`
		CreationInfo *struct {
			Creators []string `json:"creators"`
			Created  string   `json:"created"`
		} `json:"creationInfo"`
		Packages []struct {
			SPDXID       string `json:"SPDXID"`
			Name         string `json:"name"`
			ExternalRefs []struct {
				Type    string `json:"referenceType"`
				Locator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("spdx: %w", err)
	}
	var missing []string
	if doc.SPDXVersion != "SPDX-2.3" {
		missing = append(missing, fmt.Sprintf("spdxVersion %q is not SPDX-2.3", doc.SPDXVersion))
	}
	if doc.SPDXID != "SPDXRef-DOCUMENT" {
		missing = append(missing, "SPDXID is not SPDXRef-DOCUMENT")
	}
	if doc.DataLicense != "CC0-1.0" {
		missing = append(missing, "dataLicense is not CC0-1.0")
	}
	if doc.Name == "" || doc.Namespace == "" {
		missing = append(missing, "name or documentNamespace missing")
	}
	if doc.CreationInfo == nil || len(doc.CreationInfo.Creators) == 0 || doc.CreationInfo.Created == "" {
		missing = append(missing, "creationInfo missing")
	}
	if doc.Packages == nil {
		missing = append(missing, "packages missing")
	}
	if len(missing) > 0 {
		return nil, errors.New("spdx: " + strings.Join(missing, "; "))
	}
	s := &SBOMSummary{Format: "spdx-2.3", Name: doc.Name, Packages: len(doc.Packages), GoModules: []string{}, Generators: doc.CreationInfo.Creators}
	for _, p := range doc.Packages {
		for _, r := range p.ExternalRefs {
			if r.Type == "purl" && strings.HasPrefix(r.Locator, "pkg:golang/") {
				s.GoModules = append(s.GoModules, r.Locator)
			}
		}
	}
	return s, nil
}

// cdxVersion matches the CycloneDX 1.x specification versions.
var cdxVersion = regexp.MustCompile(`^1\.[0-9]{1,2}$`)

func summarizeCycloneDX(raw []byte) (*SBOMSummary, error) {
	var doc struct {
		BOMFormat   string `json:"bomFormat"`
		SpecVersion string `json:"specVersion"`
		Metadata    *struct {
			Component *struct {
				Name string `json:"name"`
			} `json:"component"`
			Tools json.RawMessage `json:"tools"`
		} `json:"metadata"`
		Components []struct {
			Name string `json:"name"`
			PURL string `json:"purl"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("cyclonedx: %w", err)
	}
	if doc.BOMFormat != "CycloneDX" || !cdxVersion.MatchString(doc.SpecVersion) {
		return nil, fmt.Errorf("cyclonedx: bomFormat %q specVersion %q", doc.BOMFormat, doc.SpecVersion)
	}
	if doc.Metadata == nil {
		return nil, errors.New("cyclonedx: metadata missing")
	}
	s := &SBOMSummary{Format: "cyclonedx-" + doc.SpecVersion, Packages: len(doc.Components), GoModules: []string{}}
	if doc.Metadata.Component != nil {
		s.Name = doc.Metadata.Component.Name
	}
	for _, c := range doc.Components {
		if strings.HasPrefix(c.PURL, "pkg:golang/") {
			s.GoModules = append(s.GoModules, c.PURL)
		}
	}
	return s, nil
}
