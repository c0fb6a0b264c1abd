package repo.workflow_test

import data.repo.workflow

sha := "de0fac2e4500dabe0009e67214ff5f5447ce83dd"

checkout := sprintf("actions/checkout@%s", [sha])

# A least-privilege workflow in the shape of the repository's own: nothing at the top, each
# job names its scopes, the signing job alone has id-token: write, untrusted values go via env.
good_wf := {
	"name": "release",
	"on": {"push": {"tags": ["v*"]}, "pull_request": {}},
	"permissions": {},
	"jobs": {
		"test": {
			"runs-on": "ubuntu-24.04",
			"permissions": {"contents": "read"},
			"steps": [
				{"uses": checkout, "with": {"persist-credentials": false}},
				{"env": {"TITLE": "${{ github.event.pull_request.title }}"}, "run": "echo \"$TITLE\"\nmake test ${{ matrix.flags }}\n"},
			],
		},
		"release": {
			"runs-on": "ubuntu-24.04",
			"permissions": {"contents": "read", "packages": "write", "id-token": "write"},
			"steps": [
				{"uses": checkout},
				{"run": "go run ./pipeline/cmd/pipeline release --keyless"},
			],
		},
		"reuse": {"uses": sprintf("octo/flows/.github/workflows/x.yml@%s", [sha])},
		"local": {"uses": "./.github/workflows/local.yml"},
	},
}

good_comments := {
	"/jobs/test/steps/0/uses": "# v6.0.2",
	"/jobs/release/steps/0/uses": "# v6.0.2",
	"/jobs/reuse/uses": "# v1.2.3",
}

doc(wf) := {
	"path": ".github/workflows/x.yml",
	"workflow": wf,
	"lines": {"/permissions": 3, "/jobs/test/steps/1/run": 20, "/jobs/release/permissions/id-token": 31},
	"content_lines": {"/jobs/test/steps/1/run": 21},
	"comments": good_comments,
}

codes(wf) := {d.code | some d in workflow.deny with input as doc(wf)}

denies(wf, code) if code in codes(wf)

with_step(wf, job, step) := json.patch(wf, [{"op": "add", "path": sprintf("/jobs/%s/steps/-", [job]), "value": step}])

test_good_workflow_passes_every_rule if {
	count(workflow.deny) == 0 with input as doc(good_wf)
}

# GHA000
test_gha000_not_a_workflow_denied if {
	denies("just a string", "GHA000")
	denies({"name": "x"}, "GHA000")
	count(workflow.deny) > 0 with input as {}
}

test_gha000_workflow_passes if not denies(good_wf, "GHA000")

# GHA001
test_gha001_tag_branch_and_short_sha_denied if {
	every ref in ["actions/checkout@v4", "actions/checkout@main", "actions/checkout@de0fac2", "docker://alpine:3", "actions/checkout"] {
		denies(with_step(good_wf, "test", {"uses": ref}), "GHA001")
	}
}

test_gha001_reusable_workflow_tag_denied if {
	denies(json.patch(good_wf, [{"op": "replace", "path": "/jobs/reuse/uses", "value": "octo/flows/.github/workflows/x.yml@v1"}]), "GHA001")
}

test_gha001_sha_digest_and_local_pass if {
	not denies(good_wf, "GHA001")
	digest := concat("", ["docker://alpine@sha256:", concat("", [x | some _ in numbers.range(1, 64); x := "0"])])
	not denies(with_step(good_wf, "test", {"uses": digest}), "GHA001")
	not denies(with_step(good_wf, "test", {"uses": "./.github/actions/local"}), "GHA001")
}

test_gha001_reason_names_action_and_line if {
	some d in workflow.deny with input as object.union(doc(with_step(good_wf, "test", {"uses": "actions/setup-go@v6"})), {"lines": {"/jobs/test/steps/2/uses": 17}})
	d.code == "GHA001"
	d.line == 17
	contains(d.msg, "actions/setup-go@v6")
}

# GHA002
test_gha002_missing_or_vague_comment_denied if {
	every comment in [null, "# v6", "# latest", "# pinned"] {
		comments := json.patch(good_comments, [{"op": "add", "path": "/~1jobs~1test~1steps~10~1uses", "value": comment}])
		some d in workflow.deny with input as object.union(doc(good_wf), {"comments": comments})
		d.code == "GHA002"
	}
}

test_gha002_version_comment_passes if not denies(good_wf, "GHA002")

# GHA003
test_gha003_missing_permissions_denied if {
	denies(json.remove(good_wf, ["permissions"]), "GHA003")
	denies(json.patch(good_wf, [{"op": "replace", "path": "/permissions", "value": null}]), "GHA003")
}

test_gha003_present_permissions_pass if {
	not denies(good_wf, "GHA003")
	not denies(json.patch(good_wf, [{"op": "replace", "path": "/permissions", "value": "read-all"}]), "GHA003")
}

