// Package data embeds the trusted policy data: data/supply_chain.json holds the release keys
// admission trusts (by key id, see pipeline/keys.ID), the registry prefixes images may come
// from, and the source repository provenance must name. An empty trusted_keys denies every
// image, which is the safe default until a release key is added by review. trust names, per
// repository prefix, the keys and keyless identities (issuer, anchored subject pattern, GitHub
// claims) trusted to sign: the release workflow's for the project's images. Keyless material
// is verified against a trusted root the operator passes with --trusted-root.
//
// data/reviewers.json holds the keys whose signed attestations of manual controls
// `pipeline controls` accepts, each with its reviewer's name and the roles (a control's
// attestation.role) it may attest: {"reviewers": {"<key id>": {"name", "public_key", "roles"}}}.
// It ships empty: no key that can sign for a role is ever in the repository until a reviewer's
// public key is added by review (threatmodel/README.md).
package data

import _ "embed"

// SupplyChain is the JSON document loaded as data.supply_chain.
//
//go:embed supply_chain.json
var SupplyChain []byte

// Reviewers is the JSON document loaded as data.reviewers (pipeline/signoff.ParseReviewers).
//
//go:embed reviewers.json
var Reviewers []byte
