# METADATA
# title: Tests for movies.authz
# description: >-
#   One rule per allow path and per deny path. Threat-model evidence refers to these rules as
#   rego:movies.authz_test.<rule>. Each deny test checks allow is exactly false and names the
#   reason it expects, so removing the control makes the test fail.
package movies.authz_test

import data.movies.authz

# Fixtures -------------------------------------------------------------------------------------

viewer := {"sub": "viewer", "roles": ["viewer"]}

editor := {"sub": "editor", "roles": ["editor"]}

editor2 := {"sub": "editor2", "roles": ["editor"]}

admin := {"sub": "admin", "roles": ["admin"]}

editors_movie := {"type": "movie", "id": "m1", "owner": "editor"}

list_request(subject) := {
	"method": "GET",
	"route": "/v1/movies",
	"path": ["v1", "movies"],
	"subject": subject,
	"resource": null,
}

create_request(subject) := {
	"method": "POST",
	"route": "/v1/movies",
	"path": ["v1", "movies"],
	"subject": subject,
	"resource": null,
}

import_request(subject, source) := {
	"method": "POST",
	"route": "/v1/movies/import",
	"path": ["v1", "movies", "import"],
	"subject": subject,
	"resource": null,
	"source": source,
}

item_request(method, subject, resource) := {
	"method": method,
	"route": "/v1/movies/{id}",
	"path": ["v1", "movies", "m1"],
	"subject": subject,
	"resource": resource,
}

# every_operation lists the six API operations for one subject, with the stored movie loaded.
every_operation(subject) := [
	list_request(subject),
	create_request(subject),
	import_request(subject, "wikidata"),
	item_request("GET", subject, editors_movie),
	item_request("PUT", subject, editors_movie),
	item_request("DELETE", subject, editors_movie),
]

decide(request) := d if {
	d := authz.decision with input as request
}

# allowed_by holds when the request is allowed and the reasons are exactly the granting rules.
allowed_by(request, want) if {
	d := decide(request)
	d.allow == true
	d.reasons == want
}

# denied_with holds when allow is exactly false and reason is among the reasons.
denied_with(request, reason) if {
	d := decide(request)
	d.allow == false
	reason in d.reasons
}

viewer_read := "ALLOW_VIEWER_READ: viewer may read movies"

editor_read := "ALLOW_EDITOR_READ: editor may read movies"

editor_create := "ALLOW_EDITOR_CREATE: editor may create movies"

editor_owner := "ALLOW_EDITOR_OWNER: editor may change movies it created"

editor_import := "ALLOW_EDITOR_IMPORT: editor may import movies from a known catalogue"

unknown_source := "AUTHZ_UNKNOWN_SOURCE: source is missing or not a catalogue the policy knows"

admin_any := "ALLOW_ADMIN: admin may perform every movie operation"

no_subject := "AUTHZ_NO_SUBJECT: request is not authenticated"

not_owner := "AUTHZ_NOT_OWNER: editor may change only movies it created"

no_resource := "AUTHZ_NO_RESOURCE: the item route needs the stored movie"

role_denied(method, route) := sprintf("AUTHZ_ROLE: no role of the subject permits %s %s", [method, route])

unknown_method := "AUTHZ_UNKNOWN_METHOD: method is missing or not one the API serves"

unknown_route := "AUTHZ_UNKNOWN_ROUTE: route is missing or not an API route"

bad_path := "AUTHZ_BAD_INPUT: path does not match the route"

bad_owner := "AUTHZ_BAD_INPUT: resource.owner must be a non-empty string"

bad_id := "AUTHZ_BAD_INPUT: resource.id must be a non-empty string equal to the path id"

bad_type := "AUTHZ_BAD_INPUT: resource.type must be \"movie\""

bad_roles := "AUTHZ_BAD_INPUT: subject.roles must be an array"

# viewer: reads only (C-AUTHZ-RBAC) -------------------------------------------------------------

test_viewer_can_list if allowed_by(list_request(viewer), [viewer_read])

test_viewer_cannot_read_one_without_stored_movie if denied_with(item_request("GET", viewer, null), no_resource)