# GHA004
test_gha004_broad_top_level_denied if {
	every perms in ["write-all", {"contents": "write"}, {"id-token": "write"}, "admin", 7] {
		denies(json.patch(good_wf, [{"op": "replace", "path": "/permissions", "value": perms}]), "GHA004")
	}
}

test_gha004_read_only_top_level_passes if {
	every perms in [{}, "read-all", {"contents": "read"}] {
		not denies(json.patch(good_wf, [{"op": "replace", "path": "/permissions", "value": perms}]), "GHA004")
	}
}

# GHA005
test_gha005_job_write_all_denied if {
	denies(json.patch(good_wf, [{"op": "replace", "path": "/jobs/test/permissions", "value": "write-all"}]), "GHA005")
}

test_gha005_scoped_job_passes if not denies(good_wf, "GHA005")

# GHA006
test_gha006_id_token_without_signing_denied if {
	denies(json.patch(good_wf, [{"op": "add", "path": "/jobs/test/permissions/id-token", "value": "write"}]), "GHA006")
}

test_gha006_signing_jobs_pass if {
	not denies(good_wf, "GHA006")
	cosign := {"runs-on": "x", "permissions": {"id-token": "write"}, "steps": [{"run": "cosign sign --yes \"$IMAGE\""}]}
	not denies(json.patch(good_wf, [{"op": "add", "path": "/jobs/cosign", "value": cosign}]), "GHA006")
	scorecard := {"runs-on": "x", "permissions": {"id-token": "write"}, "steps": [{"uses": sprintf("ossf/scorecard-action@%s", [sha])}]}
	not denies(json.patch(good_wf, [{"op": "add", "path": "/jobs/scorecard", "value": scorecard}]), "GHA006")
	slsa := {"permissions": {"id-token": "write"}, "uses": sprintf("slsa-framework/slsa-github-generator/.github/workflows/g.yml@%s", [sha])}
	not denies(json.patch(good_wf, [{"op": "add", "path": "/jobs/slsa", "value": slsa}]), "GHA006")
}

# GHA007
pwn(trigger, step) := json.patch(good_wf, [
	{"op": "replace", "path": "/on", "value": trigger},
	{"op": "add", "path": "/jobs/test/steps/-", "value": step},
])

test_gha007_pull_request_target_checking_out_head_denied if {
	every trigger in ["pull_request_target", ["pull_request_target"], {"pull_request_target": {"types": ["opened"]}}, {"workflow_run": {"workflows": ["ci"]}}] {
		denies(pwn(trigger, {"uses": checkout, "with": {"ref": "${{ github.event.pull_request.head.sha }}"}}), "GHA007")
	}
	denies(pwn("pull_request_target", {"uses": checkout, "with": {"repository": "${{ github.event.pull_request.head.repo.full_name }}"}}), "GHA007")
	denies(pwn("pull_request_target", {"run": "gh pr checkout \"$PR\""}), "GHA007")
	denies(pwn("workflow_run", {"uses": checkout, "with": {"ref": "${{ github.event.workflow_run.head_sha }}"}}), "GHA007")
}

test_gha007_safe_triggers_pass if {
	not denies(good_wf, "GHA007")

	# pull_request_target that checks out the base (the default) runs trusted code.
	not denies(pwn("pull_request_target", {"uses": checkout}), "GHA007")

	# pull_request runs the contributor's code without secrets: checking out the head is fine.
	not denies(pwn("pull_request", {"uses": checkout, "with": {"ref": "${{ github.event.pull_request.head.sha }}"}}), "GHA007")
}

# GHA008
test_gha008_untrusted_expression_in_run_denied if {
	every expr in [
		"${{ github.event.pull_request.title }}",
		"${{ github.event.issue.body }}",
		"${{ github.head_ref }}",
		"${{ github['event']['comment']['body'] }}",
		"${{ toJSON(github.event) }}",
	] {
		denies(with_step(good_wf, "test", {"run": sprintf("echo \"%s\"", [expr])}), "GHA008")
	}
}

test_gha008_github_script_denied if {
	step := {"uses": sprintf("actions/github-script@%s", [sha]), "with": {"script": "core.info('${{ github.event.issue.title }}')"}}
	denies(with_step(good_wf, "test", step), "GHA008")
}

test_gha008_line_inside_block if {
	wf := json.patch(good_wf, [{"op": "replace", "path": "/jobs/test/steps/1/run", "value": "echo start\necho two\necho ${{ github.head_ref }}\n"}])
	some d in workflow.deny with input as doc(wf)
	d.code == "GHA008"
	d.line == 23
}

test_gha008_env_and_trusted_contexts_pass if {
	not denies(good_wf, "GHA008")
	not denies(with_step(good_wf, "test", {"run": "echo ${{ github.sha }} ${{ runner.temp }} ${{ matrix.os }}"}), "GHA008")
}
