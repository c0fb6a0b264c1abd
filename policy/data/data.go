// Package data embeds the trusted policy data: data/supply_chain.json holds the release keys
// admission trusts (by key id, see pipeline/keys.ID), the registry prefixes images may come
// from, and the source repository provenance must name. An empty trusted_keys denies every
// image, which is the safe default until a release key is added by review.
package data

import _ "embed"

// SupplyChain is the JSON document loaded as data.supply_chain.
//
//go:embed supply_chain.json
var SupplyChain []byte