test_viewer_can_read_one_with_stored_movie if allowed_by(item_request("GET", viewer, editors_movie), [viewer_read])

test_viewer_cannot_create if denied_with(create_request(viewer), role_denied("POST", "/v1/movies"))

test_viewer_cannot_update if {
	denied_with(item_request("PUT", viewer, editors_movie), role_denied("PUT", "/v1/movies/{id}"))
}

test_viewer_cannot_delete if {
	denied_with(item_request("DELETE", viewer, editors_movie), role_denied("DELETE", "/v1/movies/{id}"))
}

# editor: reads, creates, changes only its own (C-AUTHZ-RBAC, C-AUTHZ-OWNER) --------------------

test_editor_can_list if allowed_by(list_request(editor), [editor_read])

test_editor_can_read_one if allowed_by(item_request("GET", editor, editors_movie), [editor_read])

test_editor_can_create if allowed_by(create_request(editor), [editor_create])

test_editor_can_update_own_movie if allowed_by(item_request("PUT", editor, editors_movie), [editor_owner])

test_editor_can_delete_own_movie if allowed_by(item_request("DELETE", editor, editors_movie), [editor_owner])

test_editor2_cannot_update_editors_movie if {
	request := item_request("PUT", editor2, editors_movie)
	denied_with(request, not_owner)
	decide(request).reasons == [not_owner]
}

test_editor2_cannot_delete_editors_movie if {
	request := item_request("DELETE", editor2, editors_movie)
	denied_with(request, not_owner)
	decide(request).reasons == [not_owner]
}

test_editor_cannot_update_without_stored_movie if denied_with(item_request("PUT", editor, null), no_resource)

test_editor_cannot_delete_without_stored_movie if {
	request := json.remove(item_request("DELETE", editor, null), ["resource"])
	denied_with(request, no_resource)
}

test_editor_owner_compared_exactly if {
	denied_with(item_request("PUT", editor, object.union(editors_movie, {"owner": "Editor"})), not_owner)
}

# import: editor and admin, from a known catalogue only (C-AUTHZ-RBAC, C-EGRESS-SSRF) ------------

test_editor_can_import if {
	every source in ["wikidata", "omdb"] {
		allowed_by(import_request(editor, source), [editor_import])
	}
}

test_admin_can_import if allowed_by(import_request(admin, "omdb"), [admin_any])

test_viewer_cannot_import if {
	denied_with(import_request(viewer, "wikidata"), role_denied("POST", "/v1/movies/import"))
}

test_import_unknown_source_denied if {
	odd := ["imdb", "", "Wikidata", "wikidata ", "https://127.0.0.1/", null, 1, ["wikidata"], {"wikidata": true}]
	every source in odd {
		denied_with(import_request(admin, source), unknown_source)
		denied_with(import_request(editor, source), unknown_source)
	}
}

test_import_source_missing_denied if {
	denied_with(json.remove(import_request(admin, "wikidata"), ["source"]), unknown_source)
}

test_source_only_on_the_import_route if {
	every request in [
		object.union(create_request(admin), {"source": "wikidata"}),
		object.union(item_request("PUT", editor, editors_movie), {"source": "wikidata"}),
	] {
		denied_with(request, "AUTHZ_BAD_INPUT: only the import route takes a source")
	}
}

test_import_path_and_resource_checked if {
	denied_with(object.union(import_request(admin, "wikidata"), {"path": ["v1", "movies"]}), bad_path)
	with_resource := object.union(import_request(admin, "wikidata"), {"resource": editors_movie})
	denied_with(with_resource, "AUTHZ_BAD_INPUT: the collection route takes no resource")
}

test_import_takes_post_only if {
	every method in ["GET", "PUT", "DELETE"] {
		reason := sprintf("AUTHZ_UNKNOWN_OPERATION: %s /v1/movies/import is not an API operation", [method])
		denied_with(object.union(import_request(admin, "wikidata"), {"method": method}), reason)
	}
}

test_import_grant_needs_a_known_source if {
	count(authz.grants) == 0 with input as import_request(editor, "imdb")
}

# admin: every operation (C-AUTHZ-RBAC) -----------------------------------------------------------

test_admin_can_list if allowed_by(list_request(admin), [admin_any])

