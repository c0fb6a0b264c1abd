// Package admission embeds the Rego policy of this directory (package admission) so that
// `pipeline admit` evaluates exactly the policy that `opa test policy/admission` tests.
package admission

import _ "embed"

// Query is the decision pipeline admit evaluates.
const Query = "data.admission.decision"

// Rego is the policy module.
//
//go:embed admission.rego
var Rego string

// File is the module's name, for error messages.
const File = "policy/admission/admission.rego"
