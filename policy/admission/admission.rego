# METADATA
# title: Deployment admission over verified supply-chain facts
# description: >-
#   Decides whether a workload (Pod, Deployment, …, or a Kubernetes AdmissionReview) or a bare
#   image reference may run. Image rules read only verified facts, which `pipeline admit` (or a
#   verifier job that fills data.supply_chain.facts) derives from cosign signatures and in-toto
#   attestations — never from what the workload or the caller claims. Every failure is its own
#   deny reason with a stable code; the decision allows only when there is none.
# custom:
#   input: >-
#     {"images": [ref…], "facts": {ref: facts}} | {"object": workload, "facts": {…}} |
#     AdmissionReview {"request": {"object": workload, …}} | Gatekeeper {"review": {"object": …}}
package admission

import rego.v1

# METADATA
# title: The verdict
# description: allow is true only when the input is complete and no deny reason holds.
default allow := false

allow if {
	count(images) > 0
	count(deny) == 0
}

# METADATA
# title: The decision document pipeline admit reads
decision := {
	"allow": allow,
	"admitted_by": admitted_by,
	"deny": [d | some d in deny],
	"warn": [d | some d in warn],
	"dry_run": [d | some d in dry_run],
}

# ---------------------------------------------------------------------------
# Enforcement levels, as Gatekeeper and Kyverno have them

# METADATA
# title: Enforcement levels
# description: >-
#   Every rule yields findings; the level of its code decides what a finding does: deny blocks,
#   warn is reported beside the verdict, dryrun is recorded only. Policy data may lower the level
#   only of the rules in relaxable (a missing attestation, a stale vulnerability database); every
#   other rule denies whatever the data says, and data that tries otherwise is itself a denial.
#   The production data sets no level: everything denies.
# custom:
#   controls: [C-ADMISSION-LEVELS]
levels := {"deny", "warn", "dryrun"}

relaxable := {
	"REVIEW_ATTESTATION_MISSING", "SBOM_MISSING", "PROVENANCE_MISSING",
	"CONTROLS_MISSING", "VULN_SCAN_MISSING", "VULN_DB_STALE", "TLOG_NOT_VERIFIED",
}

enforcement := object.get(data.supply_chain, "enforcement", {})

level(code) := enforcement[code] if {
	code in relaxable
	enforcement[code] in levels
} else := "deny"

# METADATA
# title: The findings that block admission
# custom:
#   controls: [C-ADMISSION-LEVELS]
deny contains f if {
	some f in finding
	level(f.code) == "deny"
}

# METADATA
# title: The findings reported as warnings (never an allow for anything else)
warn contains f if {
	some f in finding
	level(f.code) == "warn"
}

# METADATA
# title: The findings recorded in dry-run mode
dry_run contains f if {
	some f in finding
	level(f.code) == "dryrun"
}

# METADATA
# title: ENFORCEMENT_INVALID — data may lower only the relaxable rules, to a known level
# custom:
#   controls: [C-ADMISSION-LEVELS]
finding contains reason("ENFORCEMENT_INVALID", "", "", msg) if {
	some code, l in enforcement
	not enforcement_ok(code, l)
	msg := sprintf("policy data sets rule %v to %v; only %v may be lowered (to warn or dryrun)", [
		code, l, concat(", ", sort(relaxable)),
	])
}

enforcement_ok(_, "deny")

enforcement_ok(code, l) if {
	code in relaxable
	l in levels
}

# ---------------------------------------------------------------------------
# What is being admitted

supported_kinds := {"Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"}

# The workload: AdmissionReview, Gatekeeper review, or pipeline admit --manifest.
workload := input.request.object if input.request.object

else := input.review.object if input.review.object

else := input.object if input.object

workload_mode if workload

# The pod, or the pod template of a workload: its metadata (annotations) and its spec.
pod_template := workload if workload.kind == "Pod"