test_admin_can_read_one if allowed_by(item_request("GET", admin, editors_movie), [admin_any])

test_admin_can_create if allowed_by(create_request(admin), [admin_any])

test_admin_can_update_any_movie if allowed_by(item_request("PUT", admin, editors_movie), [admin_any])

test_admin_can_delete_any_movie if allowed_by(item_request("DELETE", admin, editors_movie), [admin_any])

test_admin_cannot_update_without_stored_movie if denied_with(item_request("PUT", admin, null), no_resource)

# roles: exact strings, union of several (C-AUTHZ-RBAC) -------------------------------------------

test_multiple_roles_union if {
	viewer_editor := {"sub": "editor", "roles": ["viewer", "editor"]}
	allowed_by(create_request(viewer_editor), [editor_create])
	allowed_by(list_request(viewer_editor), [editor_read, viewer_read])
}

test_multiple_roles_reasons_sorted if {
	everyone := {"sub": "editor", "roles": ["viewer", "editor", "admin"]}
	allowed_by(item_request("PUT", everyone, editors_movie), [admin_any, editor_owner])
}

test_role_case_sensitive if {
	every subject in [
		{"sub": "admin", "roles": ["Admin"]},
		{"sub": "admin", "roles": ["ADMIN"]},
		{"sub": "viewer", "roles": ["Viewer"]},
		{"sub": "admin", "roles": [" admin"]},
	] {
		denied_with(list_request(subject), role_denied("GET", "/v1/movies"))
	}
}

test_unknown_role_denied if {
	subject := {"sub": "root", "roles": ["root", "superuser"]}
	every request in every_operation(subject) {
		denied_with(request, role_denied(request.method, request.route))
	}
}

test_no_roles_denied if denied_with(list_request({"sub": "viewer", "roles": []}), role_denied("GET", "/v1/movies"))

test_roles_missing_denied if denied_with(list_request({"sub": "viewer"}), bad_roles)

test_roles_object_denied if {
	denied_with(list_request({"sub": "admin", "roles": {"admin": "admin"}}), bad_roles)
}

test_roles_string_denied if denied_with(list_request({"sub": "admin", "roles": "admin"}), bad_roles)

test_non_string_roles_ignored if {
	denied_with(list_request({"sub": "admin", "roles": [["admin"], {"admin": true}, 1]}), role_denied("GET", "/v1/movies"))
}

# anonymous: denied everything (C-AUTHZ-DEFAULT-DENY) ---------------------------------------------

test_anonymous_denied if {
	every request in every_operation(null) {
		denied_with(request, no_subject)
	}
}

test_subject_missing_denied if {
	every request in every_operation(null) {
		denied_with(json.remove(request, ["subject"]), no_subject)
	}
}

test_empty_sub_denied if denied_with(list_request({"sub": "", "roles": ["admin"]}), no_subject)

test_blank_sub_denied if denied_with(list_request({"sub": "  ", "roles": ["admin"]}), no_subject)

test_sub_missing_denied if denied_with(list_request({"roles": ["admin"]}), no_subject)

test_sub_not_string_denied if denied_with(list_request({"sub": 7, "roles": ["admin"]}), no_subject)

test_subject_not_object_denied if denied_with(list_request("admin"), no_subject)

# malformed input: a missing field denies (C-AUTHZ-DEFAULT-DENY) ----------------------------------

test_empty_input_denied if {
	d := decide({})
	d.allow == false
	d.reasons == [no_subject, unknown_method, unknown_route]
}

test_no_input_denied if {
	d := authz.decision
	d.allow == false
	d.reasons == ["AUTHZ_BAD_INPUT: input must be an object", no_subject, unknown_method, unknown_route]
}

test_non_object_input_denied if {
	every request in [[], "GET /v1/movies", 1, null, true] {
		denied_with(request, "AUTHZ_BAD_INPUT: input must be an object")
	}
}

test_unknown_method_denied if {
	every method in ["PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT"] {
		denied_with(object.union(list_request(admin), {"method": method}), unknown_method)
	}
}

test_method_case_sensitive if denied_with(object.union(list_request(admin), {"method": "get"}), unknown_method)

