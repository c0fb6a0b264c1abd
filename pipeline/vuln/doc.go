// Package vuln scans the repository's Go code and the service binary for known
// vulnerabilities with govulncheck, used as a library (golang.org/x/vuln/scan), against a
// vulnerability database whose exact content is pinned in go.mod.
//
// # The database is a module
//
// The Go vulnerability database is published as the module golang.org/x/vulndb, whose
// data/osv directory holds every OSV entry. The root go.mod requires it at one version and
// go.sum holds its checksum, so the snapshot is checksum-verified like any dependency and
// Dependabot bumps it like any module. To survive `go mod tidy -e` (which drops a
// requirement no package uses) go.mod names one of the module's commands as a tool:
//
//	tool golang.org/x/vulndb/cmd/forks
//
// That command imports only the standard library, so the pin adds no package to the build
// graph; it is never run. PinnedSnapshot reads the version with
// `go list -m -json golang.org/x/vulndb` and fetches the module with
// `go mod download -json golang.org/x/vulndb@VERSION`, which checks it against go.sum.
// PrepareDB then lays the entries out, once per version, as the v1 database govulncheck
// reads with `-db file://DIR` (index/db.json, index/modules.json, index/vulns.json,
// ID/<id>.json). The module's entries carry no dates (vuln.go.dev's deployment sets
// "modified" from the repository history), so the database's date in index/db.json is the
// snapshot's commit time, from its pseudo-version (or a newer entry's modified time, when
// entries carry one). OpenDB uses a live database instead (the weekly CI run's
// https://vuln.go.dev), reading its date from its index/db.json.
//
// # Findings and exceptions
//
// A vulnerable symbol that the scanned code calls (source mode) or that the binary contains
// (binary mode) fails the scan; a vulnerable module that is only required, or a package
// only imported, is reported as informational. The only way to waive a failing finding is
// an OpenVEX statement kept in the repository (vex/): status not_affected, a justification
// from OpenVEX's list, an impact statement and an expiry date. A statement that is expired,
// unjustified or malformed fails the scan.
//
// Every report names the database's date; a database older than MaxDBAge is a warning in
// the report (admission policy decides what a release may use).
//
// A source scan of the toolkit module takes minutes and several GB of memory (govulncheck
// builds the call graph of syft, OPA and cosign); Options.ResultCache keeps each module's
// findings under a hash of every input of its scan, so an unchanged tree is not scanned twice.
package vuln
