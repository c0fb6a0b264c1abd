# METADATA
# title: Dockerfile rules
# description: |
#   Conftest-style rules over a Dockerfile parsed by pipeline/scan/dockerfile. The input is
#   {"path": …, "stages": [{index, image, name, line}], "instructions": [{cmd, flags, args,
#   json, vars, heredocs, stage, line, end_line, original}]}. Every deny is
#   {"code", "msg", "line"}; a missing or malformed field denies rather than passes.
# custom:
#   check: dockerfile-policy
package repo.dockerfile

default final_stage := -1

# METADATA
# description: Index of the last FROM (the image that ships).
final_stage := max({ins.stage | some ins in input.instructions})

default final_from_line := 0

final_from_line := ins.line if {
	some ins in input.instructions
	ins.cmd == "from"
	ins.stage == final_stage
}

# A FROM may name an earlier stage instead of an image.
earlier_stage(name, stage) if {
	some s in input.stages
	s.name != ""
	s.name == lower(name)
	s.index < stage
}

# USER instructions of the final stage, in order.
final_users := [ins |
	some ins in input.instructions
	ins.cmd == "user"
	ins.stage == final_stage
]

digest_pinned(image) if regex.match(`@sha256:[a-f0-9]{64}$`, image)

from_ok(image, _) if lower(image) == "scratch"

from_ok(image, stage) if earlier_stage(image, stage)

from_ok(image, _) if digest_pinned(image)

# METADATA
# title: DF000 no FROM
# description: A Dockerfile without a FROM builds nothing that can be judged.
# custom:
#   code: DF000
deny contains {
	"code": "DF000",
	"msg": "the Dockerfile has no FROM instruction",
	"line": 0,
} if {
	count([ins | some ins in input.instructions; ins.cmd == "from"]) == 0
}

# METADATA
# title: DF001 FROM without digest
# description: |
#   Every base image is pinned by digest (image@sha256:…), so a retagged or compromised tag
#   cannot change what is built. `scratch` and references to earlier stages need no digest.
#   Variables are not expanded: FROM $IMAGE cannot be shown to be pinned and is denied.
# custom:
#   code: DF001
deny contains {
	"code": "DF001",
	"msg": sprintf("FROM %s is not pinned by digest (write image:tag@sha256:…)", [image]),
	"line": ins.line,
} if {
	some ins in input.instructions
	ins.cmd == "from"
	image := object.get(ins, ["args", 0], "")
	not from_ok(image, ins.stage)
}

# METADATA
# title: DF002 missing USER
# description: The final stage must set USER; without it the container runs as root.
# custom:
#   code: DF002
deny contains {
	"code": "DF002",
	"msg": "the final stage sets no USER, so the container would run as root (add USER 65532:65532)",
	"line": final_from_line,
} if {
	count(final_users) == 0
}

final_user_spec := trim_space(object.get(final_users[count(final_users) - 1], ["args", 0], ""))

root_spec(spec) if lower(split(spec, ":")[0]) in {"", "root", "0"}

root_spec(spec) if lower(split(spec, ":")[1]) in {"", "root", "0"}

# METADATA
# title: DF003 root USER
# description: The last USER of the final stage is not root (uid or gid 0, or the name root).
# custom:
#   code: DF003
deny contains {
	"code": "DF003",
	"msg": sprintf("the final stage runs as %q, which is root (use a numeric non-root user such as 65532:65532)", [final_user_spec]),
	"line": final_users[count(final_users) - 1].line,
} if {
	root_spec(final_user_spec)
}

# METADATA
# title: DF004 non-numeric USER
# description: |
#   The final USER is numeric (uid or uid:gid). A name needs /etc/passwd in the image and
#   cannot be checked by admission (runAsNonRoot needs a numeric user).
# custom:
#   code: DF004
deny contains {
	"code": "DF004",
	"msg": sprintf("the final stage runs as %q, which is not a numeric uid[:gid]", [final_user_spec]),
	"line": final_users[count(final_users) - 1].line,
} if {
	not regex.match(`^[0-9]+(:[0-9]+)?$`, final_user_spec)
	not root_spec(final_user_spec)
}

remote_source(src) if regex.match(`^[a-zA-Z][a-zA-Z0-9+.-]*://`, src)

remote_source(src) if startswith(src, "git@")

