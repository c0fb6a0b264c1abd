# Tests for keyless trust in package admission: an identity per repository, each failure its own code.
package admission_test

import data.admission
import rego.v1

gh_issuer := "https://token.actions.githubusercontent.com"

release_subject := "https://github.com/secure-movie-service/sms/.github/workflows/release.yml@refs/tags/v1.2.3"

release_pattern := `^https://github\.com/secure-movie-service/sms/\.github/workflows/release\.yml@refs/tags/v[0-9]+\.[0-9]+\.[0-9]+$`

release_identity := {
	"issuer": gh_issuer, "subject": release_subject, "tlog": true,
	"github": {
		"repository": "https://github.com/secure-movie-service/sms", "ref": "refs/tags/v1.2.3",
		"trigger": "push", "workflow_sha": rev,
	},
}

trust_entry := {"repository": "ghcr.io/secure-movie-service/", "identities": [{
	"issuer": gh_issuer, "subject_regexp": release_pattern,
	"github": {"repository": "https://github.com/secure-movie-service/sms", "trigger": "push"},
}]}

kl_cfg := object.union(cfg, {"trusted_keys": {}, "trust": [trust_entry]})

by(x, id) := object.union(x, {"key_id": "", "identity": id})

kl_facts_by(id) := object.union(good_facts, {
	"signatures": [{"key_id": "", "identity": id, "digest": dg}],
	"attestations": [by(sbom_att, id), by(prov_att, id), by(ctl_att, id), by(vuln_att, id)],
})

kl_facts := kl_facts_by(release_identity)

kl_codes_with(facts, config) := {d.code | some d in admission.deny with input as image_input(facts) with data.supply_chain as config}

kl_codes(facts) := kl_codes_with(facts, kl_cfg)

test_keyless_release_identity_admitted if {
	kl_codes(kl_facts) == set()
	admission.allow with input as image_input(kl_facts) with data.supply_chain as kl_cfg
}

test_keyless_verdict_names_the_identity if {
	d := admission.decision with input as image_input(kl_facts) with data.supply_chain as kl_cfg
	d.admitted_by[ref] == [{"identity": {"issuer": gh_issuer, "subject": release_subject}}]
}

test_keyless_exact_subject_trusted if {
	exact := {"repository": "ghcr.io/secure-movie-service/movies", "identities": [{"issuer": gh_issuer, "subject": release_subject}]}
	kl_codes_with(kl_facts, object.union(cfg, {"trusted_keys": {}, "trust": [exact]})) == set()
}

test_keyless_wrong_issuer_denied if {
	c := kl_codes(kl_facts_by(object.union(release_identity, {"issuer": "https://accounts.google.com"})))
	"IDENTITY_ISSUER" in c
	"SIGNATURE_MISSING" in c
	not "IDENTITY_SUBJECT" in c
}

test_keyless_wrong_subject_denied if {
	evil := "https://github.com/evil/sms/.github/workflows/release.yml@refs/tags/v1.2.3"
	c := kl_codes(kl_facts_by(object.union(release_identity, {"subject": evil})))
	"IDENTITY_SUBJECT" in c
	not "IDENTITY_ISSUER" in c
	not "IDENTITY_PATTERN_UNANCHORED" in c
}

test_keyless_branch_ref_does_not_match_the_tag_pattern if {
	c := kl_codes(kl_facts_by(object.union(release_identity, {"subject": "https://github.com/secure-movie-service/sms/.github/workflows/release.yml@refs/heads/main"})))
	"IDENTITY_SUBJECT" in c
}

test_keyless_unanchored_pattern_only_match_denied if {
	loose := {"repository": "ghcr.io/secure-movie-service/", "identities": [{"issuer": gh_issuer, "subject_regexp": "release.yml@refs/tags/v"}]}
	evil := "https://github.com/evil/fork/.github/workflows/release.yml@refs/tags/v9"
	c := kl_codes_with(kl_facts_by(object.union(release_identity, {"subject": evil})), object.union(cfg, {"trusted_keys": {}, "trust": [loose]}))
	"IDENTITY_PATTERN_UNANCHORED" in c
	"TRUST_POLICY_INVALID" in c
	not "IDENTITY_SUBJECT" in c
}

test_keyless_anchors_hold_in_every_branch if {
	branches := {"repository": "ghcr.io/secure-movie-service/", "identities": [{
		"issuer": gh_issuer,
		"subject_regexp": `^https://github\.com/secure-movie-service/sms/\.github/workflows/release\.yml@refs/tags/v1\.2\.3|release\.yml@refs/heads/main$`,
	}]}
	config := object.union(cfg, {"trusted_keys": {}, "trust": [branches]})
	evil := "https://github.com/evil/fork/.github/workflows/release.yml@refs/heads/main"
	"IDENTITY_SUBJECT" in kl_codes_with(kl_facts_by(object.union(release_identity, {"subject": evil})), config)
	kl_codes_with(kl_facts, config) == set()
}

