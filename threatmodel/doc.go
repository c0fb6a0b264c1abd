// Package threatmodel loads threatmodel.yaml, the executable threat model of the Secure Movie
// Service: its assets, entry points, actors, attack surface, components, trust boundaries,
// data flows, threats and the controls that answer them, each control with the evidence (test
// ids and pipeline checks) that proves it holds.
//
// Loading is strict: an unknown field, a duplicate key or id, a malformed id or evidence id,
// or a reference to an id that does not exist is an error. The JSON Schema beside the model
// (threatmodel.schema.json) describes the same document for editors and other tools; a test
// keeps the two in agreement.
//
// The package decides nothing about whether a control holds; pipeline/controls runs the
// evidence. It imports only the standard library and a YAML parser.
package threatmodel
