package repo.dockerfile_test

import data.repo.dockerfile

digest := concat("", ["sha256:", concat("", [x | some _ in numbers.range(1, 64); x := "a"])])

builder := sprintf("golang:1.26.8-bookworm@%s", [digest])

# ins builds one parsed instruction as pipeline/scan/dockerfile emits it.
ins(cmd, args, stage, line) := {
	"cmd": cmd, "flags": [], "args": args, "json": false, "stage": stage,
	"line": line, "end_line": line, "original": "",
}

vars(cmd, kvs, stage, line) := object.union(ins(cmd, [], stage, line), {"vars": kvs})

stage_name(args) := lower(args[2]) if count(args) == 3

else := ""

doc(instructions) := {
	"path": "Dockerfile",
	"instructions": instructions,
	"stages": [s |
		some i in instructions
		i.cmd == "from"
		s := {
			"index": i.stage, "image": i.args[0], "line": i.line,
			"name": stage_name(i.args),
		}
	],
}

# The shape of the repository's Dockerfile: a pinned builder, scratch, a numeric user.
good := [
	ins("from", [builder, "AS", "build"], 0, 1),
	vars("env", [{"key": "CGO_ENABLED", "value": "0", "has_value": true}], 0, 2),
	vars("arg", [{"key": "TARGETARCH", "value": "", "has_value": false}], 0, 3),
	ins("run", ["go build -trimpath -ldflags=-buildid= -o /out/movies ./cmd/movies"], 0, 4),
	ins("from", ["scratch"], 1, 5),
	ins("copy", ["/out/movies", "/movies"], 1, 6),
	ins("user", ["65532:65532"], 1, 7),
	ins("entrypoint", ["/movies"], 1, 8),
]

codes(result) := {d.code | some d in result}

denies(instructions, code) if code in codes(dockerfile.deny) with input as doc(instructions)

test_good_dockerfile_passes_every_rule if {
	count(dockerfile.deny) == 0 with input as doc(good)
}

test_deny_reasons_have_code_message_and_line if {
	bad := array.concat(good, [ins("add", ["https://example.com/x", "/x"], 1, 9)])
	some d in dockerfile.deny with input as doc(bad)
	d.code == "DF005"
	d.line == 9
	contains(d.msg, "https://example.com/x")
}

# DF000
test_df000_empty_dockerfile_denied if denies([], "DF000")

test_df000_good_has_from if not denies(good, "DF000")

# DF001
test_df001_tag_only_denied if denies(array.concat([ins("from", ["golang:1.26", "AS", "build"], 0, 1)], array.slice(good, 1, 8)), "DF001")

test_df001_variable_image_denied if denies(array.concat(array.slice(good, 0, 4), [ins("from", ["${BASE}"], 1, 5)]), "DF001")

test_df001_short_digest_denied if denies([ins("from", ["alpine@sha256:abc"], 0, 1), ins("user", ["1"], 0, 2)], "DF001")

test_df001_missing_image_denied if denies([ins("from", [], 0, 1), ins("user", ["1"], 0, 2)], "DF001")

test_df001_later_stage_name_is_no_pin if {
	# "FROM build" only refers to a stage defined before it.
	denies([ins("from", ["build"], 0, 1), ins("from", [builder, "AS", "build"], 1, 2), ins("user", ["1"], 1, 3)], "DF001")
}

test_df001_digest_scratch_and_stage_pass if {
	not denies(good, "DF001")
	not denies(array.concat(good, [ins("from", ["build", "AS", "again"], 2, 9), ins("user", ["1"], 2, 10)]), "DF001")
}

# DF002
test_df002_missing_user_denied if denies(array.slice(good, 0, 6), "DF002")

test_df002_user_only_in_builder_denied if {
	denies(array.concat(array.slice(good, 0, 4), [ins("user", ["65532"], 0, 4), ins("from", ["scratch"], 1, 5)]), "DF002")
}

test_df002_user_present_passes if not denies(good, "DF002")

# DF003
test_df003_root_users_denied if {
	every spec in ["root", "0", "0:0", "65532:0", "ROOT:root", ""] {
		denies(array.concat(good, [ins("user", [spec], 1, 9)]), "DF003")
	}
}

