// Package env declares, once, every environment variable the pipeline reads: its name, what
// it means and whether its value is secret. Code reads variables only through a Var, passing
// the getenv function it was given, so tests never depend on the process environment.
package env

// Var is one environment variable the pipeline reads.
type Var struct {
	Name      string
	Meaning   string
	Sensitive bool // the value is a secret: never print, log or store it
}

// Get returns the variable's value from getenv.
func (v Var) Get(getenv func(string) string) string {
	if getenv == nil {
		return ""
	}
	return getenv(v.Name)
}

var (
	// CosignPassword decrypts (and, for keygen, encrypts) cosign private keys.
	CosignPassword = Var{"COSIGN_PASSWORD", "password of the encrypted cosign private key", true}
	// SourceDateEpoch overrides the commit time used for timestamps in the image.
	SourceDateEpoch = Var{"SOURCE_DATE_EPOCH", "Unix time used for every timestamp in the image; default: the commit time (git log -1 --format=%ct)", false}
	// BuilderID names the builder in SLSA provenance (CI sets it to the workflow run).
	BuilderID = Var{"PIPELINE_BUILDER_ID", "SLSA builder id written into provenance; default: the local pipeline builder", false}
	// InvocationID identifies the build run in SLSA provenance.
	InvocationID = Var{"PIPELINE_INVOCATION_ID", "SLSA invocation id written into provenance (for example the CI run URL)", false}
	// GitHubToken lets pipeline controls read the default branch's protection and rulesets.
	GitHubToken = Var{"GITHUB_TOKEN", "token pipeline controls reads branch protection with (platform controls); unset: not verifiable here", true}
	// GitHubRepository is owner/name of the repository whose branch protection is read.
	GitHubRepository = Var{"GITHUB_REPOSITORY", "owner/name of the repository whose default branch protection pipeline controls reads", false}
	// GitHubAPIURL overrides GitHub's REST API base URL (GitHub Enterprise; tests).
	GitHubAPIURL = Var{"GITHUB_API_URL", "GitHub REST API base URL; default https://api.github.com", false}
)

// All lists every variable, for documentation and the usage text.
var All = []Var{CosignPassword, SourceDateEpoch, BuilderID, InvocationID, GitHubToken, GitHubRepository, GitHubAPIURL}