template_kinds := {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"}

pod_template := workload.spec.template if workload.kind in template_kinds

pod_template := workload.spec.jobTemplate.spec.template if workload.kind == "CronJob"

pod_spec := pod_template.spec

container_kinds := ["containers", "initContainers", "ephemeralContainers"]

# containers[i] is {"kind": "containers" | "initContainers" | "ephemeralContainers", "c": container}
containers contains {"kind": k, "c": c} if {
	some k in container_kinds
	some c in pod_spec[k]
}

# Every image the input asks to run.
images contains ref if {
	some x in containers
	ref := x.c.image
}

images contains ref if {
	not workload_mode
	some ref in input.images
}

# ---------------------------------------------------------------------------
# Input completeness

# METADATA
# title: INPUT_INVALID — empty or partial input is denied
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains reason("INPUT_INVALID", "", "", "the input names no workload and no image") if {
	not workload_mode
	count(images) == 0
}

finding contains reason("KIND_UNSUPPORTED", "", "", sprintf("kind %v is not a supported workload kind", [object.get(workload, "kind", "<none>")])) if {
	workload_mode
	not supported_workload
}

# A helper, not `not workload.kind in supported_kinds`: with no kind at all that expression
# is undefined rather than true, and the workload would be denied without a reason.
supported_workload if workload.kind in supported_kinds

finding contains reason("INPUT_INVALID", "", "", "the workload has no pod spec with containers") if {
	workload_mode
	workload.kind in supported_kinds
	count(containers) == 0
}

finding contains reason("INPUT_INVALID", "", cname(x), "a container has no image") if {
	some x in containers
	not is_string(object.get(x.c, "image", null))
}

finding contains reason("INPUT_INVALID", "", cname(x), "a container has an empty image") if {
	some x in containers
	x.c.image == ""
}

# ---------------------------------------------------------------------------
# Helpers

reason(code, image, container, msg) := {"code": code, "image": image, "container": container, "message": msg}

digest_re := `@sha256:[a-f0-9]{64}$`

pinned(ref) if regex.match(digest_re, ref)

digest_of(ref) := substring(ref, indexof(ref, "@") + 1, -1)

# Facts for an image: from pipeline admit (input.facts), else from a verifier job's data.
facts(ref) := input.facts[ref]

facts(ref) := data.supply_chain.facts[digest_of(ref)] if {
	not input.facts[ref]
	pinned(ref)
}

# ---------------------------------------------------------------------------
# Who is trusted to sign an image: policy data's keys (trusted_keys, every repository) and,
# per repository, the keys and keyless identities of supply_chain.trust. An entry's
# repository is one repository exactly (host/path) or a prefix that ends in /.

repo_trust(ref) := [t |
	some t in object.get(data.supply_chain, "trust", [])
	trust_applies(t.repository, ref)
]

trust_applies(repo, ref) if {
	endswith(repo, "/")
	startswith(ref, repo)
}

trust_applies(repo, ref) if {
	not endswith(repo, "/")
	startswith(ref, concat("", [repo, "@"]))
}

trusted_key(_, key_id) if data.supply_chain.trusted_keys[key_id]

trusted_key(ref, key_id) if {
	some t in repo_trust(ref)
	key_id in object.get(t, "keys", [])
}

# Policy identities for the image's repository.
identities(ref) := [p | some t in repo_trust(ref); some p in object.get(t, "identities", [])]

# A subject pattern counts only anchored at both ends (^…$): unanchored, the release
# workflow's pattern would also match another repository's workflow that contains it.
anchored(re) if {
	startswith(re, "^")
	endswith(re, "$")
	not endswith(re, `\$`)
}

subject_matches(p, subject) if {
	object.get(p, "subject", "") != ""
	p.subject == subject
}

# An anchored pattern matches the whole subject in every branch: ^a|b$ is read as ^(?:a|b)$,
# never as "starts with a, or ends with b".
subject_matches(p, subject) if {
	re := object.get(p, "subject_regexp", "")
	anchored(re)
	regex.match(whole(re), subject)
}

whole(re) := concat("", ["^(?:", substring(re, 1, count(re) - 2), ")$"])

# Every GitHub claim the policy identity names is the certificate's.
claims_match(p, id) if {
	every k, v in object.get(p, "github", {}) {
		object.get(id, ["github", k], "") == v
	}
}

# METADATA
# title: A keyless signer is trusted for the image's repository (issuer, subject, GitHub claims)
# custom:
#   controls: [C-KEYLESS]
identity_trusted(ref, id) if {
	some p in identities(ref)
	p.issuer == id.issuer
	subject_matches(p, id.subject)
	claims_match(p, id)
}

# A signature or attestation fact made by a trusted key or a trusted identity.
signer_trusted(ref, x) if {
	object.get(x, "key_id", "") != ""
	trusted_key(ref, x.key_id)
}

signer_trusted(ref, x) if identity_trusted(ref, x.identity)

# What admitted the image: a key id, or an identity (issuer and subject).
signer_name(x) := {"key": x.key_id} if object.get(x, "key_id", "") != ""

signer_name(x) := {"identity": {"issuer": x.identity.issuer, "subject": x.identity.subject}} if {
	object.get(x, "key_id", "") == ""
	x.identity
}

# METADATA
# title: The trusted signers whose signatures over each image's digest admitted it
# custom:
#   controls: [C-IMAGE-SIGNED, C-KEYLESS]
admitted_by := {ref: signers |
	some ref in images
	pinned(ref)
	signers := sort_signers({signer_name(s) |
		some s in facts(ref).signatures
		signer_trusted(ref, s)
		s.digest == digest_of(ref)
	})
	count(signers) > 0
}

sort_signers(set) := [s | some k in sort([json.marshal(x) | some x in set]); s := json.unmarshal(k)]

sbom_types := {"https://spdx.dev/Document", "https://cyclonedx.org/bom"}

provenance_type := "https://slsa.dev/provenance/v1"

controls_type := "https://github.com/secure-movie-service/sms/attestation/controls/v1"

# Verified attestations of a type, by a trusted key, whose subject is the image's digest.
attestations(ref, types) := {a |
	some a in facts(ref).attestations
	a.predicate_type in types
	signer_trusted(ref, a)
	some s in a.subjects
	s.digest == digest_of(ref)
}

valid(atts) := {a | some a in atts; a.valid == true}

good_provenance(ref) := {a |
	some a in valid(attestations(ref, {provenance_type}))
	a.summary.provenance.source_repository == data.supply_chain.source_repository
}

default expected_source := "<unset>"

expected_source := data.supply_chain.source_repository

registry_allowed(ref) if {
	some prefix in data.supply_chain.registries
	endswith(prefix, "/")
	startswith(ref, prefix)
}

# One repository exactly (host/path, no tag or digest): what a release on loopback trusts.
registry_allowed(ref) if {
	some repo in data.supply_chain.repositories
	not contains(repo, "@")
	startswith(ref, concat("", [repo, "@"]))
}

# ---------------------------------------------------------------------------
# Image rules

# METADATA
# title: IMAGE_NOT_DIGEST — images are referenced by digest, never by tag
# custom:
#   controls: [C-ADMISSION-PINNED]
finding contains reason("IMAGE_NOT_DIGEST", ref, "", sprintf("%v is not pinned by digest (@sha256:…)", [ref])) if {
	some ref in images
	is_string(ref)
	not pinned(ref)
}

# METADATA
# title: REGISTRY_NOT_ALLOWED — the registry is on the allowlist (prefixes end in /)
# custom:
#   controls: [C-ADMISSION-PINNED]
finding contains reason("REGISTRY_NOT_ALLOWED", ref, "", sprintf("%v is not under an allowed registry prefix", [ref])) if {
	some ref in images
	is_string(ref)
	not registry_allowed(ref)
}

# METADATA
# title: FACTS_MISSING — a pinned image without verified facts is denied
# custom:
#   controls: [C-IMAGE-SIGNED]
finding contains reason("FACTS_MISSING", ref, "", sprintf("no verified facts for %v", [ref])) if {
	some ref in images
	pinned(ref)
	not has_facts(ref)
}

# has_facts keeps the call out of `not`: `not facts(ref).digest` would be silently undefined
# (never true) when facts(ref) is undefined, which is exactly the case to deny.
has_facts(ref) if facts(ref).digest

# METADATA
# title: FACTS_MISMATCH — the facts must be about the very digest referenced
# custom:
#   controls: [C-IMAGE-SIGNED]
finding contains reason("FACTS_MISMATCH", ref, "", sprintf("the facts are about %v, not %v", [facts(ref).digest, digest_of(ref)])) if {
	some ref in images
	pinned(ref)
	facts(ref).digest != digest_of(ref)
}

# METADATA
# title: CONTENT_UNVERIFIED — the registry's layers match the digests the signature covers
# custom:
#   controls: [C-IMAGE-SIGNED]
finding contains reason("CONTENT_UNVERIFIED", ref, "", "the image's layers were not verified against its digests") if {
	some ref in images
	pinned(ref)
	facts(ref).digest
	not facts(ref).content_verified == true
}

# METADATA
# title: SIGNATURE_MISSING — a signature by a trusted key or trusted identity over this digest
# custom:
#   controls: [C-IMAGE-SIGNED, C-KEYLESS]
finding contains reason("SIGNATURE_MISSING", ref, "", msg) if {
	some ref in images
	pinned(ref)
	not signed(ref)
	msg := sprintf("no signature by a trusted key or identity over %v", [digest_of(ref)])
}

signed(ref) if {
	some s in facts(ref).signatures
	signer_trusted(ref, s)
	s.digest == digest_of(ref)
}

# ---------------------------------------------------------------------------
# Why a keyless signature did not admit an unsigned image: each its own code. They hold only
# while the image has no trusted signature: material nobody trusts beside a trusted
# signature is information, not a reason to deny.

unsigned_keyless(ref) := {s |
	pinned(ref)
	not signed(ref)
	some s in facts(ref).signatures
	object.get(s, "key_id", "") == ""
	s.identity
	s.digest == digest_of(ref)
}

# METADATA
# title: IDENTITY_ISSUER — the certificate's OIDC issuer is no trusted identity's for the repository
# custom:
#   controls: [C-KEYLESS]
finding contains reason("IDENTITY_ISSUER", ref, "", msg) if {
	some ref in images
	some s in unsigned_keyless(ref)
	not s.identity.issuer in {p.issuer | some p in identities(ref)}
	msg := sprintf("signed by %v, issuer %v: no trusted identity of this repository has that issuer", [
		s.identity.subject, s.identity.issuer,
	])
}

# METADATA
# title: IDENTITY_SUBJECT — the issuer is trusted, the certificate's subject matches no trusted identity
# custom:
#   controls: [C-KEYLESS]
finding contains reason("IDENTITY_SUBJECT", ref, "", msg) if {
	some ref in images
	some s in unsigned_keyless(ref)
	same_issuer := [p | some p in identities(ref); p.issuer == s.identity.issuer]
	count(same_issuer) > 0
	not some_subject_match(same_issuer, s.identity.subject)
	not unanchored_match(same_issuer, s.identity.subject)
	msg := sprintf("signed by %v (issuer %v): no trusted identity of this repository has that subject", [
		s.identity.subject, s.identity.issuer,
	])
}

some_subject_match(ps, subject) if {
	some p in ps
	subject_matches(p, subject)
}

unanchored_match(ps, subject) if {
	some p in ps
	re := object.get(p, "subject_regexp", "")
	re != ""
	not anchored(re)
	regex.match(re, subject)
}

# METADATA
# title: IDENTITY_PATTERN_UNANCHORED — the subject matches only a pattern that is not anchored (^…$)
# custom:
#   controls: [C-KEYLESS]
finding contains reason("IDENTITY_PATTERN_UNANCHORED", ref, "", msg) if {
	some ref in images
	some s in unsigned_keyless(ref)
	same_issuer := [p | some p in identities(ref); p.issuer == s.identity.issuer]
	not some_subject_match(same_issuer, s.identity.subject)
	unanchored_match(same_issuer, s.identity.subject)
	msg := sprintf("subject %v matches only an unanchored subject_regexp, which never trusts", [s.identity.subject])
}

# METADATA
# title: IDENTITY_CLAIMS — issuer and subject are trusted, a GitHub claim the policy names differs
# custom:
#   controls: [C-KEYLESS]
finding contains reason("IDENTITY_CLAIMS", ref, "", msg) if {
	some ref in images
	some s in unsigned_keyless(ref)
	some p in identities(ref)
	p.issuer == s.identity.issuer
	subject_matches(p, s.identity.subject)
	not claims_match(p, s.identity)
	msg := sprintf("signed by %v: GitHub claims %v differ from the policy's %v", [
		s.identity.subject, json.marshal(object.get(s.identity, "github", {})), json.marshal(p.github),
	])
}

keyless_codes := {
	"CA_UNTRUSTED": "KEYLESS_CA_UNTRUSTED",
	"CERT_EXPIRED": "KEYLESS_CERT_EXPIRED",
	"TLOG_MISSING": "KEYLESS_TLOG_MISSING",
	"TLOG_INVALID": "KEYLESS_TLOG_INVALID",
	"TLOG_MISMATCH": "KEYLESS_TLOG_MISMATCH",
	"SCT_INVALID": "KEYLESS_SCT_INVALID",
	"SIGNATURE_INVALID": "KEYLESS_SIGNATURE_INVALID",
	"MALFORMED": "KEYLESS_MALFORMED",
}

# METADATA
# title: KEYLESS_* — a keyless signature that did not verify, by the reason verification gave
# description: >-
#   CA_UNTRUSTED (no Fulcio CA of the trusted root issued it), CERT_EXPIRED (not valid when
#   logged), TLOG_MISSING / TLOG_INVALID / TLOG_MISMATCH (no, a forged, or another signature's
#   Rekor entry), SCT_INVALID, SIGNATURE_INVALID, MALFORMED. An unknown reason is MALFORMED.
#   Rejected Sigstore bundles (OCI 1.1 referrers) count as well: a bundle may be a signature.
# custom:
#   controls: [C-KEYLESS]
finding contains reason(code, ref, "", msg) if {
	some ref in images
	pinned(ref)
	not signed(ref)
	some r in object.get(facts(ref), "rejected", [])
	r.kind in {"signature", "bundle"}
	code := object.get(keyless_codes, r.reason, "KEYLESS_MALFORMED")
	msg := sprintf("keyless signature %v did not verify: %v", [r.index, r.detail])
}

# METADATA
# title: SIGNATURE_DIGEST_MISMATCH — a trusted signer's signature on this image names another digest
# custom:
#   controls: [C-IMAGE-SIGNED, C-KEYLESS]
finding contains reason("SIGNATURE_DIGEST_MISMATCH", ref, "", msg) if {
	some ref in images
	pinned(ref)
	not signed(ref)
	some s in facts(ref).signatures
	signer_trusted(ref, s)
	s.digest != digest_of(ref)
	msg := sprintf("a trusted signature attached to %v signs %v (copied from another image)", [digest_of(ref), s.digest])
}

# METADATA
# title: ATTESTATION_SUBJECT_MISMATCH — a trusted signer's attestation on this image is about another digest
# custom:
#   controls: [C-SBOM, C-PROVENANCE, C-KEYLESS]
finding contains reason("ATTESTATION_SUBJECT_MISMATCH", ref, "", msg) if {
	some ref in images
	pinned(ref)
	some a in facts(ref).attestations
	signer_trusted(ref, a)
	not digest_of(ref) in {s.digest | some s in a.subjects}
	msg := sprintf("a trusted %v attestation attached to %v is about %v", [
		a.predicate_type, digest_of(ref), concat(", ", sort({s.digest | some s in a.subjects})),
	])
}

# METADATA
# title: TLOG_NOT_VERIFIED — keyless material was verified without a Rekor proof (development switch)
# description: >-
#   pipeline's --insecure-ignore-tlog verifies keyless material without requiring a Rekor
#   entry; production denies what it admits; the development overlay may lower this to warn.
# custom:
#   controls: [C-KEYLESS]
finding contains reason("TLOG_NOT_VERIFIED", ref, "", msg) if {
	some ref in images
	pinned(ref)
	some x in array.concat(facts(ref).signatures, facts(ref).attestations)
	identity_trusted(ref, x.identity)
	x.identity.tlog != true
	msg := sprintf("keyless material by %v was verified without a transparency-log proof", [x.identity.subject])
}

# METADATA
# title: TRUST_POLICY_INVALID — every subject_regexp in policy data is anchored (^…$)
# custom:
#   controls: [C-KEYLESS]
finding contains reason("TRUST_POLICY_INVALID", "", "", msg) if {
	some t in object.get(data.supply_chain, "trust", [])
	some p in object.get(t, "identities", [])
	re := object.get(p, "subject_regexp", "")
	re != ""
	not anchored(re)
	msg := sprintf("policy data trusts %v by the unanchored subject_regexp %v", [t.repository, re])
}

# METADATA
# title: SBOM_MISSING — an SBOM attestation for this digest by a trusted key
# custom:
#   controls: [C-SBOM]
finding contains reason("SBOM_MISSING", ref, "", sprintf("no SBOM attestation by a trusted key for %v", [digest_of(ref)])) if {
	some ref in images
	pinned(ref)
	count(attestations(ref, sbom_types)) == 0
}

# METADATA
# title: SBOM_INVALID — the SBOM attestation must be a well-formed SPDX 2.3 or CycloneDX document
# custom:
#   controls: [C-SBOM]
finding contains reason("SBOM_INVALID", ref, "", sprintf("the SBOM attestation for %v is malformed", [digest_of(ref)])) if {
	some ref in images
	pinned(ref)
	count(attestations(ref, sbom_types)) > 0
	count(valid(attestations(ref, sbom_types))) == 0
}

# METADATA
# title: PROVENANCE_MISSING — SLSA provenance whose subject is this digest, by a trusted key
# custom:
#   controls: [C-PROVENANCE]
finding contains reason("PROVENANCE_MISSING", ref, "", sprintf("no valid provenance by a trusted key for %v", [digest_of(ref)])) if {
	some ref in images
	pinned(ref)
	count(valid(attestations(ref, {provenance_type}))) == 0
}

# METADATA
# title: PROVENANCE_SOURCE — the provenance names the expected source repository
# custom:
#   controls: [C-PROVENANCE]
finding contains reason("PROVENANCE_SOURCE", ref, "", msg) if {
	some ref in images
	pinned(ref)
	provs := valid(attestations(ref, {provenance_type}))
	count(provs) > 0
	count(good_provenance(ref)) == 0
	msg := sprintf("provenance names source %v, expected %v", [
		concat(", ", sort([p.summary.provenance.source_repository | some p in provs])),
		expected_source,
	])
}

# METADATA
# title: PROVENANCE_DIRTY — release images are built from a committed tree
# description: Every provenance for the digest must say clean; one dirty one is enough to deny.
# custom:
#   controls: [C-PROVENANCE]
finding contains reason("PROVENANCE_DIRTY", ref, "", "the image was built from a work tree with uncommitted changes") if {
	some ref in images
	pinned(ref)
	some p in valid(attestations(ref, {provenance_type}))
	not p.summary.provenance.dirty == false
}

# METADATA
# title: PROVENANCE_REVISIONS — every provenance for the digest names one and the same revision
# custom:
#   controls: [C-PROVENANCE]
finding contains reason("PROVENANCE_REVISIONS", ref, "", msg) if {
	some ref in images
	pinned(ref)
	revisions := {object.get(p.summary.provenance, "source_revision", "") |
		some p in valid(attestations(ref, {provenance_type}))
	}
	count(revisions) > 1
	msg := sprintf("the provenance names more than one revision: %v", [concat(", ", sort(revisions))])
}

# METADATA
# title: PROVENANCE_BUILDER — the provenance names a builder policy data trusts
# description: Builder ids match exactly, or by a prefix that ends in / (a workflow at a tag).
# custom:
#   controls: [C-PROVENANCE]
finding contains reason("PROVENANCE_BUILDER", ref, "", msg) if {
	some ref in images
	pinned(ref)
	some p in valid(attestations(ref, {provenance_type}))
	not trusted_builder(object.get(p.summary.provenance, "builder_id", ""))
	msg := sprintf("the provenance's builder %v is not one policy data trusts", [object.get(p.summary.provenance, "builder_id", "")])
}

trusted_builder(id) if id in object.get(data.supply_chain, "builder_ids", [])

trusted_builder(id) if {
	some prefix in object.get(data.supply_chain, "builder_ids", [])
	endswith(prefix, "/")
	startswith(id, prefix)
}

# METADATA
# title: PROVENANCE_MISMATCH — the provenance agrees with the image it describes
# description: >-
#   The platform it names is the image's os/arch, and the image's revision annotation, where
#   it has one, is the revision the provenance names.
# custom:
#   controls: [C-PROVENANCE]
finding contains reason("PROVENANCE_MISMATCH", ref, "", msg) if {
	some ref in images
	pinned(ref)
	some p in valid(attestations(ref, {provenance_type}))
	platform := image_platform(facts(ref))
	object.get(p.summary.provenance, "platform", "") != platform
	msg := sprintf("the provenance names platform %q, the image is %v", [object.get(p.summary.provenance, "platform", ""), platform])
}

finding contains reason("PROVENANCE_MISMATCH", ref, "", msg) if {
	some ref in images
	pinned(ref)
	some p in valid(attestations(ref, {provenance_type}))
	annotated := facts(ref).annotations["org.opencontainers.image.revision"]
	annotated != object.get(p.summary.provenance, "source_revision", "")
	msg := sprintf("the image's revision annotation %v differs from the provenance's %v", [
		annotated, object.get(p.summary.provenance, "source_revision", ""),
	])
}

image_platform(f) := sprintf("%v/%v", [object.get(f, ["config", "os"], ""), object.get(f, ["config", "architecture"], "")])

# METADATA
# title: RELEASE_TOO_OLD — releases older than the supported minimum are not admitted (rollback)
# description: >-
#   Every provenance for the digest must name a source commit no older than policy data's
#   rollback.min_source_date; a provenance without the commit's time cannot show it.
# custom:
#   controls: [C-PROVENANCE]
finding contains reason("RELEASE_TOO_OLD", ref, "", msg) if {
	some ref in images
	pinned(ref)
	oldest := time.parse_rfc3339_ns(data.supply_chain.rollback.min_source_date)
	some p in valid(attestations(ref, {provenance_type}))
	object.get(p.summary.provenance, "source_date_epoch", 0) * 1000000000 < oldest
	msg := sprintf("the release's source commit is older than the supported minimum %v", [
		data.supply_chain.rollback.min_source_date,
	])
}

# METADATA
# title: RELEASE_UNPINNED — policy data sets the oldest supported release
# custom:
#   controls: [C-PROVENANCE]
finding contains reason("RELEASE_UNPINNED", ref, "", "policy data sets no rollback.min_source_date") if {
	some ref in images
	pinned(ref)
	not is_string(object.get(data.supply_chain, ["rollback", "min_source_date"], null))
}

# METADATA
# title: DIGEST_DENIED — a digest on policy data's deny-list is never admitted
# custom:
#   controls: [C-PROVENANCE]
finding contains reason("DIGEST_DENIED", ref, "", sprintf("%v is on the deny-list", [digest_of(ref)])) if {
	some ref in images
	pinned(ref)
	digest_of(ref) in object.get(data.supply_chain, ["rollback", "denied_digests"], [])
}

# METADATA
# title: CONTROLS_MISSING — a signed control-results attestation for this digest
# custom:
#   controls: [C-CONTROLS-ATTESTED]
finding contains reason("CONTROLS_MISSING", ref, "", sprintf("no control-results attestation by a trusted key for %v", [digest_of(ref)])) if {
	some ref in images
	pinned(ref)
	count(valid(attestations(ref, {controls_type}))) == 0
}

# The control ids the control results must cover: the threat model's, pinned in policy data.
required_controls := {id | some id in data.supply_chain.controls.required}

# METADATA
# title: CONTROLS_UNPINNED — policy data pins the controls every release must cover
# custom:
#   controls: [C-CONTROLS-ATTESTED]
finding contains reason("CONTROLS_UNPINNED", ref, "", "policy data names no required controls") if {
	some ref in images
	pinned(ref)
	count(required_controls) == 0
}

# Control results from a committed tree (a missing dirty flag is not clean).
clean_controls(ref) := {c |
	some c in valid(attestations(ref, {controls_type}))
	c.summary.controls.dirty == false
}

# METADATA
# title: CONTROLS_DIRTY — control results from a work tree with uncommitted changes never admit
# custom:
#   controls: [C-CONTROLS-ATTESTED]
finding contains reason("CONTROLS_DIRTY", ref, "", "the control results come from a work tree with uncommitted changes") if {
	some ref in images
	pinned(ref)
	count(valid(attestations(ref, {controls_type}))) > 0
	count(clean_controls(ref)) == 0
}

uncovered(c) := {id | some id in required_controls; not c.summary.controls.statuses[id]}

covering_controls(ref) := {c |
	some c in clean_controls(ref)
	count(required_controls) > 0
	count(uncovered(c)) == 0
}

# METADATA
# title: CONTROLS_INCOMPLETE — the control results cover every control the threat model has
# custom:
#   controls: [C-CONTROLS-ATTESTED]
finding contains reason("CONTROLS_INCOMPLETE", ref, "", msg) if {
	some ref in images
	pinned(ref)
	count(required_controls) > 0
	count(clean_controls(ref)) > 0
	count(covering_controls(ref)) == 0
	missing := {id | some c in clean_controls(ref); some id in uncovered(c)}
	msg := sprintf("the control results do not cover %v", [concat(", ", sort(missing))])
}

# Every tested control passed: passed is true, or false only because reviewer attestations are
# missing (REVIEW_ATTESTATION_MISSING names those), and nothing failed.
passing_controls(ref) := {c |
	some c in covering_controls(ref)
	tested_passed(c.summary.controls)
	count(c.summary.controls.failed) == 0
}

tested_passed(s) if s.passed == true

tested_passed(s) if count(s.attestations_missing) > 0

# METADATA
# title: CONTROLS_FAILED — every tested threat-model control passed
# custom:
#   controls: [C-CONTROLS-ATTESTED]
finding contains reason("CONTROLS_FAILED", ref, "", msg) if {
	some ref in images
	pinned(ref)
	ctl := covering_controls(ref)
	count(ctl) > 0
	count(passing_controls(ref)) == 0
	failed := {id | some c in ctl; some id in c.summary.controls.failed}
	msg := sprintf("controls did not pass: %v", [concat(", ", sort(failed))])
}

# METADATA
# title: REVIEW_ATTESTATION_MISSING — every manual control holds through a signed reviewer attestation
# custom:
#   controls: [C-CONTROLS-ATTESTED]
finding contains reason("REVIEW_ATTESTATION_MISSING", ref, "", msg) if {
	some ref in images
	pinned(ref)
	some c in passing_controls(ref)
	some id in c.summary.controls.attestations_missing
	msg := sprintf("control %v has no current signed attestation (nor, for a platform control, a verified setting)", [id])
}

# METADATA
# title: CONTROLS_REVISION — the control results are for the revision the image was built from
# custom:
#   controls: [C-CONTROLS-ATTESTED]
finding contains reason("CONTROLS_REVISION", ref, "", msg) if {
	some ref in images
	pinned(ref)
	count(passing_controls(ref)) > 0
	revisions := {p.summary.provenance.source_revision | some p in good_provenance(ref)}
	count(revisions) > 0
	not controls_match(ref, revisions)
	msg := sprintf("control results are for revision %v, the image was built from %v", [
		concat(", ", sort({c.summary.controls.revision | some c in passing_controls(ref)})),
		concat(", ", sort(revisions)),
	])
}

controls_match(ref, revisions) if {
	some c in passing_controls(ref)
	c.summary.controls.revision in revisions
}

vuln_type := "https://cosign.sigstore.dev/attestation/vuln/v1"

vuln_scans(ref) := valid(attestations(ref, {vuln_type}))

# METADATA
# title: VULN_SCAN_MISSING — a signed vulnerability-scan attestation for this digest
# custom:
#   controls: [C-IMAGE-SCAN]
finding contains reason("VULN_SCAN_MISSING", ref, "", sprintf("no vulnerability-scan attestation by a trusted key for %v", [digest_of(ref)])) if {
	some ref in images
	pinned(ref)
	count(vuln_scans(ref)) == 0
}

# METADATA
# title: VULN_FOUND — no scan of this digest found a called vulnerability that no VEX statement waives
# description: Any scan that found one denies, even when another scan did not (fail closed).
# custom:
#   controls: [C-IMAGE-SCAN]
finding contains reason("VULN_FOUND", ref, "", msg) if {
	some ref in images
	pinned(ref)
	found := {id | some a in vuln_scans(ref); some id in a.summary.vuln.findings}
	count(found) > 0
	msg := sprintf("the image calls vulnerable code: %v", [concat(", ", sort(found))])
}

# A scan is fresh when its database is no older than policy data allows at admission time.
# Without a limit in the data no scan is fresh.
max_db_age_ns := (data.supply_chain.vulnerability.max_db_age_days * ((24 * 60) * 60)) * 1000000000

now_ns := time.parse_rfc3339_ns(input.now) if input.now

else := time.now_ns()

fresh_scan(a) if now_ns - time.parse_rfc3339_ns(a.summary.vuln.db_modified) <= max_db_age_ns

# METADATA
# title: VULN_DB_STALE — the vulnerability database of a scan is recent enough
# custom:
#   controls: [C-IMAGE-SCAN]
finding contains reason("VULN_DB_STALE", ref, "", msg) if {
	some ref in images
	pinned(ref)
	count(vuln_scans(ref)) > 0
	not some_fresh_scan(ref)
	msg := sprintf("no scan of %v used a vulnerability database younger than %v days (newest: %v)", [
		digest_of(ref),
		object.get(data.supply_chain, ["vulnerability", "max_db_age_days"], "<unset>"),
		max({a.summary.vuln.db_modified | some a in vuln_scans(ref)}),
	])
}

some_fresh_scan(ref) if {
	some a in vuln_scans(ref)
	fresh_scan(a)
}

# METADATA
# title: IMAGE_USER_ROOT — the image runs as a numeric, non-zero user
# custom:
#   controls: [C-CONTAINER-NONROOT]
finding contains reason("IMAGE_USER_ROOT", ref, "", sprintf("image user %q is not a numeric non-root uid", [object.get(facts(ref), ["config", "user"], "")])) if {
	some ref in images
	pinned(ref)
	facts(ref).digest
	not numeric_nonroot(object.get(facts(ref), ["config", "user"], ""))
}

numeric_nonroot(user) if {
	regex.match(`^[0-9]+(:[0-9]+)?$`, user)
	uid := to_number(split(user, ":")[0])
	uid > 0
}

# ---------------------------------------------------------------------------
# Workload rules (only with a workload)

# An object, or {} for anything else: a securityContext of null is no securityContext.
as_object(v) := v if is_object(v)

else := {}

sc(x) := as_object(object.get(x.c, "securityContext", {}))

# A container's image and name, "" when absent, so that a missing field never silences a rule.
cimage(x) := object.get(x.c, "image", "")

cname(x) := object.get(x.c, "name", "")

pod_sc := as_object(object.get(pod_spec, "securityContext", {}))

# Every security context Pod Security reads: the pod's and each container's (all three lists).
# where names it in messages; image and container are "" for the pod.
security_contexts contains {"where": "the pod", "image": "", "container": "", "sc": pod_sc}

security_contexts contains s if {
	some x in containers
	s := {"where": sprintf("container %v", [cname(x)]), "image": cimage(x), "container": cname(x), "sc": sc(x)}
}

sc_reason(code, s, msg) := reason(code, s.image, s.container, sprintf("%v %v", [s.where, msg]))

# METADATA
# title: RUN_AS_NON_ROOT — runAsNonRoot is true for every container (container or pod level)
# description: The pod must not set it to false either, even when every container sets true.
# custom:
#   controls: [C-CONTAINER-NONROOT, C-ADMISSION-WORKLOAD]
finding contains reason("RUN_AS_NON_ROOT", cimage(x), cname(x), sprintf("container %v does not set runAsNonRoot: true", [cname(x)])) if {
	some x in containers
	not run_as_non_root(x)
}

finding contains reason("RUN_AS_NON_ROOT", "", "", "the pod sets runAsNonRoot: false") if pod_sc.runAsNonRoot == false

run_as_non_root(x) if sc(x).runAsNonRoot == true

run_as_non_root(x) if {
	not "runAsNonRoot" in object.keys(sc(x))
	pod_sc.runAsNonRoot == true
}

# METADATA
# title: RUN_AS_ROOT_USER — runAsUser 0 is denied wherever it is set, pod or container
# description: >-
#   A pod-level 0 is denied even when every container sets another uid: it is what a
#   container added later (an ephemeral one) inherits.
# custom:
#   controls: [C-CONTAINER-NONROOT, C-ADMISSION-WORKLOAD]
finding contains sc_reason("RUN_AS_ROOT_USER", s, "sets runAsUser: 0") if {
	some s in security_contexts
	s.sc.runAsUser == 0
}

# METADATA
# title: PRIVILEGE_ESCALATION — allowPrivilegeEscalation is false
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains reason("PRIVILEGE_ESCALATION", cimage(x), cname(x), sprintf("container %v does not set allowPrivilegeEscalation: false", [cname(x)])) if {
	some x in containers
	not sc(x).allowPrivilegeEscalation == false
}

# METADATA
# title: READ_ONLY_ROOT_FS — readOnlyRootFilesystem is true
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains reason("READ_ONLY_ROOT_FS", cimage(x), cname(x), sprintf("container %v does not set readOnlyRootFilesystem: true", [cname(x)])) if {
	some x in containers
	not sc(x).readOnlyRootFilesystem == true
}

# METADATA
# title: CAPABILITIES_NOT_DROPPED — capabilities drop ALL
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains reason("CAPABILITIES_NOT_DROPPED", cimage(x), cname(x), sprintf("container %v does not drop ALL capabilities", [cname(x)])) if {
	some x in containers
	not "ALL" in object.get(sc(x), ["capabilities", "drop"], [])
}

# METADATA
# title: CAPABILITIES_ADDED — no capability is added back
# description: >-
#   Stricter than Pod Security restricted, which lets NET_BIND_SERVICE be added: nothing here
#   binds a port below 1024.
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains reason("CAPABILITIES_ADDED", cimage(x), cname(x), sprintf("container %v adds capabilities %v", [cname(x), added])) if {
	some x in containers
	added := object.get(sc(x), ["capabilities", "add"], [])
	count(added) > 0
}

# METADATA
# title: PRIVILEGED — no privileged container
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains reason("PRIVILEGED", cimage(x), cname(x), sprintf("container %v is privileged", [cname(x)])) if {
	some x in containers
	sc(x).privileged == true
}

# METADATA
# title: LIMITS_MISSING — CPU and memory limits are set
# description: >-
#   Ephemeral containers are exempt: the API server forbids resources on them (they run within
#   the pod's existing allocation), so the rule would refuse every one, however well verified.
# custom:
#   controls: [C-RESOURCE-LIMITS]
finding contains reason("LIMITS_MISSING", cimage(x), cname(x), sprintf("container %v has no %v limit", [cname(x), res])) if {
	some x in containers
	x.kind != "ephemeralContainers"
	some res in ["cpu", "memory"]
	not x.c.resources.limits[res]
}

# ---------------------------------------------------------------------------
# Pod Security Standards, baseline and restricted, as k8s.io/pod-security-admission v0.37.2
# checks them at its latest version (tests/cluster compares the two). Where this policy is
# stricter it says so: CAPABILITIES_ADDED above, and no exemption for Windows pods or pods
# with hostUsers: false. Rules read the pod's securityContext and every container's, in
# containers, initContainers and ephemeralContainers.

# METADATA
# title: HOST_PATH — no hostPath volume
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains reason("HOST_PATH", "", "", sprintf("volume %v mounts a host path", [object.get(v, "name", "")])) if {
	some v in pod_spec.volumes
	v.hostPath
}

# Volume sources Pod Security restricted allows (hostPath has its own rule).
restricted_volume_sources := {
	"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
	"persistentVolumeClaim", "projected", "secret",
}

volume_sources(v) := {k | some k, src in v; k != "name"; src != null}

# METADATA
# title: VOLUME_TYPE — every volume is of a type Pod Security restricted allows
# description: A volume without any source, or with one outside the list (nfs, iscsi, …), is denied.
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains reason("VOLUME_TYPE", "", "", msg) if {
	some v in pod_spec.volumes
	not v.hostPath
	not restricted_volume(v)
	msg := sprintf("volume %v is of type %v; allowed: %v", [
		object.get(as_object(v), "name", ""),
		concat(", ", sort(volume_sources(v))),
		concat(", ", sort(restricted_volume_sources)),
	])
}

restricted_volume(v) if {
	count(volume_sources(v)) > 0
	count(volume_sources(v) - restricted_volume_sources) == 0
}

# METADATA
# title: HOST_PORT — no container binds a port of the node
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains reason("HOST_PORT", cimage(x), cname(x), msg) if {
	some x in containers
	some p in object.get(x.c, "ports", [])
	object.get(p, "hostPort", 0) != 0
	msg := sprintf("container %v binds host port %v", [cname(x), p.hostPort])
}

# METADATA
# title: HOST_NAMESPACE — no hostNetwork, hostPID or hostIPC
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains reason(code, "", "", sprintf("the pod sets %v: true", [field])) if {
	some field, code in {"hostNetwork": "HOST_NETWORK", "hostPID": "HOST_PID", "hostIPC": "HOST_IPC"}
	pod_spec[field] == true
}

# METADATA
# title: HOST_PROCESS — no Windows HostProcess pod or container
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains sc_reason("HOST_PROCESS", s, "sets windowsOptions.hostProcess: true") if {
	some s in security_contexts
	s.sc.windowsOptions.hostProcess == true
}

probe_handlers := [
	["livenessProbe"], ["readinessProbe"], ["startupProbe"],
	["lifecycle", "postStart"], ["lifecycle", "preStop"],
]

# METADATA
# title: PROBE_HOST — probes and lifecycle handlers reach the pod itself, never another host
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains reason("PROBE_HOST", cimage(x), cname(x), msg) if {
	some x in containers
	some handler in probe_handlers
	some action in ["httpGet", "tcpSocket"]
	host := object.get(x.c, array.concat(handler, [action, "host"]), "")
	not host in {"", null}
	msg := sprintf("container %v: %v.%v.host is %v", [cname(x), concat(".", handler), action, host])
}

# Pod Security baseline's AppArmor profiles: the field's types, and the deprecated annotations.
apparmor_types := {"RuntimeDefault", "Localhost"}

apparmor_annotation := "container.apparmor.security.beta.kubernetes.io/"

apparmor_annotation_ok("")

apparmor_annotation_ok("runtime/default")

apparmor_annotation_ok(v) if {
	is_string(v)
	startswith(v, "localhost/")
}

# METADATA
# title: APPARMOR_UNCONFINED — AppArmor profiles are RuntimeDefault or Localhost (field or annotation)
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains sc_reason("APPARMOR_UNCONFINED", s, msg) if {
	some s in security_contexts
	s.sc.appArmorProfile != null
	t := object.get(s.sc, ["appArmorProfile", "type"], "")
	not t in apparmor_types
	msg := sprintf("sets appArmorProfile type %v (want RuntimeDefault or Localhost)", [t])
}

finding contains reason("APPARMOR_UNCONFINED", "", substring(k, count(apparmor_annotation), -1), msg) if {
	some k, v in object.get(pod_template, ["metadata", "annotations"], {})
	startswith(k, apparmor_annotation)
	not apparmor_annotation_ok(v)
	msg := sprintf("annotation %v is %v (want runtime/default or localhost/…)", [k, v])
}

# Pod Security baseline's SELinux types (user and role must stay unset).
selinux_types := {"", null, "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

# METADATA
# title: SELINUX_TYPE — seLinuxOptions.type is one of the container types (pod or container)
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains sc_reason("SELINUX_TYPE", s, sprintf("sets seLinuxOptions type %v", [t])) if {
	some s in security_contexts
	t := object.get(s.sc, ["seLinuxOptions", "type"], "")
	not t in selinux_types
}

# METADATA
# title: SELINUX_USER_ROLE — seLinuxOptions.user and .role are not set (pod or container)
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains sc_reason("SELINUX_USER_ROLE", s, sprintf("sets seLinuxOptions %v %v", [field, v])) if {
	some s in security_contexts
	some field in ["user", "role"]
	v := object.get(s.sc, ["seLinuxOptions", field], "")
	not v in {"", null}
}

# METADATA
# title: PROC_MOUNT — procMount is Default (the masked /proc)
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains reason("PROC_MOUNT", cimage(x), cname(x), msg) if {
	some x in containers
	pm := object.get(sc(x), "procMount", null)
	not pm in {null, "Default"}
	msg := sprintf("container %v sets procMount %v", [cname(x), pm])
}

seccomp_types := {"RuntimeDefault", "Localhost"}

# METADATA
# title: SECCOMP_UNCONFINED — a seccomp profile, where set, is RuntimeDefault or Localhost
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains sc_reason("SECCOMP_UNCONFINED", s, msg) if {
	some s in security_contexts
	s.sc.seccompProfile != null
	t := object.get(s.sc, ["seccompProfile", "type"], "")
	not t in seccomp_types
	msg := sprintf("sets seccompProfile type %v (want RuntimeDefault or Localhost)", [t])
}

# METADATA
# title: SECCOMP_MISSING — every container runs under RuntimeDefault or Localhost, its own or the pod's
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains reason("SECCOMP_MISSING", cimage(x), cname(x), msg) if {
	some x in containers
	not seccomp_set(sc(x))
	not object.get(pod_sc, ["seccompProfile", "type"], "") in seccomp_types
	msg := sprintf("neither container %v nor the pod sets seccompProfile type RuntimeDefault or Localhost", [cname(x)])
}

seccomp_set(s) if s.seccompProfile != null

# Pod Security baseline's safe sysctls (v1.37): namespaced, and isolated from other pods.
safe_sysctls := {
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
	"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat",
}

# METADATA
# title: SYSCTL_UNSAFE — the pod sets only safe sysctls
# custom:
#   controls: [C-ADMISSION-WORKLOAD]
finding contains reason("SYSCTL_UNSAFE", "", "", msg) if {
	some s in object.get(pod_sc, "sysctls", [])
	name := object.get(as_object(s), "name", "")
	not name in safe_sysctls
	msg := sprintf("the pod sets sysctl %v, which is not in the safe set", [name])
}

# ---------------------------------------------------------------------------
# Cluster entry points (the cluster's own webhook is `pipeline admit serve`, which reads decision)

# METADATA
# title: Gatekeeper-style violations (input.review)
violation contains {"msg": sprintf("%v: %v", [d.code, d.message]), "details": d} if some d in deny