test_keyless_claims_differ_denied if {
	c := kl_codes(kl_facts_by(object.union(release_identity, {"github": {"repository": "https://github.com/secure-movie-service/sms", "trigger": "pull_request_target"}})))
	"IDENTITY_CLAIMS" in c
	"SIGNATURE_MISSING" in c
}

test_keyless_identity_of_another_repository_denied if {
	elsewhere := object.union(trust_entry, {"repository": "ghcr.io/secure-movie-service/other"})
	c := kl_codes_with(kl_facts, object.union(cfg, {"trusted_keys": {}, "trust": [elsewhere]}))
	"SIGNATURE_MISSING" in c
	"SBOM_MISSING" in c
}

test_keyless_key_trusted_per_repository if {
	per_repo := {"repository": "ghcr.io/secure-movie-service/movies", "keys": [key]}
	config := object.union(cfg, {"trusted_keys": {}, "trust": [per_repo]})
	kl_codes_with(good_facts, config) == set()
	d := admission.decision with input as image_input(good_facts) with data.supply_chain as config
	d.admitted_by[ref] == [{"key": key}]
}

rejected(reason) := object.union(good_facts, {
	"signatures": [],
	"rejected": [{"kind": "signature", "index": 0, "reason": reason, "detail": "test"}],
})

test_keyless_verification_failures_each_denied_with_their_code if {
	every r, code in {
		"CA_UNTRUSTED": "KEYLESS_CA_UNTRUSTED", "CERT_EXPIRED": "KEYLESS_CERT_EXPIRED",
		"TLOG_MISSING": "KEYLESS_TLOG_MISSING", "TLOG_INVALID": "KEYLESS_TLOG_INVALID",
		"TLOG_MISMATCH": "KEYLESS_TLOG_MISMATCH", "SCT_INVALID": "KEYLESS_SCT_INVALID",
		"SIGNATURE_INVALID": "KEYLESS_SIGNATURE_INVALID", "MALFORMED": "KEYLESS_MALFORMED",
		"SOMETHING_NEW": "KEYLESS_MALFORMED",
	} {
		c := kl_codes(rejected(r))
		code in c
		"SIGNATURE_MISSING" in c
	}
}

test_keyless_rejected_referrer_bundle_denied_with_its_code if {
	f := object.union(good_facts, {
		"signatures": [],
		"rejected": [{"kind": "bundle", "index": 0, "reason": "TLOG_INVALID", "detail": "test"}],
	})
	"KEYLESS_TLOG_INVALID" in kl_codes(f)
}

test_keyless_rejected_attestation_is_not_a_signature_code if {
	f := object.union(good_facts, {
		"signatures": [],
		"rejected": [{"kind": "attestation", "index": 0, "reason": "TLOG_INVALID", "detail": "test"}],
	})
	not "KEYLESS_TLOG_INVALID" in kl_codes(f)
}

test_keyless_rejected_material_beside_a_trusted_signature_is_information if {
	f := object.union(kl_facts, {"rejected": [{"kind": "signature", "index": 1, "reason": "CA_UNTRUSTED", "detail": "test"}]})
	kl_codes(f) == set()
}

test_keyless_signature_for_another_digest_denied if {
	f := object.union(kl_facts, {"signatures": [{"key_id": "", "identity": release_identity, "digest": other}]})
	c := kl_codes(f)
	"SIGNATURE_DIGEST_MISMATCH" in c
	"SIGNATURE_MISSING" in c
}

test_keyless_attestation_subject_differs_denied if {
	moved := object.union(by(prov_att, release_identity), {"subjects": [{"name": "x", "digest": other}]})
	f := object.union(kl_facts, {"attestations": [by(sbom_att, release_identity), moved, by(ctl_att, release_identity), by(vuln_att, release_identity)]})
	c := kl_codes(f)
	"ATTESTATION_SUBJECT_MISMATCH" in c
	"PROVENANCE_MISSING" in c
}

test_keyless_without_tlog_proof_denied_in_production if {
	"TLOG_NOT_VERIFIED" in kl_codes(kl_facts_by(object.union(release_identity, {"tlog": false})))
}

test_keyless_without_tlog_proof_warns_in_development if {
	dev := object.union(kl_cfg, {"enforcement": {"TLOG_NOT_VERIFIED": "warn"}})
	f := kl_facts_by(object.union(release_identity, {"tlog": false}))
	kl_codes_with(f, dev) == set()
	w := {d.code | some d in admission.warn with input as image_input(f) with data.supply_chain as dev}
	"TLOG_NOT_VERIFIED" in w
}
