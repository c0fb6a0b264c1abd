// Package predicate names the in-toto predicate types the pipeline signs and checks, and
// parses each into the short summary that verification reports as a fact. Parsing is strict:
// a predicate that does not have its type's required shape is reported as invalid, and
// admission treats an invalid predicate as absent.
package predicate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Predicate type URIs.
const (
	TypeSPDX       = "https://spdx.dev/Document"      // SPDX 2.3 JSON (cosign --type spdxjson)
	TypeCycloneDX  = "https://cyclonedx.org/bom"      // CycloneDX JSON (cosign --type cyclonedx)
	TypeProvenance = "https://slsa.dev/provenance/v1" // SLSA v1 (cosign --type slsaprovenance1)
	TypeControls   = "https://github.com/secure-movie-service/sms/attestation/controls/v1"
	TypeVuln       = "https://cosign.sigstore.dev/attestation/vuln/v1" // cosign --type vuln
)

// StatementType is the in-toto statement version the pipeline writes.
const StatementType = "https://in-toto.io/Statement/v1"

// Kinds accepted by `pipeline attest --type`.
const (
	KindSBOM       = "sbom"
	KindProvenance = "provenance"
	KindControls   = "controls"
	KindVuln       = "vuln"
)

// MaxSize bounds a predicate read from a file or a registry.
const MaxSize = 32 << 20

// ErrUnknownKind is returned for an attest --type the pipeline does not know.
var ErrUnknownKind = errors.New("unknown attestation type (want sbom, provenance, controls or vuln)")

// TypeFor returns the predicate type for a kind and the predicate's bytes. An SBOM is SPDX or
// CycloneDX by its content.
func TypeFor(kind string, raw []byte) (string, error) {
	switch kind {
	case KindSBOM:
		var probe struct {
			SPDXVersion string `json:"spdxVersion"`
			BOMFormat   string `json:"bomFormat"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return "", fmt.Errorf("sbom predicate: %w", err)
		}
		switch {
		case probe.SPDXVersion != "":
			return TypeSPDX, nil
		case probe.BOMFormat != "":
			return TypeCycloneDX, nil
		}
		return "", errors.New("sbom predicate is neither SPDX (spdxVersion) nor CycloneDX (bomFormat)")
	case KindProvenance:
		return TypeProvenance, nil
	case KindControls:
		return TypeControls, nil
	case KindVuln:
		return TypeVuln, nil
	}
	return "", fmt.Errorf("%q: %w", kind, ErrUnknownKind)
}

// Summary is what verification reports about one predicate. Exactly one field is set.
type Summary struct {
	SBOM       *SBOMSummary       `json:"sbom,omitempty"`
	Provenance *ProvenanceSummary `json:"provenance,omitempty"`
	Controls   *ControlsSummary   `json:"controls,omitempty"`
	Vuln       *VulnSummary       `json:"vuln,omitempty"`
}

// Summarize validates a predicate of a known type and summarises it. Unknown types return a
// nil summary and no error: they are reported, but admission gives them no weight. Every
// predicate must first be one unambiguous JSON value of at most MaxSize bytes.
func Summarize(predicateType string, raw []byte) (*Summary, error) {
	var prefix string
	switch predicateType {
	case TypeSPDX:
		prefix = "spdx"
	case TypeCycloneDX:
		prefix = "cyclonedx"
	case TypeProvenance:
		prefix = "provenance"
	case TypeControls:
		prefix = "controls"
	case TypeVuln:
		prefix = "vuln"
	default:
		return nil, nil
	}
	if err := Unambiguous(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	var sum Summary
	var err error
	switch predicateType {
	case TypeSPDX:
		sum.SBOM, err = summarizeSPDX(raw)
	case TypeCycloneDX:
		sum.SBOM, err = summarizeCycloneDX(raw)
	case TypeProvenance:
		sum.Provenance, err = summarizeProvenance(raw)
	case TypeControls:
		sum.Controls, err = summarizeControls(raw)
	case TypeVuln:
		sum.Vuln, err = summarizeVuln(raw)
	}
	if err != nil {
		return nil, err
	}
	return &sum, nil
}

// strict decodes raw into v, refusing unknown fields and trailing data.
func strict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the predicate")
	}
	return nil
}
