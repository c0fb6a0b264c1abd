# METADATA
# title: OPA API authorization (the sidecar's own lock)
# description: >-
#   Evaluated by OPA for every HTTP request when it runs with
#   `--authentication=token --authorization=basic`. OPA gives this policy
#   input.method (upper case), input.path (the URL path split on "/", leading "/" dropped;
#   the Data and Health APIs split the escaped path, so "%2F" never acts as a separator),
#   input.params (the query, an object of string arrays, {} when there is none) and
#   input.identity (the bearer token, present only when the request carried
#   "Authorization: Bearer <token>").
#
#   Exactly three things are allowed: the service, proven by its token, may
#   POST /v1/data/movies/authz/decision and POST /v1/compile (partial evaluation of the
#   decision, which the service caches per roles, method and route), each with no
#   query parameters, and anyone may GET /health.
#   Everything else is denied, including every write to /v1/policies and /v1/data, any other
#   read of /v1/data (the whole tree would leak the token hash), /v1/query, the data-filter
#   compile API /v1/compile/{path}, /v1/config and /v1/status, and the decision or compile
#   query with parameters such as explain, metrics, instrument or provenance. The compile
#   request must be one of the two the service sends (the query, its unknowns, no options).
#
#   The service token is random, created at `make run` time and never committed. OPA knows only
#   its SHA-256, as lowercase hex (what sha256sum prints), from a generated data file loaded
#   at the data root:
#
#     {"movies_opa": {"service_token_sha256": "<64 lowercase hex digits>"}}
#
#   that is data.movies_opa.service_token_sha256, compared exactly with crypto.sha256 of the
#   token. With the file missing, or the value not 64 lowercase hex digits, no token matches and
#   only /health answers.
# custom:
#   controls:
#     - C-OPA-API-AUTHZ
#     - C-AUTHZ-DEFAULT-DENY
package system.authz

# METADATA
# title: Allow
# description: OPA's authorization decision; false unless a rule below grants the request.
# entrypoint: true
# custom:
#   controls:
#     - C-OPA-API-AUTHZ
#     - C-AUTHZ-DEFAULT-DENY
default allow := false

# METADATA
# title: The service queries decisions
# description: >-
#   Only the decision document, only by POST, only without query parameters, only with the
#   service token.
# custom:
#   controls:
#     - C-OPA-API-AUTHZ
allow if {
	service_caller
	input.method == "POST"
	input.path == ["v1", "data", "movies", "authz", "decision"]
	input.params == {}
}

# METADATA
# title: The service compiles decisions
# description: >-
#   POST /v1/compile only (not the data-filter API under it), only without query parameters,
#   only with the service token, and only the two queries the service asks, each with its own
#   unknowns and no options: so the token cannot read data (the token hash) through partial
#   evaluation of another query.
# custom:
#   controls:
#     - C-OPA-API-AUTHZ
allow if {
	service_caller
	input.method == "POST"
	input.path == ["v1", "compile"]
	input.params == {}
	compile_queries[input.body.query] == input.body.unknowns
	every key in object.keys(input.body) {
		key in {"query", "input", "unknowns"}
	}
}

# METADATA
# title: Compile queries
# description: >-
#   The queries the service compiles (service/authz/compile.go), each with the unknowns it
#   sends: the decision's allow with the resource, path and subject's sub open, and the policy's
#   revision.
compile_queries := {
	"data.movies.authz.allow == true; revision = data.movies.authz.revision": ["input.resource", "input.path", "input.subject.sub"],
	"revision = data.movies.authz.revision": [],
}

# METADATA
# title: Liveness probe
# description: GET /health needs no token, so probes work; it tells nothing but "up".
allow if {
	input.method == "GET"
	input.path == ["health"]
}

# METADATA
# title: Service caller
# description: The bearer token hashes to the configured service token hash.
# custom:
#   controls:
#     - C-OPA-API-AUTHZ
service_caller if {
	is_string(input.identity)
	crypto.sha256(input.identity) == data.movies_opa.service_token_sha256
}
