# METADATA
# title: Tests for package admission — one or more per deny code, plus the allow path
package admission_test

import data.admission
import rego.v1

key := "sha256:1111111111111111111111111111111111111111111111111111111111111111"

evil := "sha256:9999999999999999999999999999999999999999999999999999999999999999"

dg := "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

other := "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

rev := "0123456789abcdef0123456789abcdef01234567"

ref := concat("@", ["ghcr.io/secure-movie-service/movies", dg])

cfg := {
	"trusted_keys": {key: {"name": "release"}},
	"registries": ["ghcr.io/secure-movie-service/"],
	"source_repository": "https://github.com/secure-movie-service/sms",
	"builder_ids": ["https://github.com/secure-movie-service/sms/.github/workflows/release.yml@refs/tags/"],
	"controls": {"required": ["C-AUTHZ-01", "C-PENTEST"]},
	"vulnerability": {"max_db_age_days": 30},
	"rollback": {"min_source_date": "2026-11-01T00:00:00Z", "denied_digests": [evil]},
}

now := "2026-11-30T12:00:00Z"

att(type, summary) := {
	"key_id": key, "predicate_type": type, "valid": true,
	"subjects": [{"name": "ghcr.io/secure-movie-service/movies", "digest": dg}],
	"summary": summary,
}

sbom_att := att("https://spdx.dev/Document", {"sbom": {"format": "spdx-2.3", "packages": 2}})

prov_att := att("https://slsa.dev/provenance/v1", {"provenance": {
	"source_repository": "https://github.com/secure-movie-service/sms",
	"source_revision": rev, "dirty": false, "source_date_epoch": 1795000000, "platform": "linux/amd64",
	"builder_id": "https://github.com/secure-movie-service/sms/.github/workflows/release.yml@refs/tags/v1.2.3",
}})

ctl_att := att("https://github.com/secure-movie-service/sms/attestation/controls/v1", {"controls": {
	"revision": rev, "passed": true, "failed": [], "total": 2, "dirty": false,
	"statuses": {"C-AUTHZ-01": "pass", "C-PENTEST": "pass"}, "attestations_missing": [],
}})

vuln_att := att("https://cosign.sigstore.dev/attestation/vuln/v1", {"vuln": {
	"scanner": "https://pkg.go.dev/golang.org/x/vuln/cmd/govulncheck", "db_modified": "2026-11-20T08:00:00Z",
	"findings": [], "waived": [],
}})

good_facts := {
	"digest": dg,
	"content_verified": true,
	"config": {"user": "65532:65532", "os": "linux", "architecture": "amd64"},
	"annotations": {"org.opencontainers.image.revision": rev},
	"signatures": [{"key_id": key, "digest": dg}],
	"attestations": [sbom_att, prov_att, ctl_att, vuln_att],
}

image_input(facts) := {"images": [ref], "facts": {ref: facts}, "now": now}

codes(input_doc) := {d.code | some d in admission.deny with input as input_doc with data.supply_chain as cfg}

allowed(input_doc) if admission.allow with input as input_doc with data.supply_chain as cfg

container := {
	"name": "movies",
	"image": ref,
	"securityContext": {
		"runAsNonRoot": true, "allowPrivilegeEscalation": false,
		"readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]},
		"seccompProfile": {"type": "RuntimeDefault"},
	},
	"resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
}

pod(spec) := {"object": {"kind": "Pod", "metadata": {"name": "movies"}, "spec": spec}, "facts": {ref: good_facts}, "now": now}

good_spec := {"containers": [container]}

with_container(patch) := pod({"containers": [object.union(container, patch)]})

# --- allow paths -------------------------------------------------------------

test_complete_release_is_allowed if {
	allowed(image_input(good_facts))
	admission.decision.allow with input as image_input(good_facts) with data.supply_chain as cfg
}

test_hardened_pod_is_allowed if allowed(pod(good_spec))

test_pod_level_run_as_non_root_is_enough if {
	c := json.remove(container, ["securityContext/runAsNonRoot"])
	allowed(pod({"securityContext": {"runAsNonRoot": true}, "containers": [c]}))
}

test_deployment_is_allowed if {
	d := {"kind": "Deployment", "metadata": {"name": "m"}, "spec": {"template": {"spec": good_spec}}}
	allowed({"object": d, "facts": {ref: good_facts}, "now": now})
}

