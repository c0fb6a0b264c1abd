package predicate

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// BuildType identifies this pipeline's build recipe in SLSA provenance.
const BuildType = "https://github.com/secure-movie-service/sms/pipeline/build/v1"

// Provenance is a SLSA v1 provenance predicate (https://slsa.dev/spec/v1.0/provenance).
type Provenance struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

// BuildDefinition is SLSA's buildDefinition.
type BuildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   ExternalParameters   `json:"externalParameters"`
	InternalParameters   map[string]any       `json:"internalParameters,omitempty"`
	ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies,omitempty"`
}

// ExternalParameters are the inputs a user controls, for this build type.
type ExternalParameters struct {
	Source   Source   `json:"source"`
	Package  string   `json:"package"`
	Command  []string `json:"command"`
	Platform string   `json:"platform"`
	Base     string   `json:"base,omitempty"`
}

// Source is the repository and commit the image was built from.
type Source struct {
	Repository string `json:"repository"`
	Revision   string `json:"revision"`
	Dirty      bool   `json:"dirty,omitempty"`
}

// ResourceDescriptor is in-toto's ResourceDescriptor (the fields used here).
type ResourceDescriptor struct {
	URI    string            `json:"uri,omitempty"`
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest,omitempty"`
}

// RunDetails is SLSA's runDetails.
type RunDetails struct {
	Builder  Builder        `json:"builder"`
	Metadata *BuildMetadata `json:"metadata,omitempty"`
}

// Builder identifies the builder.
type Builder struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

// BuildMetadata is SLSA's run metadata.
type BuildMetadata struct {
	InvocationID string     `json:"invocationId,omitempty"`
	StartedOn    *time.Time `json:"startedOn,omitempty"`
	FinishedOn   *time.Time `json:"finishedOn,omitempty"`
}

// ProvenanceSummary is the verified summary of a provenance predicate.
type ProvenanceSummary struct {
	BuildType        string `json:"build_type"`
	BuilderID        string `json:"builder_id"`
	SourceRepository string `json:"source_repository"`
	SourceRevision   string `json:"source_revision"`
	Dirty            bool   `json:"dirty"`
	Dependencies     int    `json:"resolved_dependencies"`
	// SourceDateEpoch is the source commit's time (internalParameters.source_date_epoch, Unix
	// seconds; 0 when absent): admission refuses releases older than policy data's minimum.
	SourceDateEpoch int64 `json:"source_date_epoch"`
	// Platform is externalParameters.platform (os/arch), which admission compares with the
	// image's config.
	Platform string `json:"platform"`
}

// sourceDateEpoch reads internalParameters.source_date_epoch: a whole, positive number of
// seconds, or 0.
func sourceDateEpoch(p map[string]any) int64 {
	f, ok := p["source_date_epoch"].(float64)
	if !ok || f <= 0 || f != float64(int64(f)) {
		return 0
	}
	return int64(f)
}

func summarizeProvenance(raw []byte) (*ProvenanceSummary, error) {
	var p Provenance
	if err := strict(raw, &p); err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	var missing []string
	bd := p.BuildDefinition
	if bd.BuildType == "" {
		missing = append(missing, "buildDefinition.buildType")
	}
	if bd.ExternalParameters.Source.Repository == "" {
		missing = append(missing, "externalParameters.source.repository")
	}
	if !isHex(bd.ExternalParameters.Source.Revision, 40) && !isHex(bd.ExternalParameters.Source.Revision, 64) {
		missing = append(missing, "externalParameters.source.revision (a full commit id)")
	}
	if p.RunDetails.Builder.ID == "" {
		missing = append(missing, "runDetails.builder.id")
	}
	if len(missing) > 0 {
		return nil, errors.New("provenance: missing " + strings.Join(missing, ", "))
	}
	return &ProvenanceSummary{
		BuildType: bd.BuildType, BuilderID: p.RunDetails.Builder.ID,
		SourceRepository: bd.ExternalParameters.Source.Repository,
		SourceRevision:   bd.ExternalParameters.Source.Revision,
		Dirty:            bd.ExternalParameters.Source.Dirty,
		Dependencies:     len(bd.ResolvedDependencies),
		SourceDateEpoch:  sourceDateEpoch(bd.InternalParameters),
		Platform:         bd.ExternalParameters.Platform,
	}, nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
