package threatmodel

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Id prefixes by collection. Every id matches idPattern (the shape the control-results
// predicate accepts) and is unique across the whole model.
const (
	PrefixAsset     = "A-"
	PrefixEntry     = "EP-"
	PrefixActor     = "ACT-"
	PrefixSurface   = "AS-"
	PrefixComponent = "CMP-"
	PrefixBoundary  = "TB-"
	PrefixFlow      = "DF-"
	PrefixThreat    = "T-"
	PrefixControl   = "C-"
)

var (
	idPattern  = regexp.MustCompile(`^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$`)
	cwePattern = regexp.MustCompile(`^CWE-[1-9][0-9]{0,4}$`)
	checkName  = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// validator collects problems.
type validator struct {
	probs []Problem
	ids   map[string]string // id -> collection
}

func (v *validator) add(id string, line int, format string, args ...any) {
	v.probs = append(v.probs, Problem{ID: id, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// id checks an id's shape and prefix and that it is new.
func (v *validator) id(id, prefix, what string, line int) {
	switch {
	case id == "":
		v.add("", line, "%s without an id", what)
		return
	case !idPattern.MatchString(id) || !strings.HasPrefix(id, prefix):
		v.add(id, line, "%s id must look like %sNAME (upper case, digits, dashes)", what, prefix)
	}
	if prev, dup := v.ids[id]; dup {
		v.add(id, line, "duplicate id (already used by a %s)", prev)
		return
	}
	v.ids[id] = what
}

// ref checks that id names an entry of the collection with prefix.
func (v *validator) ref(owner string, line int, field, id, prefix string) {
	if what, ok := v.ids[id]; !ok || !strings.HasPrefix(id, prefix) {
		if ok {
			v.add(owner, line, "%s names %s (%s), of the wrong kind", field, id, what)
			return
		}
		v.add(owner, line, "%s names %s, which does not exist", field, id)
	}
}

func (v *validator) refs(owner string, line int, field string, ids []string, prefix string) {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			v.add(owner, line, "%s lists %s twice", field, id)
		}
		seen[id] = true
		v.ref(owner, line, field, id, prefix)
	}
}

func (v *validator) required(owner string, line int, fields ...string) {
	for i := 0; i+1 < len(fields); i += 2 {
		if strings.TrimSpace(fields[i+1]) == "" {
			v.add(owner, line, "%s is required", fields[i])
		}
	}
}

func validate(m *Model) []Problem {
	v := &validator{ids: map[string]string{}}
	if m.Version != Version {
		v.add("", 0, "version is %d, this loader reads version %d", m.Version, Version)
	}
	v.required("system", 0, "system.name", m.System.Name, "system.description", m.System.Description)
	for _, s := range m.System.Sources {
		v.required("system", 0, "source id", s.ID, "source path", s.Path, "source title", s.Title)
	}

	// Declarations first, so references can point forwards.
	v.declarations(m)
	v.structure(m)
	for _, t := range m.Threats {
		validateThreat(v, t)
	}
	for _, c := range m.Controls {
		validateControl(v, c)
	}
	return v.probs
}

// declarations checks every element's id (unique, with its kind's prefix) and required fields.
func (v *validator) declarations(m *Model) {
	for _, a := range m.Assets {
		v.id(a.ID, PrefixAsset, "asset", 0)
		v.required(a.ID, 0, "name", a.Name)
	}
	for _, a := range m.Actors {
		v.id(a.ID, PrefixActor, "actor", 0)
		v.required(a.ID, 0, "name", a.Name)
	}
	for _, b := range m.TrustBoundaries {
		v.id(b.ID, PrefixBoundary, "trust boundary", 0)
		v.required(b.ID, 0, "name", b.Name)
	}
	for _, c := range m.Components {
		v.id(c.ID, PrefixComponent, "component", 0)
		v.required(c.ID, 0, "name", c.Name)
	}
	for _, e := range m.EntryPoints {
		v.id(e.ID, PrefixEntry, "entry point", 0)
		v.required(e.ID, 0, "name", e.Name)
	}
	for _, s := range m.AttackSurface {
		v.id(s.ID, PrefixSurface, "attack surface item", 0)
		v.required(s.ID, 0, "name", s.Name)
	}
	for _, f := range m.DataFlows {
		v.id(f.ID, PrefixFlow, "data flow", 0)
		v.required(f.ID, 0, "data", f.Data, "protocol", f.Protocol)
	}
	for _, t := range m.Threats {
		v.id(t.ID, PrefixThreat, "threat", t.Line)
		v.required(t.ID, t.Line, "title", t.Title, "description", t.Description, "impact", t.Impact, "mitigation", t.Mitigation)
	}
	for _, c := range m.Controls {
		v.id(c.ID, PrefixControl, "control", c.Line)
		v.required(c.ID, c.Line, "title", c.Title, "description", c.Description)
	}
}

// structure checks the data-flow diagram: components' kinds and boundaries, entry points,
// attack surface and flows, and what they refer to.
func (v *validator) structure(m *Model) {
	for _, c := range m.Components {
		if !slices.Contains([]string{KindPerson, KindProcess, KindDataStore, KindExternal}, c.Kind) {
			v.add(c.ID, 0, "kind %q is not person, process, datastore or external", c.Kind)
		}
		v.ref(c.ID, 0, "boundary", c.Boundary, PrefixBoundary)
	}
	for _, e := range m.EntryPoints {
		v.ref(e.ID, 0, "component", e.Component, PrefixComponent)
	}
	for _, s := range m.AttackSurface {
		if len(s.EntryPoints) == 0 {
			v.add(s.ID, 0, "names no entry point")
		}
		v.refs(s.ID, 0, "entry_points", s.EntryPoints, PrefixEntry)
	}
	for _, f := range m.DataFlows {
		v.ref(f.ID, 0, "from", f.From, PrefixComponent)
		v.ref(f.ID, 0, "to", f.To, PrefixComponent)
		v.refs(f.ID, 0, "controls", f.Controls, PrefixControl)
	}
}

// validateThreat checks a threat's ratings, STRIDE categories and CWE ids, and its references.
func validateThreat(v *validator, t Threat) {
	if !slices.Contains([]string{LikelihoodLow, LikelihoodMedium, LikelihoodHigh}, t.Likelihood) {
		v.add(t.ID, t.Line, "likelihood %q is not low, medium or high", t.Likelihood)
	}
	if len(t.STRIDE) == 0 {
		v.add(t.ID, t.Line, "no STRIDE category")
	}
	for _, s := range t.STRIDE {
		if !slices.Contains(STRIDE, s) {
			v.add(t.ID, t.Line, "STRIDE category %q is not one of %s", s, strings.Join(STRIDE, ", "))
		}
	}
	if len(t.CWE) == 0 {
		v.add(t.ID, t.Line, "no CWE id")
	}
	for _, c := range t.CWE {
		if !cwePattern.MatchString(c) {
			v.add(t.ID, t.Line, "CWE id %q is not like CWE-79", c)
		}
	}
	v.refs(t.ID, t.Line, "actors", t.Actors, PrefixActor)
	v.refs(t.ID, t.Line, "assets", t.Assets, PrefixAsset)
	v.refs(t.ID, t.Line, "entry_points", t.EntryPoints, PrefixEntry)
	v.refs(t.ID, t.Line, "controls", t.Controls, PrefixControl)
}

func validateControl(v *validator, c Control) {
	if !slices.Contains(Layers, c.Layer) {
		v.add(c.ID, c.Line, "layer %q is not one of %s", c.Layer, strings.Join(Layers, ", "))
	}
	if len(c.Source) == 0 {
		v.add(c.ID, c.Line, "source is required (where the seed documents ask for this control)")
	}
	for _, p := range c.Implementation {
		if p == "" || path.IsAbs(p) || path.Clean(p) != strings.TrimSuffix(p, "/") || strings.HasPrefix(path.Clean(p), "..") {
			v.add(c.ID, c.Line, "implementation path %q is not a clean path inside the repository", p)
		}
	}
	seen := map[string]bool{}
	for _, e := range c.Evidence {
		if seen[e] {
			v.add(c.ID, c.Line, "evidence %s listed twice", e)
		}
		seen[e] = true
		if _, err := ParseEvidence(e); err != nil {
			v.add(c.ID, c.Line, "%v", err)
		}
	}
	switch c.Kind {
	case ControlTested:
		if c.Attestation != nil {
			v.add(c.ID, c.Line, "a tested control has no attestation; use kind: manual")
		}
		if c.Check != "" {
			v.add(c.ID, c.Line, "a tested control names no platform check; use kind: platform")
		}
	case ControlManual:
		if len(c.Evidence) > 0 {
			v.add(c.ID, c.Line, "a manual control lists no evidence; use kind: tested")
		}
		if c.Check != "" {
			v.add(c.ID, c.Line, "a manual control names no platform check; use kind: platform")
		}
		if c.Attestation == nil {
			v.add(c.ID, c.Line, "a manual control needs attestation.role (the role that may attest it)")
			return
		}
		v.required(c.ID, c.Line, "attestation.role", c.Attestation.Role)
	case ControlPlatform:
		if c.Attestation != nil {
			v.add(c.ID, c.Line, "a platform control is read from the platform, not attested; use kind: manual")
		}
		if !checkName.MatchString(c.Check) {
			v.add(c.ID, c.Line, "a platform control needs check: <name> (lowercase, dashes)")
		}
	default:
		v.add(c.ID, c.Line, "kind %q is not tested, manual or platform", c.Kind)
	}
}
