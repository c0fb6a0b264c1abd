# METADATA
# title: Movie API request authorization
# description: >-
#   Decides every request to the movie API. The service POSTs the verified claims (never the raw
#   token) to /v1/data/movies/authz/decision with input
#   {"method", "route", "path": [...], "subject": {"sub", "roles": [...]} | null,
#   "resource": {"type": "movie", "id", "owner"} | null, "source": string (import only)}
#   and gets back {"allow": bool, "reasons": [string]}.
#   viewer reads; editor reads, creates, imports from a known catalogue, and changes or deletes
#   only movies it owns; admin may do every API operation. Anything not granted explicitly is
#   denied, including a request whose input is missing, malformed or names an unknown role,
#   method, route or source.
#   Every reason is "CODE: sentence" with a stable UPPER_SNAKE code; a reason never repeats
#   free-form input, only values already checked against a fixed set. `not` is applied only to
#   rule references, never to a call over input: `not f(input.x)` is undefined (so would not
#   deny) when input.x is missing.
# custom:
#   controls:
#     - C-AUTHZ-DEFAULT-DENY
#     - C-AUTHZ-RBAC
#     - C-AUTHZ-OWNER
#     - C-EGRESS-SSRF
package movies.authz

# METADATA
# title: Decision
# description: >-
#   The only entrypoint. Always defined, for any input and for no input at all: allow is a
#   boolean and reasons is a sorted, non-empty list of "CODE: sentence" strings naming the
#   granting rules on allow and the causes on deny.
# entrypoint: true
# custom:
#   controls:
#     - C-AUTHZ-DEFAULT-DENY
decision := {"allow": allow, "reasons": reasons}

# METADATA
# title: Allow
# description: >-
#   True only for a well-formed, authenticated request that at least one role of the subject
#   grants; false otherwise, and false by default.
# custom:
#   controls:
#     - C-AUTHZ-DEFAULT-DENY
#     - C-AUTHZ-RBAC
default allow := false

allow if {
	valid_request
	granted
}

# METADATA
# title: Reasons
# description: The granting rules on allow, the causes otherwise; sorted so the order is stable.
# custom:
#   controls:
#     - C-AUTHZ-DEFAULT-DENY
default reasons := ["AUTHZ_DEFAULT_DENY: no rule permits the request"]

reasons := sort(grants) if {
	allow
} else := sort(denials) if {
	count(denials) > 0
}

# METADATA
# title: Revision
# description: >-
#   The policy's revision, which the service's compile query binds so that a policy change
#   invalidates the residuals it caches: data.movies_policy.revision as the launcher loads it
#   (scripts/run-dev.sh and the tests write the SHA-256 of policy/api/authz.rego), "unversioned"
#   when it is missing or not a string (then only the cache's TTL bounds a stale residual).
default revision := "unversioned"

revision := data.movies_policy.revision if is_string(data.movies_policy.revision)

# METADATA
# title: API operations
# description: The routes the API serves and the methods each one takes; nothing else exists.
operations := {
	"/v1/movies": {"GET", "POST"},
	"/v1/movies/{id}": {"GET", "PUT", "DELETE"},
	"/v1/movies/import": {"POST"},
}

collection_route := "/v1/movies"

item_route := "/v1/movies/{id}"

import_route := "/v1/movies/import"

# METADATA
# title: Import sources
# description: >-
#   The catalogues a movie may be imported from. The service fetches only from the base URL its
#   operator configured for each; the client names a source from this set, never a URL.
# custom:
#   controls:
#     - C-EGRESS-SSRF
import_sources := {"wikidata", "omdb"}

# METADATA
# title: Valid request
# description: >-
#   Every structural condition holds, each one stated positively so that a missing or
#   mistyped field leaves it undefined and the request denied.
# custom:
#   controls:
#     - C-AUTHZ-DEFAULT-DENY
valid_request if {
	known_operation
	path_matches_route
	authenticated
	roles_listed
	resource_matches_route
	source_matches_route
}

