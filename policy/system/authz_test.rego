# METADATA
# title: Tests for system.authz
# description: >-
#   Each test builds the input OPA's basic authorizer gives the policy (method, path, params,
#   headers, and identity when a bearer token was sent) with a test token whose hash stands in
#   for the generated data file.
package system.authz_test

import data.system.authz

token := "test-service-token-0123456789"

# token_data is the generated data file's content for token.
token_data := {"service_token_sha256": crypto.sha256(token)}

decision_path := ["v1", "data", "movies", "authz", "decision"]

request(method, path) := {"method": method, "path": path, "params": {}, "headers": {}}

with_token(req, identity) := object.union(req, {"identity": identity})

service_request(method, path) := with_token(request(method, path), token)

allowed(req) if {
	authz.allow == true with input as req with data.movies_opa as token_data
}

denied(req) if {
	authz.allow == false with input as req with data.movies_opa as token_data
}

test_service_token_can_query_decision if allowed(service_request("POST", decision_path))

test_hash_is_data_movies_opa_service_token_sha256 if {
	# the same request with the hash missing from data is denied: the policy reads exactly that path
	authz.allow == false with input as service_request("POST", decision_path) with data.movies_opa as {}
}

test_malformed_hash_denied if {
	every hash in [upper(crypto.sha256(token)), "", token, 1] {
		authz.allow == false with input as service_request("POST", decision_path)
			with data.movies_opa as {"service_token_sha256": hash}
	}
}

test_wrong_token_denied if {
	every identity in ["wrong-token", "", upper(token), concat("", [token, " "]), crypto.sha256(token)] {
		denied(with_token(request("POST", decision_path), identity))
	}
}

test_no_identity_denied if denied(request("POST", decision_path))

test_identity_not_string_denied if denied(with_token(request("POST", decision_path), ["x"]))

test_service_token_cannot_get_decision if denied(service_request("GET", decision_path))

test_service_token_cannot_query_decision_with_params if {
	every params in [{"explain": ["full"]}, {"metrics": [""]}, {"provenance": [""]}, {"instrument": ["true"]}] {
		denied(object.union(service_request("POST", decision_path), {"params": params}))
	}
}

test_service_token_cannot_query_other_decision_paths if {
	every path in [
		["v1", "data", "movies", "authz"],
		["v1", "data", "movies", "authz", "allow"],
		["v1", "data", "movies", "authz", "decision", ""],
		["v1", "data", "movies", "authz", "decision", "allow"],
		["v1", "data", "movies%2Fauthz", "decision"],
		["v0", "data", "movies", "authz", "decision"],
		["v1", "data", "movies_opa", "service_token_sha256"],
		[""],
	] {
		denied(service_request("POST", path))
	}
}

test_service_token_cannot_put_policy if denied(service_request("PUT", ["v1", "policies", "x"]))

test_service_token_cannot_delete_policy if denied(service_request("DELETE", ["v1", "policies", "policy", "system", "authz.rego"]))

test_service_token_cannot_list_policies if denied(service_request("GET", ["v1", "policies"]))

test_service_token_cannot_put_data if {
	denied(service_request("PUT", ["v1", "data"]))
	denied(service_request("PUT", ["v1", "data", "movies_opa"]))
}

test_service_token_cannot_patch_or_delete_data if {
	denied(service_request("PATCH", ["v1", "data", "movies_opa"]))
	denied(service_request("DELETE", ["v1", "data", "movies_opa"]))
}

test_service_token_cannot_get_data if {
	every path in [["v1", "data"], ["v1", "data", ""], ["v1", "data", "movies_opa"], ["v0", "data"]] {
		denied(service_request("GET", path))
	}
}

test_service_token_cannot_post_system_data if {
	denied(service_request("POST", ["v1", "data", "system", "authz", "allow"]))
	denied(service_request("POST", ["v1", "data"]))
}

test_service_token_cannot_use_query_api if {
	denied(service_request("POST", ["v1", "query"]))
	denied(service_request("GET", ["v1", "query"]))
}

compile_body := {
	"query": "data.movies.authz.allow == true; revision = data.movies.authz.revision",
	"input": {"method": "GET", "route": "/v1/movies/{id}", "subject": {"roles": ["viewer"]}},
	"unknowns": ["input.resource", "input.path", "input.subject.sub"],
}

revision_body := {"query": "revision = data.movies.authz.revision", "unknowns": []}

compile_request(body) := object.union(service_request("POST", ["v1", "compile"]), {"body": body})

test_service_token_can_compile if {
	allowed(compile_request(compile_body))
	allowed(compile_request(revision_body))
}

test_service_token_compiles_only_its_queries if {
	every body in [
		object.union(compile_body, {"query": "x = data.movies_opa.service_token_sha256"}),
		object.union(compile_body, {"query": "data.movies.authz.allow"}),
		object.union(compile_body, {"unknowns": ["input"]}),
		object.union(compile_body, {"unknowns": []}),
		object.union(revision_body, {"unknowns": ["input.resource", "input.path"]}),
		object.union(compile_body, {"options": {"disableInlining": ["data.movies.authz.allow"]}}),
		json.remove(compile_body, ["unknowns"]),
		{},
		"data.movies.authz.allow",
	] {
		denied(compile_request(body))
	}
	denied(service_request("POST", ["v1", "compile"]))
}

test_compile_needs_the_service_token if {
	denied(object.union(request("POST", ["v1", "compile"]), {"body": compile_body}))
	every identity in ["wrong-token", "", upper(token), crypto.sha256(token)] {
		denied(with_token(object.union(request("POST", ["v1", "compile"]), {"body": compile_body}), identity))
	}
}

test_service_token_cannot_compile_with_params if {
	every params in [{"explain": ["full"]}, {"metrics": [""]}, {"instrument": ["true"]}, {"pretty": ["true"]}] {
		denied(object.union(compile_request(compile_body), {"params": params}))
	}
}

test_service_token_cannot_use_other_compile_apis if {
	denied(service_request("GET", ["v1", "compile"]))
	every path in [["v1", "compile", "movies", "authz", "allow"], ["v1", "compile", ""], ["v0", "compile"]] {
		every method in ["GET", "POST"] {
			denied(service_request(method, path))
		}
	}
}

test_service_token_cannot_use_other_apis if {
	every path in [["v1", "config"], ["v1", "status"], ["metrics"], ["v1", "data"]] {
		every method in ["GET", "POST"] {
			denied(service_request(method, path))
		}
	}
}

test_service_token_cannot_post_default_decision if denied(service_request("POST", [""]))

test_health_allowed if allowed(request("GET", ["health"]))

test_health_allowed_with_params if allowed(object.union(request("GET", ["health"]), {"params": {"bundles": [""]}}))

test_health_allowed_with_token if allowed(service_request("GET", ["health"]))

test_health_write_denied if denied(request("POST", ["health"]))

test_health_subpaths_denied if {
	denied(request("GET", ["health", "live"]))
	denied(request("GET", ["health", ""]))
}

test_anonymous_denied_everything_but_health if {
	every path in [decision_path, ["v1", "data"], ["v1", "policies"], ["v1", "query"]] {
		every method in ["GET", "POST", "PUT", "DELETE"] {
			denied(request(method, path))
		}
	}
}

test_empty_input_denied if {
	authz.allow == false with input as {} with data.movies_opa as token_data
}

test_no_input_denied if {
	authz.allow == false with data.movies_opa as token_data
}