test_cronjob_images_are_checked if {
	cj := {"kind": "CronJob", "metadata": {"name": "m"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": good_spec}}}}}
	allowed({"object": cj, "facts": {ref: good_facts}, "now": now})
	"FACTS_MISSING" in codes({"object": cj, "facts": {}})
}

test_admission_review_is_read if {
	review := {"kind": "AdmissionReview", "request": {"uid": "u1", "object": pod(good_spec).object}, "facts": {ref: good_facts}, "now": now}
	allowed(review)
	"FACTS_MISSING" in codes({"kind": "AdmissionReview", "request": {"uid": "u2", "object": pod(good_spec).object}})
}

test_gatekeeper_review_gives_violations if {
	review_in := {"review": {"object": with_container({"securityContext": {"privileged": true}}).object}}
	vs := admission.violation with input as review_in with data.supply_chain as cfg
	some v in vs
	v.details.code == "PRIVILEGED"
}

test_facts_from_verifier_data if {
	img_in := {"images": [ref], "now": now}
	admission.allow with input as img_in with data.supply_chain as object.union(cfg, {"facts": {dg: good_facts}})
	not admission.allow with input as img_in with data.supply_chain as cfg
}

# --- input completeness ------------------------------------------------------

test_empty_input_denied if {
	"INPUT_INVALID" in codes({})
	not allowed({})
}

test_empty_image_list_denied if "INPUT_INVALID" in codes({"images": []})

test_pod_without_containers_denied if "INPUT_INVALID" in codes(pod({}))

test_container_without_image_denied if "INPUT_INVALID" in codes(pod({"containers": [{"name": "a"}]}))

test_container_with_empty_image_denied if "INPUT_INVALID" in codes(pod({"containers": [object.union(container, {"image": ""})]}))

test_unsupported_kind_denied if "KIND_UNSUPPORTED" in codes({"object": {"kind": "Service", "metadata": {"name": "s"}}})

# A missing field must not silence the reason (found by FuzzAdmitManifest: no kind, no reason).
test_missing_kind_denied_with_a_reason if "KIND_UNSUPPORTED" in codes({"object": {"metadata": {"name": "s"}}})

test_decision_lists_reasons if {
	d := admission.decision with input as {} with data.supply_chain as cfg
	d.allow == false
	count(d.deny) > 0
}

# --- image rules ---------------------------------------------------------------

test_tag_denied if "IMAGE_NOT_DIGEST" in codes({"images": ["ghcr.io/secure-movie-service/movies:latest"], "facts": {}})

test_registry_allowlist if {
	lookalike := concat("@", ["ghcr.io/secure-movie-service-evil/movies", dg])
	"REGISTRY_NOT_ALLOWED" in codes({"images": [lookalike], "facts": {lookalike: good_facts}})
	not "REGISTRY_NOT_ALLOWED" in codes(image_input(good_facts))
}

test_registry_prefix_without_slash_is_ignored if {
	c := object.union(cfg, {"registries": ["ghcr.io/secure-movie-service"]})
	ds := {d.code | some d in admission.deny with input as image_input(good_facts) with data.supply_chain as c}
	"REGISTRY_NOT_ALLOWED" in ds
}

test_repository_allowlist_is_exact if {
	c := object.union(json.remove(cfg, ["registries"]), {"repositories": ["ghcr.io/secure-movie-service/movies"]})
	ds := {d.code | some d in admission.deny with input as image_input(good_facts) with data.supply_chain as c}
	not "REGISTRY_NOT_ALLOWED" in ds
	every other in ["ghcr.io/secure-movie-service/tools", "ghcr.io/secure-movie-service/movies-evil"] {
		r := concat("@", [other, dg])
		"REGISTRY_NOT_ALLOWED" in {d.code | some d in admission.deny with input as {"images": [r], "facts": {r: good_facts}, "now": now} with data.supply_chain as c}
	}
}

test_no_registry_data_denies if {
	c := json.remove(cfg, ["registries"])
	ds := {d.code | some d in admission.deny with input as image_input(good_facts) with data.supply_chain as c}
	"REGISTRY_NOT_ALLOWED" in ds
}

test_facts_missing_denied if "FACTS_MISSING" in codes({"images": [ref], "facts": {}})

test_facts_for_another_digest_denied if "FACTS_MISMATCH" in codes(image_input(object.union(good_facts, {"digest": other})))

test_content_unverified_denied if "CONTENT_UNVERIFIED" in codes(image_input(object.union(good_facts, {"content_verified": false})))

test_unsigned_denied if "SIGNATURE_MISSING" in codes(image_input(object.union(good_facts, {"signatures": []})))

test_signature_by_untrusted_key_denied if {
	"SIGNATURE_MISSING" in codes(image_input(object.union(good_facts, {"signatures": [{"key_id": evil, "digest": dg}]})))
}

test_signature_over_another_digest_denied if {
	"SIGNATURE_MISSING" in codes(image_input(object.union(good_facts, {"signatures": [{"key_id": key, "digest": other}]})))
}

test_no_trusted_keys_denies if {
	c := json.patch(cfg, [{"op": "replace", "path": "/trusted_keys", "value": {}}])
	ds := {d.code | some d in admission.deny with input as image_input(good_facts) with data.supply_chain as c}
	"SIGNATURE_MISSING" in ds
}

without(type) := object.union(good_facts, {"attestations": [a | some a in good_facts.attestations; a.predicate_type != type]})

replace(type, new) := object.union(good_facts, {"attestations": array.concat(without(type).attestations, [new])})

test_sbom_missing_denied if "SBOM_MISSING" in codes(image_input(without("https://spdx.dev/Document")))

test_sbom_for_another_digest_denied if {
	a := object.union(sbom_att, {"subjects": [{"name": "x", "digest": other}]})
	"SBOM_MISSING" in codes(image_input(replace("https://spdx.dev/Document", a)))
}

test_sbom_untrusted_key_denied if {
	a := object.union(sbom_att, {"key_id": evil})
	"SBOM_MISSING" in codes(image_input(replace("https://spdx.dev/Document", a)))
}

test_sbom_malformed_denied if {
	a := object.union(sbom_att, {"valid": false, "error": "spdx: packages missing"})
	"SBOM_INVALID" in codes(image_input(replace("https://spdx.dev/Document", a)))
}

test_cyclonedx_sbom_accepted if {
	a := object.union(sbom_att, {"predicate_type": "https://cyclonedx.org/bom"})
	allowed(image_input(replace("https://spdx.dev/Document", a)))
}

test_provenance_missing_denied if "PROVENANCE_MISSING" in codes(image_input(without("https://slsa.dev/provenance/v1")))

test_provenance_for_another_digest_denied if {
	a := object.union(prov_att, {"subjects": [{"name": "x", "digest": other}]})
	"PROVENANCE_MISSING" in codes(image_input(replace("https://slsa.dev/provenance/v1", a)))
}

test_provenance_another_source_denied if {
	a := object.union(prov_att, {"summary": {"provenance": {"source_repository": "https://github.com/evil/sms", "source_revision": rev, "dirty": false}}})
	ds := codes(image_input(replace("https://slsa.dev/provenance/v1", a)))
	"PROVENANCE_SOURCE" in ds
	not "PROVENANCE_MISSING" in ds
}

test_provenance_without_source_data_denied if {
	c := json.remove(cfg, ["source_repository"])
	ds := {d.code | some d in admission.deny with input as image_input(good_facts) with data.supply_chain as c}
	"PROVENANCE_SOURCE" in ds
}

test_provenance_dirty_denied if {
	a := object.union(prov_att, {"summary": {"provenance": {"source_repository": cfg.source_repository, "source_revision": rev, "dirty": true}}})
	"PROVENANCE_DIRTY" in codes(image_input(replace("https://slsa.dev/provenance/v1", a)))
}

prov_type := "https://slsa.dev/provenance/v1"

test_provenance_one_dirty_among_clean_denied if {
	dirty := json.patch(prov_att, [{"op": "replace", "path": "/summary/provenance/dirty", "value": true}])
	f := object.union(good_facts, {"attestations": array.concat(good_facts.attestations, [dirty])})
	"PROVENANCE_DIRTY" in codes(image_input(f))
}

test_provenance_without_dirty_flag_denied if {
	"PROVENANCE_DIRTY" in codes(image_input(replace(prov_type, json.remove(prov_att, ["summary/provenance/dirty"]))))
}

test_provenance_two_revisions_denied if {
	other_rev := json.patch(prov_att, [{"op": "replace", "path": "/summary/provenance/source_revision", "value": concat("", ["e" | some _ in numbers.range(1, 40)])}])
	f := object.union(good_facts, {"attestations": array.concat(good_facts.attestations, [other_rev])})
	"PROVENANCE_REVISIONS" in codes(image_input(f))
	not "PROVENANCE_REVISIONS" in codes(image_input(good_facts))
}

# --- what the provenance claims ----------------------------------------------------

with_prov(patch) := replace(prov_type, json.patch(prov_att, patch))

test_provenance_untrusted_builder_denied if {
	"PROVENANCE_BUILDER" in codes(image_input(with_prov([{"op": "replace", "path": "/summary/provenance/builder_id", "value": "https://evil.example/builder"}])))
	"PROVENANCE_BUILDER" in codes(image_input(with_prov([{"op": "remove", "path": "/summary/provenance/builder_id"}])))
	not "PROVENANCE_BUILDER" in codes(image_input(good_facts))
}

test_provenance_builder_prefix_needs_a_slash if {
	c := object.union(cfg, {"builder_ids": ["https://github.com/secure-movie-service/sms/.github/workflows/release.yml@refs/tags"]})
	ds := {d.code | some d in admission.deny with input as image_input(good_facts) with data.supply_chain as c}
	"PROVENANCE_BUILDER" in ds
}

test_provenance_other_platform_denied if {
	"PROVENANCE_MISMATCH" in codes(image_input(with_prov([{"op": "replace", "path": "/summary/provenance/platform", "value": "linux/arm64"}])))
	"PROVENANCE_MISMATCH" in codes(image_input(with_prov([{"op": "remove", "path": "/summary/provenance/platform"}])))
}

test_provenance_other_revision_than_the_image_denied if {
	f := object.union(good_facts, {"annotations": {"org.opencontainers.image.revision": concat("", ["d" | some _ in numbers.range(1, 40)])}})
	"PROVENANCE_MISMATCH" in codes(image_input(f))
	not "PROVENANCE_MISMATCH" in codes(image_input(json.remove(good_facts, ["annotations"])))
}

# --- rollback -----------------------------------------------------------------

test_release_older_than_the_minimum_denied if {
	old := json.patch(prov_att, [{"op": "replace", "path": "/summary/provenance/source_date_epoch", "value": 1700000000}])
	"RELEASE_TOO_OLD" in codes(image_input(replace(prov_type, old)))
	not "RELEASE_TOO_OLD" in codes(image_input(good_facts))
}

test_release_without_commit_time_denied if {
	"RELEASE_TOO_OLD" in codes(image_input(replace(prov_type, json.remove(prov_att, ["summary/provenance/source_date_epoch"]))))
}

test_release_minimum_unset_denied if {
	c := json.remove(cfg, ["rollback"])
	"RELEASE_UNPINNED" in {d.code | some d in admission.deny with input as image_input(good_facts) with data.supply_chain as c}
}

test_denied_digest_denied if {
	r := concat("@", ["ghcr.io/secure-movie-service/movies", evil])
	f := object.union(good_facts, {"digest": evil})
	"DIGEST_DENIED" in codes({"images": [r], "facts": {r: f}, "now": now})
	not "DIGEST_DENIED" in codes(image_input(good_facts))
}

ctl_type := "https://github.com/secure-movie-service/sms/attestation/controls/v1"

test_controls_missing_denied if "CONTROLS_MISSING" in codes(image_input(without(ctl_type)))

test_controls_untrusted_denied if "CONTROLS_MISSING" in codes(image_input(replace(ctl_type, object.union(ctl_att, {"key_id": evil}))))

test_controls_failed_denied if {
	a := object.union(ctl_att, {"summary": {"controls": {"revision": rev, "passed": false, "failed": ["C-AUTHZ-01"], "total": 2}}})
	ds := codes(image_input(replace(ctl_type, a)))
	"CONTROLS_FAILED" in ds
}

test_controls_failed_message_names_control if {
	a := object.union(ctl_att, {"summary": {"controls": {"revision": rev, "passed": false, "failed": ["C-AUTHZ-01"], "total": 2}}})
	some d in admission.deny with input as image_input(replace(ctl_type, a)) with data.supply_chain as cfg
	d.code == "CONTROLS_FAILED"
	contains(d.message, "C-AUTHZ-01")
}

test_controls_passed_flag_alone_is_not_enough if {
	a := object.union(ctl_att, {"summary": {"controls": {"revision": rev, "passed": true, "failed": ["C-X-01"], "total": 2}}})
	"CONTROLS_FAILED" in codes(image_input(replace(ctl_type, a)))
}

test_controls_other_revision_denied if {
	a := object.union(ctl_att, {"summary": {"controls": {"revision": concat("", ["f" | some _ in numbers.range(1, 40)]), "passed": true, "failed": [], "total": 2}}})
	"CONTROLS_REVISION" in codes(image_input(replace(ctl_type, a)))
}

test_root_users_denied if {
	every u in ["", "root", "0", "0:0", "0:65532", "nobody", "65532:root", "-1"] {
		"IMAGE_USER_ROOT" in codes(image_input(object.union(good_facts, {"config": {"user": u}})))
	}
}

test_missing_user_denied if "IMAGE_USER_ROOT" in codes(image_input(json.remove(good_facts, ["config"])))

test_numeric_users_allowed if {
	every u in ["65532", "65532:65532", "1000:0"] {
		not "IMAGE_USER_ROOT" in codes(image_input(object.union(good_facts, {"config": {"user": u}})))
	}
}

# --- workload rules --------------------------------------------------------------

test_run_as_non_root_required if {
	"RUN_AS_NON_ROOT" in codes(with_container({"securityContext": {"runAsNonRoot": false}}))
	"RUN_AS_NON_ROOT" in codes(pod({"containers": [json.remove(container, ["securityContext/runAsNonRoot"])]}))
}

test_container_overrides_pod_run_as_non_root if {
	c := object.union(container, {"securityContext": {"runAsNonRoot": false}})
	"RUN_AS_NON_ROOT" in codes(pod({"securityContext": {"runAsNonRoot": true}, "containers": [c]}))
}

test_run_as_root_user_denied if {
	"RUN_AS_ROOT_USER" in codes(with_container({"securityContext": {"runAsUser": 0}}))
	"RUN_AS_ROOT_USER" in codes(pod({"securityContext": {"runAsUser": 0}, "containers": [container]}))
}

# Pod Security restricted refuses a pod-level 0 even when every container sets another uid: a
# container added later (kubectl debug) would inherit it.
test_pod_level_root_user_denied_whatever_the_containers_set if {
	c := object.union(container, {"securityContext": {"runAsUser": 1000}})
	"RUN_AS_ROOT_USER" in codes(pod({"securityContext": {"runAsUser": 0}, "containers": [c]}))
	not "RUN_AS_ROOT_USER" in codes(pod({"securityContext": {"runAsUser": 1000}, "containers": [c]}))
}

test_privilege_escalation_denied if {
	"PRIVILEGE_ESCALATION" in codes(with_container({"securityContext": {"allowPrivilegeEscalation": true}}))
	"PRIVILEGE_ESCALATION" in codes(pod({"containers": [json.remove(container, ["securityContext/allowPrivilegeEscalation"])]}))
}

test_read_only_root_fs_required if "READ_ONLY_ROOT_FS" in codes(with_container({"securityContext": {"readOnlyRootFilesystem": false}}))

test_capabilities_drop_all_required if {
	"CAPABILITIES_NOT_DROPPED" in codes(with_container({"securityContext": {"capabilities": {"drop": ["NET_RAW"]}}}))
	"CAPABILITIES_NOT_DROPPED" in codes(pod({"containers": [json.remove(container, ["securityContext"])]}))
}

test_capabilities_added_denied if "CAPABILITIES_ADDED" in codes(with_container({"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}}))

test_privileged_denied if "PRIVILEGED" in codes(with_container({"securityContext": {"privileged": true}}))

test_limits_required if {
	"LIMITS_MISSING" in codes(pod({"containers": [json.remove(container, ["resources/limits/memory"])]}))
	"LIMITS_MISSING" in codes(pod({"containers": [json.remove(container, ["resources/limits/cpu"])]}))
	"LIMITS_MISSING" in codes(pod({"containers": [json.remove(container, ["resources"])]}))
}

test_init_and_ephemeral_containers_checked if {
	bad := json.remove(container, ["securityContext"])
	"RUN_AS_NON_ROOT" in codes(pod({"containers": [container], "initContainers": [bad]}))
	"PRIVILEGE_ESCALATION" in codes(pod({"containers": [container], "ephemeralContainers": [bad]}))
}

test_init_container_image_needs_facts if {
	c := object.union(container, {"image": concat("@", ["ghcr.io/secure-movie-service/tools", other])})
	"FACTS_MISSING" in codes(pod({"containers": [container], "initContainers": [c]}))
}

test_host_path_denied if "HOST_PATH" in codes(pod(object.union(good_spec, {"volumes": [{"name": "root", "hostPath": {"path": "/"}}]})))

test_host_path_without_a_name_denied if {
	cs := codes(pod(object.union(good_spec, {"volumes": [{"hostPath": {"path": "/"}}]})))
	"HOST_PATH" in cs
	not allowed(pod(object.union(good_spec, {"volumes": [{"hostPath": {"path": "/"}}]})))
}

test_empty_dir_allowed if allowed(pod(object.union(good_spec, {"volumes": [{"name": "data", "emptyDir": {}}]})))

test_ephemeral_container_needs_no_limits if {
	debug := json.remove(object.union(container, {"name": "debug"}), ["resources"])
	allowed(pod(object.union(good_spec, {"ephemeralContainers": [debug]})))
	"LIMITS_MISSING" in codes(pod(object.union(good_spec, {"initContainers": [debug]})))
}

test_ephemeral_container_unpinned_denied if {
	debug := {"name": "debug", "image": "busybox:latest", "securityContext": container.securityContext}
	"IMAGE_NOT_DIGEST" in codes(pod(object.union(good_spec, {"ephemeralContainers": [debug]})))
}

test_host_port_denied if {
	"HOST_PORT" in codes(with_container({"ports": [{"containerPort": 8080, "hostPort": 80}]}))
	not "HOST_PORT" in codes(with_container({"ports": [{"containerPort": 8080}]}))
	not "HOST_PORT" in codes(with_container({"ports": [{"containerPort": 8080, "hostPort": 0}]}))
}

test_seccomp_unconfined_denied if {
	unconfined := {"seccompProfile": {"type": "Unconfined"}}
	"SECCOMP_UNCONFINED" in codes(pod(object.union(good_spec, {"securityContext": unconfined})))
	"SECCOMP_UNCONFINED" in codes(with_container({"securityContext": object.union(container.securityContext, unconfined)}))
	allowed(pod(object.union(good_spec, {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}})))
}

test_host_namespaces_denied if {
	"HOST_NETWORK" in codes(pod(object.union(good_spec, {"hostNetwork": true})))
	"HOST_PID" in codes(pod(object.union(good_spec, {"hostPID": true})))
	"HOST_IPC" in codes(pod(object.union(good_spec, {"hostIPC": true})))
}

test_every_reason_has_code_and_message if {
	ds := admission.deny with input as with_container({"securityContext": {"privileged": true}}) with data.supply_chain as cfg
	count(ds) > 0
	every d in ds {
		regex.match(`^[A-Z_]+$`, d.code)
		d.message != ""
	}
}

# --- the control results are bound to the threat model -----------------------

with_controls(patch) := replace(ctl_type, json.patch(ctl_att, patch))

test_controls_dirty_denied if {
	ds := codes(image_input(with_controls([{"op": "replace", "path": "/summary/controls/dirty", "value": true}])))
	"CONTROLS_DIRTY" in ds
	not "CONTROLS_FAILED" in ds
}

test_controls_without_dirty_flag_denied if {
	"CONTROLS_DIRTY" in codes(image_input(with_controls([{"op": "remove", "path": "/summary/controls/dirty"}])))
}

test_controls_one_invented_control_denied if {
	invented := [{"op": "replace", "path": "/summary/controls/statuses", "value": {"C-INVENTED": "pass"}}]
	some d in admission.deny with input as image_input(with_controls(invented)) with data.supply_chain as cfg
	d.code == "CONTROLS_INCOMPLETE"
	contains(d.message, "C-AUTHZ-01, C-PENTEST")
}

test_controls_unpinned_denied if {
	c := json.remove(cfg, ["controls"])
	ds := {d.code | some d in admission.deny with input as image_input(good_facts) with data.supply_chain as c}
	"CONTROLS_UNPINNED" in ds
}

test_review_attestation_missing_denied if {
	ds := admission.deny with input as image_input(missing_review) with data.supply_chain as cfg
	{d.code | some d in ds} == {"REVIEW_ATTESTATION_MISSING"}
	some d in ds
	contains(d.message, "C-PENTEST")
}

# --- enforcement levels ---------------------------------------------------------

missing_review := with_controls([
	{"op": "replace", "path": "/summary/controls/attestations_missing", "value": ["C-PENTEST"]},
	{"op": "replace", "path": "/summary/controls/passed", "value": false},
])

levelled(level) := object.union(cfg, {"enforcement": {"REVIEW_ATTESTATION_MISSING": level}})

test_relaxable_rule_warns_and_allows if {
	c := levelled("warn")
	admission.allow with input as image_input(missing_review) with data.supply_chain as c
	ws := admission.decision.warn with input as image_input(missing_review) with data.supply_chain as c
	some w in ws
	w.code == "REVIEW_ATTESTATION_MISSING"
}

test_dry_run_is_recorded_and_never_blocks if {
	c := levelled("dryrun")
	d := admission.decision with input as image_input(missing_review) with data.supply_chain as c
	d.allow == true
	count(d.warn) == 0
	some r in d.dry_run
	r.code == "REVIEW_ATTESTATION_MISSING"
}

test_warning_never_allows_anything_else if {
	c := levelled("warn")
	unsigned := object.union(missing_review, {"signatures": []})
	not admission.allow with input as image_input(unsigned) with data.supply_chain as c
	ds := {d.code | some d in admission.deny with input as image_input(unsigned) with data.supply_chain as c}
	ds == {"SIGNATURE_MISSING"}
}

test_only_relaxable_rules_may_be_lowered if {
	c := object.union(cfg, {"enforcement": {"SIGNATURE_MISSING": "warn"}})
	unsigned := object.union(good_facts, {"signatures": []})
	ds := {d.code | some d in admission.deny with input as image_input(unsigned) with data.supply_chain as c}
	"SIGNATURE_MISSING" in ds
	"ENFORCEMENT_INVALID" in ds
	not admission.allow with input as image_input(good_facts) with data.supply_chain as c
}

test_unknown_level_denied if {
	c := levelled("off")
	ds := {d.code | some d in admission.deny with input as image_input(missing_review) with data.supply_chain as c}
	ds == {"ENFORCEMENT_INVALID", "REVIEW_ATTESTATION_MISSING"}
}

# --- vulnerability scan ------------------------------------------------------------

vuln_type := "https://cosign.sigstore.dev/attestation/vuln/v1"

with_vuln(patch) := replace(vuln_type, json.patch(vuln_att, patch))

test_vuln_scan_missing_denied if "VULN_SCAN_MISSING" in codes(image_input(without(vuln_type)))

test_vuln_scan_by_untrusted_key_denied if {
	"VULN_SCAN_MISSING" in codes(image_input(replace(vuln_type, object.union(vuln_att, {"key_id": evil}))))
}

test_vuln_found_denied if {
	f := with_vuln([{"op": "replace", "path": "/summary/vuln/findings", "value": ["GO-2026-0001"]}])
	some d in admission.deny with input as image_input(f) with data.supply_chain as cfg
	d.code == "VULN_FOUND"
	contains(d.message, "GO-2026-0001")
}

test_vuln_found_in_any_scan_denied if {
	bad := json.patch(vuln_att, [{"op": "replace", "path": "/summary/vuln/findings", "value": ["GO-2026-0001"]}])
	f := object.union(good_facts, {"attestations": array.concat(good_facts.attestations, [bad])})
	"VULN_FOUND" in codes(image_input(f))
}

test_vuln_db_stale_denied if {
	old := with_vuln([{"op": "replace", "path": "/summary/vuln/db_modified", "value": "2026-10-01T00:00:00Z"}])
	"VULN_DB_STALE" in codes(image_input(old))
	not "VULN_DB_STALE" in codes(image_input(good_facts))
}

test_vuln_db_age_limit_unset_denied if {
	c := json.remove(cfg, ["vulnerability"])
	ds := {d.code | some d in admission.deny with input as image_input(good_facts) with data.supply_chain as c}
	"VULN_DB_STALE" in ds
}

test_vuln_db_stale_may_warn if {
	c := object.union(cfg, {"enforcement": {"VULN_DB_STALE": "warn"}})
	old := with_vuln([{"op": "replace", "path": "/summary/vuln/db_modified", "value": "2026-10-01T00:00:00Z"}])
	admission.allow with input as image_input(old) with data.supply_chain as c
}

# --- Pod Security Standards: one test per field, in every container list ----------------
#
# Each test puts a violating and a compliant variant of one field in containers,
# initContainers and ephemeralContainers (and the pod's securityContext where the field is
# there too); tests/cluster compares the same fields with k8s.io/pod-security-admission.

container_lists := ["containers", "initContainers", "ephemeralContainers"]

# A pod whose list k holds c (beside the hardened container, when k is not containers).
pod_with("containers", c) := pod({"containers": [c]})

pod_with(k, c) := pod({"containers": [container], k: [c]}) if k != "containers"

# The hardened container with patch merged into its securityContext.
hardened_with(patch) := object.union(container, {"securityContext": patch})

# bad is denied with code in every container list; good is allowed in every list.
denied_in_every_list(code, bad, good) if {
	every k in container_lists {
		code in codes(pod_with(k, bad))
		allowed(pod_with(k, good))
	}
}

# The hardened pod with patch merged into the pod's securityContext.
pod_sc_with(patch) := pod({"securityContext": patch, "containers": [container]})

test_pss_host_process_denied if {
	denied_in_every_list(
		"HOST_PROCESS",
		hardened_with({"windowsOptions": {"hostProcess": true}}),
		hardened_with({"windowsOptions": {"hostProcess": false}}),
	)
	"HOST_PROCESS" in codes(pod_sc_with({"windowsOptions": {"hostProcess": true}}))
}

test_pss_privileged_denied if {
	denied_in_every_list("PRIVILEGED", hardened_with({"privileged": true}), hardened_with({"privileged": false}))
}

test_pss_capabilities_added_denied if {
	every cap in ["NET_ADMIN", "SYS_ADMIN", "NET_BIND_SERVICE"] {
		denied_in_every_list("CAPABILITIES_ADDED", hardened_with({"capabilities": {"add": [cap]}}), container)
	}
}

test_pss_capabilities_not_dropped_denied if {
	denied_in_every_list("CAPABILITIES_NOT_DROPPED", hardened_with({"capabilities": {"drop": ["NET_RAW"]}}), container)
	denied_in_every_list("CAPABILITIES_NOT_DROPPED", json.remove(container, ["securityContext/capabilities"]), container)
}

test_pss_host_port_denied if {
	port := {"ports": [{"containerPort": 8443, "hostPort": 8443}]}
	no_host_port := {"ports": [{"containerPort": 8443}]}
	denied_in_every_list("HOST_PORT", object.union(container, port), object.union(container, no_host_port))
}

# A container whose handler (a probe, or lifecycle.postStart/preStop) does action on host.
with_handler(handler, action, host) := object.union(container, json.patch({}, [{
	"op": "add", "path": concat("/", array.concat([""], handler)),
	"value": {action: {"port": 8443, "host": host}},
}])) if count(handler) == 1

with_handler(handler, action, host) := object.union(container, {"lifecycle": {handler[1]: {action: {
	"port": 8443,
	"host": host,
}}}}) if count(handler) == 2

test_pss_probe_host_denied if {
	every handler in admission.probe_handlers {
		every action in ["httpGet", "tcpSocket"] {
			bad := with_handler(handler, action, "169.254.169.254")
			denied_in_every_list("PROBE_HOST", bad, with_handler(handler, action, ""))
		}
	}
}

test_pss_apparmor_unconfined_denied if {
	every t in ["Unconfined", "", "Other"] {
		denied_in_every_list(
			"APPARMOR_UNCONFINED",
			hardened_with({"appArmorProfile": {"type": t}}),
			hardened_with({"appArmorProfile": {"type": "RuntimeDefault"}}),
		)
		"APPARMOR_UNCONFINED" in codes(pod_sc_with({"appArmorProfile": {"type": t}}))
	}
	allowed(pod_sc_with({"appArmorProfile": {"type": "Localhost", "localhostProfile": "k8s-movies"}}))
}

# The hardened pod with annotations on its metadata.
annotated(annotations) := object.union(pod(good_spec), {"object": {"metadata": {"annotations": annotations}}})

test_pss_apparmor_annotation_denied if {
	key := "container.apparmor.security.beta.kubernetes.io/movies"
	"APPARMOR_UNCONFINED" in codes(annotated({key: "unconfined"}))
	"APPARMOR_UNCONFINED" in codes(annotated({key: 1}))
	every ok in ["runtime/default", "localhost/k8s-movies", ""] {
		allowed(annotated({key: ok}))
	}
	allowed(annotated({"example.com/unconfined": "unconfined"}))
}

test_pss_selinux_type_denied if {
	every t in ["spc_t", "unconfined_t"] {
		denied_in_every_list(
			"SELINUX_TYPE",
			hardened_with({"seLinuxOptions": {"type": t}}),
			hardened_with({"seLinuxOptions": {"level": "s0:c123,c456"}}),
		)
		"SELINUX_TYPE" in codes(pod_sc_with({"seLinuxOptions": {"type": t}}))
	}
	every t in ["container_t", "container_init_t", "container_kvm_t", "container_engine_t"] {
		allowed(pod_with("initContainers", hardened_with({"seLinuxOptions": {"type": t}})))
		allowed(pod_sc_with({"seLinuxOptions": {"type": t}}))
	}
}

test_pss_selinux_user_role_denied if {
	every field in ["user", "role"] {
		denied_in_every_list(
			"SELINUX_USER_ROLE",
			hardened_with({"seLinuxOptions": {field: "system_r"}}),
			hardened_with({"seLinuxOptions": {field: ""}}),
		)
		"SELINUX_USER_ROLE" in codes(pod_sc_with({"seLinuxOptions": {field: "system_u"}}))
	}
}

test_pss_proc_mount_denied if {
	denied_in_every_list("PROC_MOUNT", hardened_with({"procMount": "Unmasked"}), hardened_with({"procMount": "Default"}))
}

test_pss_seccomp_unconfined_denied if {
	every t in ["Unconfined", "", "Other"] {
		denied_in_every_list("SECCOMP_UNCONFINED", hardened_with({"seccompProfile": {"type": t}}), container)
		"SECCOMP_UNCONFINED" in codes(pod_sc_with({"seccompProfile": {"type": t}}))
	}
	localhost := {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/movies.json"}}
	allowed(pod_with("ephemeralContainers", hardened_with(localhost)))
}

test_pss_seccomp_missing_denied if {
	bare := json.remove(container, ["securityContext/seccompProfile"])
	denied_in_every_list("SECCOMP_MISSING", bare, container)
	denied_in_every_list("SECCOMP_MISSING", hardened_with({"seccompProfile": null}), container)

	# The pod's profile covers the containers that set none; an invalid one covers nothing.
	runtime_default := {"seccompProfile": {"type": "RuntimeDefault"}}
	allowed(pod({"securityContext": runtime_default, "containers": [bare], "initContainers": [bare]}))
	"SECCOMP_MISSING" in codes(pod({"securityContext": {"seccompProfile": {"type": "Unconfined"}}, "containers": [bare]}))
}

test_pss_privilege_escalation_denied if {
	denied_in_every_list("PRIVILEGE_ESCALATION", hardened_with({"allowPrivilegeEscalation": true}), container)
	unset := json.remove(container, ["securityContext/allowPrivilegeEscalation"])
	denied_in_every_list("PRIVILEGE_ESCALATION", unset, container)
}

test_pss_run_as_non_root_denied if {
	denied_in_every_list("RUN_AS_NON_ROOT", hardened_with({"runAsNonRoot": false}), container)
	denied_in_every_list("RUN_AS_NON_ROOT", json.remove(container, ["securityContext/runAsNonRoot"]), container)
	"RUN_AS_NON_ROOT" in codes(pod_sc_with({"runAsNonRoot": false}))
}

test_pss_run_as_root_user_denied if {
	denied_in_every_list("RUN_AS_ROOT_USER", hardened_with({"runAsUser": 0}), hardened_with({"runAsUser": 65532}))
	"RUN_AS_ROOT_USER" in codes(pod_sc_with({"runAsUser": 0}))
}

test_pss_sysctls_unsafe_denied if {
	every name in ["kernel.msgmax", "net.core.somaxconn", "vm.swappiness", ""] {
		"SYSCTL_UNSAFE" in codes(pod_sc_with({"sysctls": [{"name": name, "value": "1"}]}))
	}
	"SYSCTL_UNSAFE" in codes(pod_sc_with({"sysctls": [{"value": "1"}]}))
	every name in admission.safe_sysctls {
		allowed(pod_sc_with({"sysctls": [{"name": name, "value": "1"}]}))
	}
}

with_volume(v) := pod(object.union(good_spec, {"volumes": [object.union({"name": "v"}, v)]}))

test_pss_volume_type_denied if {
	every src in [
		"nfs", "iscsi", "gitRepo", "rbd", "cephfs", "glusterfs", "flexVolume", "cinder", "fc", "azureFile",
		"azureDisk", "vsphereVolume", "quobyte", "portworxVolume", "photonPersistentDisk", "scaleIO",
		"storageos", "gcePersistentDisk", "awsElasticBlockStore", "flocker", "somethingNew",
	] {
		"VOLUME_TYPE" in codes(with_volume({src: {}}))
	}
	"VOLUME_TYPE" in codes(with_volume({}))
	"VOLUME_TYPE" in codes(with_volume({"emptyDir": {}, "nfs": {"server": "x", "path": "/"}}))
	every src in admission.restricted_volume_sources {
		allowed(with_volume({src: {}}))
	}
}

# A hostPath volume has its own reason, not a second one.
test_pss_host_path_is_not_also_a_volume_type if {
	cs := codes(with_volume({"hostPath": {"path": "/"}}))
	"HOST_PATH" in cs
	not "VOLUME_TYPE" in cs
}

test_pss_null_security_context_is_no_security_context if {
	"SECCOMP_MISSING" in codes(pod({"containers": [object.union(container, {"securityContext": null})]}))
	bare := json.remove(container, ["securityContext/seccompProfile"])
	"SECCOMP_MISSING" in codes(pod({"securityContext": null, "containers": [bare]}))
}

# Every pod-bearing kind: the template's spec and its annotations are read.
templates(spec, annotations) := array.concat(
	[
		{"kind": "Pod", "metadata": {"name": "m", "annotations": annotations}, "spec": spec},
		{"kind": "CronJob", "metadata": {"name": "m"}, "spec": {"jobTemplate": {"spec": {"template": tmpl}}}},
	],
	[{"kind": k, "metadata": {"name": "m"}, "spec": {"template": tmpl}} | some k in admission.template_kinds],
) if {
	tmpl := {"metadata": {"annotations": annotations}, "spec": spec}
}

test_pss_every_pod_bearing_kind if {
	bad := {"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}, "containers": [
		hardened_with({"procMount": "Unmasked"}),
	]}
	unconfined := {"container.apparmor.security.beta.kubernetes.io/movies": "unconfined"}
	count(templates(bad, unconfined)) == count(admission.supported_kinds)
	every obj in templates(bad, unconfined) {
		cs := codes({"object": obj, "facts": {ref: good_facts}, "now": now})
		{"PROC_MOUNT", "SYSCTL_UNSAFE", "APPARMOR_UNCONFINED"} == cs
	}
	every obj in templates(good_spec, {}) {
		allowed({"object": obj, "facts": {ref: good_facts}, "now": now})
	}
}