methods := {"GET", "POST", "PUT", "DELETE"}

input_is_object if is_object(input)

known_method if input.method in methods

known_route if input.route in object.keys(operations)

known_operation if input.method in operations[input.route]

path_matches_route if {
	input.route == collection_route
	input.path == ["v1", "movies"]
}

path_matches_route if {
	input.route == import_route
	input.path == ["v1", "movies", "import"]
}

# Element by element, not by unifying with an array, so that partial evaluation with input.path
# unknown leaves comparisons the service's evaluator reads (see Granted).
path_matches_route if {
	input.route == item_route
	count(input.path) == 3
	input.path[0] == "v1"
	input.path[1] == "movies"
	non_empty_string(input.path[2])
}

# METADATA
# title: Authenticated
# description: The service verified a token and sent its subject; anonymous requests never pass.
# custom:
#   controls:
#     - C-AUTHZ-DEFAULT-DENY
authenticated if non_empty_string(input.subject.sub)

roles_listed if is_array(input.subject.roles)

resource_given if input.resource != null

# Defined for any value, null and false included; reads input.source only, so partial
# evaluation with input.resource unknown still knows it.
source_given if {
	_ = input.source
}

source_matches_route if {
	input.route != import_route
	not source_given
}

source_matches_route if {
	input.route == import_route
	known_source
}

# METADATA
# title: Known source
# description: An import names one of the import sources, exactly (no case folding, no URL).
# custom:
#   controls:
#     - C-EGRESS-SSRF
known_source if input.source in import_sources

resource_matches_route if {
	input.route in {collection_route, import_route}
	not resource_given
}

# The item route needs the stored movie: the service loads it before asking.
resource_matches_route if {
	input.route == item_route
	movie_type
	movie_id
	movie_owner
}

movie_type if input.resource.type == "movie"

movie_id if {
	non_empty_string(input.resource.id)
	input.resource.id == input.path[2]
}

movie_owner if non_empty_string(input.resource.owner)

# METADATA
# title: Subject roles
# description: >-
#   The roles the subject lists, matched later by exact string equality: no case folding, and
#   an object or a string in place of the array yields no role at all. A role grants only
#   through has_role, which requires an authenticated subject as well; not reading the subject's
#   sub here keeps the roles a known set when the service compiles with the sub unknown.
# custom:
#   controls:
#     - C-AUTHZ-RBAC
subject_roles contains role if {
	is_array(input.subject.roles)
	some role in input.subject.roles
	is_string(role)
}

# An authenticated subject holds the role. A function, so that partial evaluation inlines it.
has_role(role) if {
	authenticated
	role in subject_roles
}

non_empty_string(x) if {
	is_string(x)
	trim_space(x) != ""
}

# METADATA
# title: Grants
# description: One entry per rule that permits the request; on allow these are the reasons.
# custom:
#   controls:
#     - C-AUTHZ-RBAC
grants contains "ALLOW_VIEWER_READ: viewer may read movies" if viewer_read

grants contains "ALLOW_EDITOR_READ: editor may read movies" if editor_read

grants contains "ALLOW_EDITOR_CREATE: editor may create movies" if editor_create

grants contains "ALLOW_EDITOR_IMPORT: editor may import movies from a known catalogue" if editor_import

grants contains "ALLOW_EDITOR_OWNER: editor may change movies it created" if editor_owner

grants contains "ALLOW_ADMIN: admin may perform every movie operation" if admin_any

# METADATA
# title: Granted
# description: >-
#   True when a rule of Grants permits the request. allow reads this disjunction rather than
#   count(grants), so that OPA's Compile API (partial evaluation with input.resource and
#   input.path unknown) inlines it into one query per rule: the residual the service applies
#   to each stored movie holds only comparisons of resource and path fields with constants.
# custom:
#   controls:
#     - C-AUTHZ-RBAC
#     - C-AUTHZ-OWNER
granted if viewer_read

granted if editor_read

granted if editor_create