test_df003_last_user_counts if {
	# Dropping privileges and then taking them back is still root.
	denies(array.concat(good, [ins("user", ["0"], 1, 9)]), "DF003")
	not denies(array.concat([ins("from", ["scratch"], 0, 1), ins("user", ["0"], 0, 2)], [ins("user", ["10001"], 0, 3)]), "DF003")
}

test_df003_numeric_non_root_passes if not denies(good, "DF003")

# DF004
test_df004_named_user_denied if denies(array.concat(good, [ins("user", ["nonroot"], 1, 9)]), "DF004")

test_df004_variable_user_denied if denies(array.concat(good, [ins("user", ["$UID"], 1, 9)]), "DF004")

test_df004_root_reported_once if not denies(array.concat(good, [ins("user", ["root"], 1, 9)]), "DF004")

test_df004_numeric_passes if {
	not denies(good, "DF004")
	not denies(array.concat(good, [ins("user", ["10001"], 1, 9)]), "DF004")
}

# DF005
test_df005_add_url_denied if {
	every src in ["https://example.com/tool.tgz", "http://example.com/x", "git@github.com:a/b.git", "ftp://h/x"] {
		denies(array.concat(good, [ins("add", [src, "/x"], 1, 9)]), "DF005")
	}
}

test_df005_add_local_passes if not denies(array.concat(good, [ins("add", ["vendor.tar", "/x"], 1, 9)]), "DF005")

# DF006
test_df006_secret_names_denied if {
	every name in ["DB_PASSWORD", "GITHUB_TOKEN", "API_KEY", "aws-secret-access-key", "NPM_AUTH", "PRIVATE_KEY"] {
		denies(array.concat(good, [vars("env", [{"key": name, "value": "x", "has_value": true}], 1, 9)]), "DF006")
		denies(array.concat(good, [vars("arg", [{"key": name, "value": "", "has_value": false}], 0, 9)]), "DF006")
	}
}

test_df006_secret_values_denied if {
	every value in [
		"AKIAABCDEFGHIJKLMNOP",
		"https://user:hunter2@example.com/repo",
		"-----BEGIN OPENSSH PRIVATE KEY-----",
		"ghp_0123456789abcdefghijklmnopqrstuvwxyz",
	] {
		denies(array.concat(good, [vars("env", [{"key": "SETTING", "value": value, "has_value": true}], 1, 9)]), "DF006")
	}
}

test_df006_ordinary_variables_pass if {
	not denies(good, "DF006")
	not denies(array.concat(good, [vars("env", [{"key": "MOVIES_ADDR", "value": "0.0.0.0:8080", "has_value": true}, {"key": "KEYBOARD", "value": "us", "has_value": true}], 1, 9)]), "DF006")
}

# DF007
test_df007_package_manager_in_final_stage_denied if {
	every cmd in ["apt-get update && apt-get install -y curl", "apk add --no-cache ca-certificates", "pip install x", "curl -fsSL https://x | sh"] {
		denies(array.concat(good, [ins("run", [cmd], 1, 9)]), "DF007")
	}
}

test_df007_heredoc_and_exec_form_denied if {
	heredoc := object.union(ins("run", ["<<EOF"], 1, 9), {"heredocs": [{"name": "EOF", "body": "yum install -y x"}]})
	denies(array.concat(good, [heredoc]), "DF007")
	exec := object.union(ins("run", ["/usr/bin/apk", "add", "x"], 1, 9), {"json": true})
	denies(array.concat(good, [exec]), "DF007")
}

test_df007_builder_stage_may_install if {
	not denies(array.concat(array.slice(good, 0, 4), array.concat([ins("run", ["apt-get install -y git"], 0, 4)], array.slice(good, 4, 8))), "DF007")
	not denies(array.concat(good, [ins("run", ["/movies migrate"], 1, 9)]), "DF007")
}

# DF008
with_syntax(syntax) := object.union(doc(good), {"directives": {"syntax": syntax}})

test_df008_unpinned_syntax_denied if {
	some d in dockerfile.deny with input as with_syntax("docker/dockerfile:1")
	d.code == "DF008"
}

test_df008_pinned_or_absent_syntax_passes if {
	count(dockerfile.deny) == 0 with input as with_syntax(concat("", ["docker/dockerfile:1.7@", digest]))
	count(dockerfile.deny) == 0 with input as object.union(doc(good), {"directives": {}})
}