test_method_missing_denied if denied_with(json.remove(list_request(admin), ["method"]), unknown_method)

test_method_not_string_denied if denied_with(object.union(list_request(admin), {"method": ["GET"]}), unknown_method)

test_unknown_route_denied if {
	every route in ["/v1/admin", "/v1/movies/", "/v1/movies/{id}/", "/V1/MOVIES", "/v1/data", "/"] {
		denied_with(object.union(list_request(admin), {"route": route}), unknown_route)
	}
}

test_route_missing_denied if denied_with(json.remove(list_request(admin), ["route"]), unknown_route)

test_unknown_operation_denied if {
	every request in [
		object.union(create_request(admin), {"route": "/v1/movies/{id}", "path": ["v1", "movies", "m1"]}),
		object.union(item_request("PUT", admin, null), {"route": "/v1/movies", "path": ["v1", "movies"]}),
		object.union(item_request("DELETE", admin, null), {"route": "/v1/movies", "path": ["v1", "movies"]}),
	] {
		denied_with(request, sprintf("AUTHZ_UNKNOWN_OPERATION: %s %s is not an API operation", [request.method, request.route]))
	}
}

test_collection_path_mismatch_denied if {
	every path in [["v1", "movies", "m1"], ["v1", "admin"], [], "v1/movies"] {
		denied_with(object.union(list_request(admin), {"path": path}), bad_path)
	}
}

test_item_path_mismatch_denied if {
	every path in [["v1", "movies"], ["v1", "movies", ""], ["v1", "movies", 1], ["v2", "movies", "m1"], ["v1", "movies", "m1", "x"]] {
		denied_with(object.union(item_request("GET", admin, null), {"path": path}), bad_path)
	}
}

test_path_missing_denied if denied_with(json.remove(item_request("GET", admin, null), ["path"]), bad_path)

test_collection_with_resource_denied if {
	denied_with(object.union(create_request(admin), {"resource": editors_movie}), "AUTHZ_BAD_INPUT: the collection route takes no resource")
}

test_resource_wrong_type_denied if {
	denied_with(item_request("PUT", admin, object.union(editors_movie, {"type": "user"})), bad_type)
}

test_resource_type_missing_denied if {
	denied_with(item_request("PUT", editor, json.remove(editors_movie, ["type"])), bad_type)
}

test_resource_id_mismatch_denied if {
	denied_with(item_request("PUT", editor, object.union(editors_movie, {"id": "m2"})), bad_id)
}

test_resource_id_empty_denied if {
	every id in ["", " ", 1, null] {
		denied_with(item_request("DELETE", editor, object.union(editors_movie, {"id": id})), bad_id)
	}
}

test_resource_id_missing_denied if denied_with(item_request("DELETE", editor, json.remove(editors_movie, ["id"])), bad_id)

test_owner_missing_denied if {
	resource := json.remove(editors_movie, ["owner"])
	denied_with(item_request("PUT", editor, resource), bad_owner)
	denied_with(item_request("DELETE", admin, resource), bad_owner)
}

test_owner_empty_denied if {
	every owner in ["", "   ", null, 1, ["editor"]] {
		denied_with(item_request("PUT", editor, object.union(editors_movie, {"owner": owner})), bad_owner)
	}
}

test_resource_not_object_denied if {
	every resource in ["m1", ["movie", "m1", "editor"], 1, false] {
		denied_with(item_request("PUT", admin, resource), bad_type)
	}
}

# decision shape and reasons (C-AUTHZ-DEFAULT-DENY) -----------------------------------------------

# odd_inputs are inputs of every shape, well-formed or not, allowed or not.
odd_inputs := [
	{},
	[],
	null,
	"x",
	0,
	{"method": null, "route": null, "path": null, "subject": null, "resource": null},
	{"subject": {}},
	{"subject": {"sub": "admin", "roles": ["admin"]}},
	list_request(viewer),
	list_request(editor),
	create_request(viewer),
	create_request(editor),
	item_request("PUT", editor, editors_movie),
	item_request("PUT", admin, editors_movie),
	item_request("PUT", editor2, editors_movie),
	item_request("PUT", editor, null),
	item_request("DELETE", admin, "m1"),
	item_request("DELETE", admin, {"type": "movie", "id": "m2"}),
	item_request("GET", {"sub": "admin", "roles": "admin"}, null),
	object.union(create_request(admin), {"resource": editors_movie}),
	object.union(create_request(admin), {"route": "/v1/movies/{id}"}),
	object.union(list_request(admin), {"path": ["v1", "movies", ""]}),
	object.union(list_request(admin), {"method": "PATCH\n", "route": "/v1/movies/{id}\u0000"}),
	import_request(editor, "wikidata"),
	import_request(editor, "imdb"),
	import_request(viewer, "omdb"),
]

