package threatmodel

// Version is the model format version this package reads (the document's `version:`).
const Version = 1

// Model is the whole threat model.
type Model struct {
	Version         int             `yaml:"version" json:"version"`
	System          System          `yaml:"system" json:"system"`
	Assets          []Asset         `yaml:"assets" json:"assets"`
	EntryPoints     []EntryPoint    `yaml:"entry_points" json:"entry_points"`
	Actors          []Actor         `yaml:"actors" json:"actors"`
	AttackSurface   []SurfaceItem   `yaml:"attack_surface" json:"attack_surface"`
	Components      []Component     `yaml:"components" json:"components"`
	TrustBoundaries []TrustBoundary `yaml:"trust_boundaries" json:"trust_boundaries"`
	DataFlows       []DataFlow      `yaml:"data_flows" json:"data_flows"`
	Threats         []Threat        `yaml:"threats" json:"threats"`
	Controls        []Control       `yaml:"controls" json:"controls"`
}

// System describes what is modelled and the documents the model was derived from.
type System struct {
	Name        string   `yaml:"name" json:"name"`
	Description string   `yaml:"description" json:"description"`
	Sources     []Source `yaml:"sources" json:"sources"`
}

// Source is a document the model encodes.
type Source struct {
	ID      string `yaml:"id" json:"id"`
	Path    string `yaml:"path" json:"path"`
	Title   string `yaml:"title" json:"title"`
	Updated string `yaml:"updated,omitempty" json:"updated,omitempty"`
}

// Asset is something worth protecting.
type Asset struct {
	ID          string `yaml:"id" json:"id"`
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description"`
}

// EntryPoint is where an actor can reach the system; Component is the component it enters.
type EntryPoint struct {
	ID          string `yaml:"id" json:"id"`
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description"`
	Component   string `yaml:"component" json:"component"`
}

// Actor is a threat actor.
type Actor struct {
	ID          string `yaml:"id" json:"id"`
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description"`
}

// SurfaceItem is one line of the attack surface summary and the entry points it spans.
type SurfaceItem struct {
	ID          string   `yaml:"id" json:"id"`
	Name        string   `yaml:"name" json:"name"`
	EntryPoints []string `yaml:"entry_points" json:"entry_points"`
}

// Component kinds, as in a data-flow diagram.
const (
	KindPerson    = "person"
	KindProcess   = "process"
	KindDataStore = "datastore"
	KindExternal  = "external"
)

// Component is a node of the data-flow diagram. Boundary is the trust boundary it sits in.
type Component struct {
	ID       string `yaml:"id" json:"id"`
	Name     string `yaml:"name" json:"name"`
	Kind     string `yaml:"kind" json:"kind"`
	Boundary string `yaml:"boundary" json:"boundary"`
}

// TrustBoundary is a zone of equal trust; a data flow between components in different zones
// crosses a boundary.
type TrustBoundary struct {
	ID          string `yaml:"id" json:"id"`
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description"`
}

// DataFlow is data moving from one component to another, and the controls that guard it.
type DataFlow struct {
	ID       string   `yaml:"id" json:"id"`
	From     string   `yaml:"from" json:"from"`
	To       string   `yaml:"to" json:"to"`
	Data     string   `yaml:"data" json:"data"`
	Protocol string   `yaml:"protocol" json:"protocol"`
	Controls []string `yaml:"controls" json:"controls"`
}

// Likelihood values (the seed threat model uses low and medium).
const (
	LikelihoodLow    = "low"
	LikelihoodMedium = "medium"
	LikelihoodHigh   = "high"
)

// STRIDE categories.
var STRIDE = []string{"spoofing", "tampering", "repudiation", "information-disclosure", "denial-of-service", "elevation-of-privilege"}

// Threat is one threat and the controls that answer it.
type Threat struct {
	ID          string   `yaml:"id" json:"id"`
	Title       string   `yaml:"title" json:"title"`
	Description string   `yaml:"description" json:"description"`
	Impact      string   `yaml:"impact" json:"impact"`
	Likelihood  string   `yaml:"likelihood" json:"likelihood"`
	Mitigation  string   `yaml:"mitigation" json:"mitigation"`
	STRIDE      []string `yaml:"stride" json:"stride"`
	CWE         []string `yaml:"cwe" json:"cwe"`
	Actors      []string `yaml:"actors" json:"actors"`
	Assets      []string `yaml:"assets" json:"assets"`
	EntryPoints []string `yaml:"entry_points" json:"entry_points"`
	Controls    []string `yaml:"controls" json:"controls"`

	// Line is the line of the threat's entry in the document (1-based; 0 if unknown).
	Line int `yaml:"-" json:"-"`
}

// Control kinds.
const (
	ControlTested = "tested" // holds when every evidence id ran and passed
	// ControlManual is organisational: it holds while a signed attestation by a reviewer
	// holding attestation.role is current (threatmodel/attestations/<id>/, pipeline/signoff).
	ControlManual = "manual"
	// ControlPlatform is a setting of the hosting platform that the pipeline reads (check names
	// the platform check, e.g. the default branch's protection on GitHub); its evidence, if
	// any, are the tests of that check. Where the platform cannot be asked it is not
	// verifiable here: never a pass.
	ControlPlatform = "platform"
)

// Control layers: the sections of the security controls document.
var Layers = []string{"design", "development", "build-deploy", "runtime", "maintenance"}

// Control is a security control, where it is implemented and the evidence that it holds.
type Control struct {
	ID             string   `yaml:"id" json:"id"`
	Title          string   `yaml:"title" json:"title"`
	Description    string   `yaml:"description" json:"description"`
	Layer          string   `yaml:"layer" json:"layer"`
	Kind           string   `yaml:"kind" json:"kind"`
	Source         []string `yaml:"source" json:"source"`
	Implementation []string `yaml:"implementation,omitempty" json:"implementation,omitempty"`
	Evidence       []string `yaml:"evidence,omitempty" json:"evidence,omitempty"`
	Attestation    *Attest  `yaml:"attestation,omitempty" json:"attestation,omitempty"`
	// Check names the platform check of a kind: platform control.
	Check string `yaml:"check,omitempty" json:"check,omitempty"`
	// Pending says why the control cannot hold yet (work in progress elsewhere). It is shown
	// next to the failure; it never makes a control pass.
	Pending string `yaml:"pending,omitempty" json:"pending,omitempty"`

	// Line is the line of the control's entry in the document (1-based; 0 if unknown).
	Line int `yaml:"-" json:"-"`
}

// Attest says who may attest a manual control: Role is the role a reviewer key must hold in
// policy/data/reviewers.json. Who attested, when, until when and on what record lives in the
// signed attestations under threatmodel/attestations/<control id>/, never in the model.
type Attest struct {
	Role string `yaml:"role" json:"role"`
}

// Control returns the control with the given id.
func (m *Model) Control(id string) (*Control, bool) {
	for i := range m.Controls {
		if m.Controls[i].ID == id {
			return &m.Controls[i], true
		}
	}
	return nil, false
}

// ThreatsOf returns the ids of the threats that name control id, in model order.
func (m *Model) ThreatsOf(id string) []string {
	var out []string
	for _, t := range m.Threats {
		for _, c := range t.Controls {
			if c == id {
				out = append(out, t.ID)
				break
			}
		}
	}
	return out
}