# METADATA
# title: DF005 ADD of a URL
# description: |
#   ADD never fetches from the network: a download is not pinned, not verified, and changes
#   under the build. Fetch in a builder stage with a checksum, or COPY from the context.
# custom:
#   code: DF005
deny contains {
	"code": "DF005",
	"msg": sprintf("ADD fetches %s from the network; download it with a checksum in a builder stage or COPY it", [src]),
	"line": ins.line,
} if {
	some ins in input.instructions
	ins.cmd == "add"
	some src in ins.args
	remote_source(src)
}

secret_words := {
	"password", "passwd", "pass", "pwd", "secret", "secrets", "token", "tokens",
	"apikey", "credential", "credentials", "auth", "privatekey", "accesskey",
}

# A variable name looks secret when one of its _ or - separated words, or a pair of adjacent
# words (API_KEY, PRIVATE_KEY, ACCESS_KEY), is a secret word.
secret_name(name) if {
	some w in regex.split(`[_\-.]+`, lower(name))
	w in secret_words
}

secret_name(name) if {
	words := regex.split(`[_\-.]+`, lower(name))
	some i in numbers.range(0, count(words) - 2)
	concat("", [words[i], words[i + 1]]) in secret_words
}

secret_value_patterns := [
	`AKIA[0-9A-Z]{16}`,
	`-----BEGIN [A-Z ]*PRIVATE KEY-----`,
	`gh[pousr]_[A-Za-z0-9]{36,}`,
	`github_pat_[A-Za-z0-9_]{22,}`,
	`xox[abprs]-[A-Za-z0-9-]{10,}`,
	`://[^/\s:@]+:[^/\s@]+@`,
]

secret_value(v) if {
	some p in secret_value_patterns
	regex.match(p, v)
}

# METADATA
# title: DF006 secret in ENV or ARG
# description: |
#   ENV values are stored in the image config and ARG values in its history, where anyone who
#   pulls the image reads them. Secrets reach a build only through RUN --mount=type=secret.
# custom:
#   code: DF006
deny contains {
	"code": "DF006",
	"msg": sprintf("%s %s looks like a secret; image config and history are readable by anyone who pulls the image (use RUN --mount=type=secret)", [upper(ins.cmd), kv.key]),
	"line": ins.line,
} if {
	some ins in input.instructions
	ins.cmd in {"env", "arg"}
	some kv in ins.vars
	secret_name(kv.key)
}

deny contains {
	"code": "DF006",
	"msg": sprintf("the value of %s %s looks like a credential; image config and history are readable by anyone who pulls the image", [upper(ins.cmd), kv.key]),
	"line": ins.line,
} if {
	some ins in input.instructions
	ins.cmd in {"env", "arg"}
	some kv in ins.vars
	not secret_name(kv.key)
	secret_value(kv.value)
}

package_manager := `(^|[^A-Za-z0-9_-])(apt-get|apt|aptitude|apk|yum|dnf|microdnf|zypper|pip3?|npm|gem|curl|wget)([^A-Za-z0-9_-]|$)`

run_text(ins) := concat("\n", array.concat(ins.args, [d.body | some d in object.get(ins, "heredocs", [])]))

# METADATA
# title: DF007 package manager or downloader in the final stage
# description: |
#   The shipped stage holds only the binary: no package manager, no downloads, no shell
#   commands that would need one. Install what the build needs in a builder stage.
# custom:
#   code: DF007
deny contains {
	"code": "DF007",
	"msg": sprintf("RUN in the final stage uses %s; the shipped stage must hold only the binary (do this in a builder stage)", [tool]),
	"line": ins.line,
} if {
	some ins in input.instructions
	ins.cmd == "run"
	ins.stage == final_stage
	tool := regex.find_all_string_submatch_n(package_manager, run_text(ins), 1)[0][2]
}

# METADATA
# title: DF008 unpinned syntax frontend
# description: |
#   A "# syntax=" directive makes the builder pull that frontend image and run it with the
#   build's context; it is pinned by digest like any base image (or left out).
# custom:
#   code: DF008
deny contains {
	"code": "DF008",
	"msg": sprintf("# syntax=%s pulls an unpinned frontend image at build time; pin it by digest or remove the line", [syntax]),
	"line": 1,
} if {
	syntax := input.directives.syntax
	not digest_pinned(syntax)
}