# every_code lists every reason code the policy can give; test_odd_inputs_reach_every_code keeps
# odd_inputs covering all of them, so the reason tests below see every code.
every_code := {
	"ALLOW_ADMIN",
	"ALLOW_EDITOR_CREATE",
	"ALLOW_EDITOR_IMPORT",
	"ALLOW_EDITOR_OWNER",
	"ALLOW_EDITOR_READ",
	"ALLOW_VIEWER_READ",
	"AUTHZ_BAD_INPUT",
	"AUTHZ_NOT_OWNER",
	"AUTHZ_NO_RESOURCE",
	"AUTHZ_NO_SUBJECT",
	"AUTHZ_ROLE",
	"AUTHZ_UNKNOWN_METHOD",
	"AUTHZ_UNKNOWN_OPERATION",
	"AUTHZ_UNKNOWN_ROUTE",
	"AUTHZ_UNKNOWN_SOURCE",
}

reached_codes contains code if {
	some request in odd_inputs
	some reason in decide(request).reasons
	code := split(reason, ":")[0]
}

test_odd_inputs_reach_every_code if reached_codes == every_code

test_decision_always_defined if {
	every request in odd_inputs {
		d := decide(request)
		is_boolean(d.allow)
		is_array(d.reasons)
		count(d.reasons) > 0
		object.keys(d) == {"allow", "reasons"}
	}
}

test_decision_defined_without_input if {
	d := authz.decision
	is_boolean(d.allow)
	count(d.reasons) > 0
}

test_decision_defined_when_no_reason_matches if {
	d := authz.decision with input as {} with authz.denials as set()
	d == {"allow": false, "reasons": ["AUTHZ_DEFAULT_DENY: no rule permits the request"]}
}

test_reasons_start_with_stable_code if {
	every request in odd_inputs {
		every reason in decide(request).reasons {
			regex.match(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+: [^ ].*$`, reason)
		}
	}
}

test_reasons_sorted if {
	every request in odd_inputs {
		reasons := decide(request).reasons
		reasons == sort(reasons)
	}
}

test_reasons_do_not_echo_input if {
	request := object.union(list_request(admin), {"method": "PATCH-secret", "route": "/secret"})
	every reason in decide(request).reasons {
		not contains(reason, "secret")
	}
}

test_allow_requires_a_grant if {
	d := authz.decision with input as list_request(viewer) with authz.granted as false
	d.allow == false
}

# grants are safe on their own, not only behind valid_request (defence in depth).

test_grants_need_authenticated_subject if {
	every subject in [{"sub": "", "roles": ["admin", "editor", "viewer"]}, {"roles": ["admin"]}] {
		count(authz.grants) == 0 with input as create_request(subject)
	}
}

test_admin_grant_needs_known_operation if {
	count(authz.grants) == 0 with input as object.union(list_request(admin), {"method": "PATCH"})
}

test_owner_grant_needs_the_path_movie if {
	every resource in [
		object.union(editors_movie, {"id": "m2"}),
		object.union(editors_movie, {"type": "user"}),
		object.union(editors_movie, {"owner": " "}),
	] {
		count(authz.grants) == 0 with input as item_request("PUT", {"sub": resource.owner, "roles": ["editor"]}, resource)
	}
}

# the compile query's revision ----------------------------------------------------------------------

test_revision_from_data if {
	authz.revision == "abc" with data.movies_policy as {"revision": "abc"}
}

test_revision_default if {
	authz.revision == "unversioned" with data.movies_policy as {}
	authz.revision == "unversioned" with data.movies_policy as {"revision": 1}
}
