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
decision := {"allow": allow, "deny": [d | some d in deny]}

# ---------------------------------------------------------------------------
# What is being admitted

supported_kinds := {"Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"}

# The workload: AdmissionReview, Gatekeeper review, or pipeline admit --manifest.
workload := input.request.object if input.request.object

else := input.review.object if input.review.object

else := input.object if input.object

workload_mode if workload

pod_spec := workload.spec if workload.kind == "Pod"

pod_spec := workload.spec.template.spec if workload.kind in {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"}

pod_spec := workload.spec.jobTemplate.spec.template.spec if workload.kind == "CronJob"

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
deny contains reason("INPUT_INVALID", "", "", "the input names no workload and no image") if {
	not workload_mode
	count(images) == 0
}

deny contains reason("KIND_UNSUPPORTED", "", "", sprintf("kind %v is not a supported workload kind", [object.get(workload, "kind", "<none>")])) if {
	workload_mode
	not supported_workload
}

# A helper, not `not workload.kind in supported_kinds`: with no kind at all that expression
# is undefined rather than true, and the workload would be denied without a reason.
supported_workload if workload.kind in supported_kinds

deny contains reason("INPUT_INVALID", "", "", "the workload has no pod spec with containers") if {
	workload_mode
	workload.kind in supported_kinds
	count(containers) == 0
}

deny contains reason("INPUT_INVALID", "", cname(x), "a container has no image") if {
	some x in containers
	not is_string(object.get(x.c, "image", null))
}

deny contains reason("INPUT_INVALID", "", cname(x), "a container has an empty image") if {
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

trusted(key_id) if data.supply_chain.trusted_keys[key_id]

sbom_types := {"https://spdx.dev/Document", "https://cyclonedx.org/bom"}

provenance_type := "https://slsa.dev/provenance/v1"

controls_type := "https://github.com/secure-movie-service/sms/attestation/controls/v1"

# Verified attestations of a type, by a trusted key, whose subject is the image's digest.
attestations(ref, types) := {a |
	some a in facts(ref).attestations
	a.predicate_type in types
	trusted(a.key_id)
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

# ---------------------------------------------------------------------------
# Image rules

# METADATA
# title: IMAGE_NOT_DIGEST — images are referenced by digest, never by tag
deny contains reason("IMAGE_NOT_DIGEST", ref, "", sprintf("%v is not pinned by digest (@sha256:…)", [ref])) if {
	some ref in images
	is_string(ref)
	not pinned(ref)
}

# METADATA
# title: REGISTRY_NOT_ALLOWED — the registry is on the allowlist (prefixes end in /)
deny contains reason("REGISTRY_NOT_ALLOWED", ref, "", sprintf("%v is not under an allowed registry prefix", [ref])) if {
	some ref in images
	is_string(ref)
	not registry_allowed(ref)
}

# METADATA
# title: FACTS_MISSING — a pinned image without verified facts is denied
deny contains reason("FACTS_MISSING", ref, "", sprintf("no verified facts for %v", [ref])) if {
	some ref in images
	pinned(ref)
	not has_facts(ref)
}

# has_facts keeps the call out of `not`: `not facts(ref).digest` would be silently undefined
# (never true) when facts(ref) is undefined, which is exactly the case to deny.
has_facts(ref) if facts(ref).digest

# METADATA
# title: FACTS_MISMATCH — the facts must be about the very digest referenced
deny contains reason("FACTS_MISMATCH", ref, "", sprintf("the facts are about %v, not %v", [facts(ref).digest, digest_of(ref)])) if {
	some ref in images
	pinned(ref)
	facts(ref).digest != digest_of(ref)
}

# METADATA
# title: CONTENT_UNVERIFIED — the registry's layers match the digests the signature covers
deny contains reason("CONTENT_UNVERIFIED", ref, "", "the image's layers were not verified against its digests") if {
	some ref in images
	pinned(ref)
	facts(ref).digest
	not facts(ref).content_verified == true
}

# METADATA
# title: SIGNATURE_MISSING — a signature by a trusted key over this digest
deny contains reason("SIGNATURE_MISSING", ref, "", sprintf("no signature by a trusted key over %v", [digest_of(ref)])) if {
	some ref in images
	pinned(ref)
	not signed(ref)
}

signed(ref) if {
	some s in facts(ref).signatures
	trusted(s.key_id)
	s.digest == digest_of(ref)
}

# METADATA
# title: SBOM_MISSING — an SBOM attestation for this digest by a trusted key
deny contains reason("SBOM_MISSING", ref, "", sprintf("no SBOM attestation by a trusted key for %v", [digest_of(ref)])) if {
	some ref in images
	pinned(ref)
	count(attestations(ref, sbom_types)) == 0
}

# METADATA
# title: SBOM_INVALID — the SBOM attestation must be a well-formed SPDX 2.3 or CycloneDX document
deny contains reason("SBOM_INVALID", ref, "", sprintf("the SBOM attestation for %v is malformed", [digest_of(ref)])) if {
	some ref in images
	pinned(ref)
	count(attestations(ref, sbom_types)) > 0
	count(valid(attestations(ref, sbom_types))) == 0
}

# METADATA
# title: PROVENANCE_MISSING — SLSA provenance whose subject is this digest, by a trusted key
deny contains reason("PROVENANCE_MISSING", ref, "", sprintf("no valid provenance by a trusted key for %v", [digest_of(ref)])) if {
	some ref in images
	pinned(ref)
	count(valid(attestations(ref, {provenance_type}))) == 0
}

# METADATA
# title: PROVENANCE_SOURCE — the provenance names the expected source repository
deny contains reason("PROVENANCE_SOURCE", ref, "", msg) if {
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
deny contains reason("PROVENANCE_DIRTY", ref, "", "the image was built from a work tree with uncommitted changes") if {
	some ref in images
	pinned(ref)
	count(good_provenance(ref)) > 0
	every p in good_provenance(ref) {
		p.summary.provenance.dirty != false
	}
}

# METADATA
# title: CONTROLS_MISSING — a signed control-results attestation for this digest
deny contains reason("CONTROLS_MISSING", ref, "", sprintf("no control-results attestation by a trusted key for %v", [digest_of(ref)])) if {
	some ref in images
	pinned(ref)
	count(valid(attestations(ref, {controls_type}))) == 0
}

passing_controls(ref) := {c |
	some c in valid(attestations(ref, {controls_type}))
	c.summary.controls.passed == true
	count(c.summary.controls.failed) == 0
}

# METADATA
# title: CONTROLS_FAILED — every threat-model control passed
deny contains reason("CONTROLS_FAILED", ref, "", msg) if {
	some ref in images
	pinned(ref)
	ctl := valid(attestations(ref, {controls_type}))
	count(ctl) > 0
	count(passing_controls(ref)) == 0
	failed := {id | some c in ctl; some id in c.summary.controls.failed}
	msg := sprintf("controls did not pass: %v", [concat(", ", sort(failed))])
}

# METADATA
# title: CONTROLS_REVISION — the control results are for the revision the image was built from
deny contains reason("CONTROLS_REVISION", ref, "", msg) if {
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

# METADATA
# title: IMAGE_USER_ROOT — the image runs as a numeric, non-zero user
deny contains reason("IMAGE_USER_ROOT", ref, "", sprintf("image user %q is not a numeric non-root uid", [object.get(facts(ref), ["config", "user"], "")])) if {
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

sc(x) := object.get(x.c, "securityContext", {})

# A container's image and name, "" when absent, so that a missing field never silences a rule.
cimage(x) := object.get(x.c, "image", "")

cname(x) := object.get(x.c, "name", "")

pod_sc := object.get(pod_spec, "securityContext", {})

# METADATA
# title: RUN_AS_NON_ROOT — runAsNonRoot is true for every container (container or pod level)
deny contains reason("RUN_AS_NON_ROOT", cimage(x), cname(x), sprintf("container %v does not set runAsNonRoot: true", [cname(x)])) if {
	some x in containers
	not run_as_non_root(x)
}

run_as_non_root(x) if sc(x).runAsNonRoot == true

run_as_non_root(x) if {
	not "runAsNonRoot" in object.keys(sc(x))
	pod_sc.runAsNonRoot == true
}

# METADATA
# title: RUN_AS_ROOT_USER — runAsUser 0 is denied at container or pod level
deny contains reason("RUN_AS_ROOT_USER", cimage(x), cname(x), sprintf("container %v runs as uid 0", [cname(x)])) if {
	some x in containers
	effective_uid(x) == 0
}

effective_uid(x) := sc(x).runAsUser

effective_uid(x) := pod_sc.runAsUser if not "runAsUser" in object.keys(sc(x))

# METADATA
# title: PRIVILEGE_ESCALATION — allowPrivilegeEscalation is false
deny contains reason("PRIVILEGE_ESCALATION", cimage(x), cname(x), sprintf("container %v does not set allowPrivilegeEscalation: false", [cname(x)])) if {
	some x in containers
	not sc(x).allowPrivilegeEscalation == false
}

# METADATA
# title: READ_ONLY_ROOT_FS — readOnlyRootFilesystem is true
deny contains reason("READ_ONLY_ROOT_FS", cimage(x), cname(x), sprintf("container %v does not set readOnlyRootFilesystem: true", [cname(x)])) if {
	some x in containers
	not sc(x).readOnlyRootFilesystem == true
}

# METADATA
# title: CAPABILITIES_NOT_DROPPED — capabilities drop ALL
deny contains reason("CAPABILITIES_NOT_DROPPED", cimage(x), cname(x), sprintf("container %v does not drop ALL capabilities", [cname(x)])) if {
	some x in containers
	not "ALL" in object.get(sc(x), ["capabilities", "drop"], [])
}

# METADATA
# title: CAPABILITIES_ADDED — no capability is added back
deny contains reason("CAPABILITIES_ADDED", cimage(x), cname(x), sprintf("container %v adds capabilities %v", [cname(x), added])) if {
	some x in containers
	added := object.get(sc(x), ["capabilities", "add"], [])
	count(added) > 0
}

# METADATA
# title: PRIVILEGED — no privileged container
deny contains reason("PRIVILEGED", cimage(x), cname(x), sprintf("container %v is privileged", [cname(x)])) if {
	some x in containers
	sc(x).privileged == true
}

# METADATA
# title: LIMITS_MISSING — CPU and memory limits are set
deny contains reason("LIMITS_MISSING", cimage(x), cname(x), sprintf("container %v has no %v limit", [cname(x), res])) if {
	some x in containers
	some res in ["cpu", "memory"]
	not x.c.resources.limits[res]
}

# METADATA
# title: HOST_PATH — no hostPath volume
deny contains reason("HOST_PATH", "", "", sprintf("volume %v mounts a host path", [object.get(v, "name", "")])) if {
	some v in pod_spec.volumes
	v.hostPath
}

# METADATA
# title: HOST_NAMESPACE — no hostNetwork, hostPID or hostIPC
deny contains reason(code, "", "", sprintf("the pod sets %v: true", [field])) if {
	some field, code in {"hostNetwork": "HOST_NETWORK", "hostPID": "HOST_PID", "hostIPC": "HOST_IPC"}
	pod_spec[field] == true
}

# ---------------------------------------------------------------------------
# Cluster entry points

# METADATA
# title: AdmissionReview response for OPA as a validating webhook (kube-mgmt)
review_response := {
	"apiVersion": "admission.k8s.io/v1",
	"kind": "AdmissionReview",
	"response": {
		"uid": object.get(input, ["request", "uid"], ""),
		"allowed": allow,
		"status": {"code": status_code, "message": concat("; ", [sprintf("%v: %v", [d.code, d.message]) | some d in deny])},
	},
}

status_code := 200 if allow

else := 403

# METADATA
# title: Gatekeeper-style violations (input.review)
violation contains {"msg": sprintf("%v: %v", [d.code, d.message]), "details": d} if some d in deny
