// Package dev embeds the development overlay of the policy data: merged over policy/data by
// `make release` on loopback, it lowers the reviewer-attestation and stale-database rules to
// warn. It may lower nothing else; policy/admission denies data that tries (see its
// ENFORCEMENT_INVALID rule).
package dev

import _ "embed"

// SupplyChain is the overlay, a JSON document merged over data.supply_chain.
//
//go:embed supply_chain.json
var SupplyChain []byte
