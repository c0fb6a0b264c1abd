// Package controls is `pipeline controls`: it makes the threat model executable. It loads
// threatmodel/threatmodel.yaml, runs every piece of evidence the model names, and decides,
// for every control and threat, whether it holds.
//
// Evidence runs once: a single `go test -json -run` over every Go package the evidence names,
// running exactly the tests it names (with their subtests; each package builds and runs once,
// whatever the number of ids that point into it, and its other tests are make test's), the Rego
// tests of every policy directory that declares a named package through OPA's tester
// in-process, and the pipeline checks the caller provides (check:<name>). A control holds when
// it answers at least one threat and every evidence id resolved to a test that ran and passed
// (a skipped test, or one with a skipped or failed subtest, does not count) or to a check that
// passed. A manual control holds through a current signed attestation (pipeline/signoff) by a
// reviewer key of policy/data/reviewers.json that holds its role; a platform control through
// what the platform shows (Options.Platform, e.g. pipeline/branchprotection). Without either
// the control's attestation is missing: listed in every report and in the predicate, a
// failure only with Options.RequireAttestations. A present but invalid attestation always
// fails. A threat holds when it has controls, none fails and at least one holds.
//
// The report renders as a terminal matrix, Markdown (with a Mermaid data-flow diagram and a
// traceability matrix), JSON, SARIF 2.1.0 (each finding at its line in the model), JUnit XML,
// and the control-results predicate that `pipeline attest --type controls` signs. Attest is
// `pipeline controls attest`: a reviewer signs a manual control.
package controls