granted if editor_import

granted if editor_owner

granted if admin_any

viewer_read if {
	has_role("viewer")
	input.method == "GET"
}

editor_read if {
	has_role("editor")
	input.method == "GET"
}

editor_create if {
	has_role("editor")
	input.method == "POST"
	input.route == collection_route
}

editor_import if {
	has_role("editor")
	input.method == "POST"
	input.route == import_route
	known_source
}

# METADATA
# title: Editor changes its own movie
# description: >-
#   An editor may PUT or DELETE a movie only when the stored owner, loaded by the service before
#   the decision, is the editor's own (non-empty) subject and the movie is the one in the path.
# custom:
#   controls:
#     - C-AUTHZ-OWNER
editor_owner if {
	editor_change
	movie_type
	movie_id
	input.resource.owner == input.subject.sub
}

admin_any if {
	has_role("admin")
	known_operation
}

editor_change if {
	has_role("editor")
	input.method in {"PUT", "DELETE"}
	input.route == item_route
}

# METADATA
# title: Denials
# description: >-
#   The causes of a deny, one "CODE: sentence" each. Codes: AUTHZ_BAD_INPUT, AUTHZ_UNKNOWN_METHOD,
#   AUTHZ_UNKNOWN_ROUTE, AUTHZ_UNKNOWN_OPERATION, AUTHZ_NO_SUBJECT, AUTHZ_ROLE, AUTHZ_NOT_OWNER,
#   AUTHZ_NO_RESOURCE, AUTHZ_UNKNOWN_SOURCE.
# custom:
#   controls:
#     - C-AUTHZ-DEFAULT-DENY
#     - C-AUTHZ-RBAC
#     - C-AUTHZ-OWNER
#     - C-EGRESS-SSRF
denials contains "AUTHZ_BAD_INPUT: input must be an object" if not input_is_object

denials contains "AUTHZ_UNKNOWN_METHOD: method is missing or not one the API serves" if not known_method

denials contains "AUTHZ_UNKNOWN_ROUTE: route is missing or not an API route" if not known_route

denials contains sprintf("AUTHZ_UNKNOWN_OPERATION: %s %s is not an API operation", [input.method, input.route]) if {
	known_method
	known_route
	not known_operation
}

denials contains "AUTHZ_BAD_INPUT: path does not match the route" if {
	known_route
	not path_matches_route
}

denials contains "AUTHZ_NO_SUBJECT: request is not authenticated" if not authenticated

denials contains "AUTHZ_BAD_INPUT: subject.roles must be an array" if {
	authenticated
	not roles_listed
}

denials contains "AUTHZ_BAD_INPUT: the collection route takes no resource" if {
	input.route in {collection_route, import_route}
	resource_given
}

denials contains "AUTHZ_UNKNOWN_SOURCE: source is missing or not a catalogue the policy knows" if {
	input.route == import_route
	not known_source
}

denials contains "AUTHZ_BAD_INPUT: only the import route takes a source" if {
	known_route
	input.route != import_route
	source_given
}

denials contains "AUTHZ_BAD_INPUT: resource.type must be \"movie\"" if {
	input.route == item_route
	resource_given
	not movie_type
}

denials contains "AUTHZ_BAD_INPUT: resource.id must be a non-empty string equal to the path id" if {
	input.route == item_route
	resource_given
	not movie_id
}

denials contains "AUTHZ_BAD_INPUT: resource.owner must be a non-empty string" if {
	input.route == item_route
	resource_given
	not movie_owner
}

denials contains sprintf("AUTHZ_ROLE: no role of the subject permits %s %s", [input.method, input.route]) if {
	valid_request
	count(grants) == 0
	not editor_change
}

denials contains "AUTHZ_NOT_OWNER: editor may change only movies it created" if {
	valid_request
	count(grants) == 0
	editor_change
	resource_given
}

denials contains "AUTHZ_NO_RESOURCE: the item route needs the stored movie" if {
	input.route == item_route
	not resource_given
}
