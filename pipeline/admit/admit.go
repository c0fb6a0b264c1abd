// Package admit decides whether a workload or an image may be deployed: it gathers verified
// facts for every image (pipeline/verify), builds the policy input, and evaluates
// policy/admission with OPA used as a library. The verdict is deterministic: the same input
// and facts give the same bytes.
package admit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"

	"github.com/secure-movie-service/sms/pipeline/keyless"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/verify"
	"github.com/secure-movie-service/sms/policy/admission"
	policydata "github.com/secure-movie-service/sms/policy/data"
)

// ErrDenied is returned when the policy denies.
var ErrDenied = errors.New("admission denied")

// Limits on the manifest.
const (
	maxDocuments = 64
	maxImages    = 128
)

// Options configure Run.
type Options struct {
	Keys []*keys.Verifier
	// Keyless verifies keyless material against the trusted root (--trusted-root); nil:
	// keyless material is unverified information.
	Keyless     *keyless.Verifier
	Images      []string // --image: image rules only
	Manifest    []byte   // --manifest: YAML or JSON, one or more documents
	Data        [][]byte // JSON documents merged over policy/data
	SkipContent bool     // do not download layers to check them against their digests
	Progress    io.Writer
	// Evaluator, when set, is the policy already compiled (with NewEvaluator); Data is then
	// not used.
	Evaluator *Evaluator
	// Verified holds what this process itself established with verify.Check, under these
	// Keys and content check, for some image references: those are not verified again. It is
	// for in-process callers (pipeline release verifies, then admits); facts never come from
	// the manifest or the command line.
	Verified map[string]Verification
	// Client reaches registries (a byte-capped transport, a keychain); zero: the defaults.
	Client ociutil.Client
	// Now is the admission time the policy sees (input.now; the vulnerability database's
	// age is measured against it); default time.Now.
	Now func() time.Time
}

// Verification is the outcome of verify.Check for one image.
type Verification struct {
	Facts *verify.Facts
	Err   error
}

// Reason is one deny reason.
type Reason struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Image     string `json:"image,omitempty"`
	Container string `json:"container,omitempty"`
	Object    string `json:"object,omitempty"` // Kind/name of the document it belongs to
}

// Verdict is the outcome of one admission. Warn holds the findings of rules that policy data
// set to warn, DryRun those set to dry-run: both are reported, neither blocks nor allows.
type Verdict struct {
	Allow bool `json:"allow"`
	// AdmittedBy names, per image, the trusted keys ({"key": id}) and identities
	// ({"identity": {"issuer", "subject"}}) whose signatures over its digest admitted it.
	AdmittedBy map[string][]map[string]any `json:"admitted_by"`
	// Notes say what weakened this verification (the development-only tlog switch).
	Notes  []string                 `json:"notes,omitempty"`
	Deny   []Reason                 `json:"deny"`
	Warn   []Reason                 `json:"warn"`
	DryRun []Reason                 `json:"dry_run"`
	Images []string                 `json:"images"`
	Facts  map[string]*verify.Facts `json:"facts"`
	Errors map[string]string        `json:"verification_errors,omitempty"`
}

// Run verifies every image and evaluates the policy.
func Run(ctx context.Context, o Options) (*Verdict, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	inputs, err := inputs(o)
	if err != nil {
		return nil, err
	}
	ev := o.Evaluator
	if ev == nil {
		if ev, err = NewEvaluator(o.Data...); err != nil {
			return nil, err
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	v, err := newVerdict(inputs)
	if err != nil {
		return nil, err
	}
	refused, err := preflight(ctx, ev, inputs, o)
	if err != nil {
		return nil, err
	}
	for _, ref := range v.Images {
		v.verify(ctx, o, ref, refused[ref])
	}
	for _, in := range inputs {
		facts := map[string]any{}
		for _, ref := range in.images {
			if f, ok := v.Facts[ref]; ok {
				facts[ref] = f
			}
		}
		in.doc["facts"] = facts
		in.doc["now"] = o.Now().UTC().Format(time.RFC3339)
		d, err := ev.Eval(ctx, in.doc)
		if err != nil {
			return nil, err
		}
		v.Deny = appendReasons(v.Deny, d.Deny, in.name)
		v.Warn = appendReasons(v.Warn, d.Warn, in.name)
		v.DryRun = appendReasons(v.DryRun, d.DryRun, in.name)
		v.Allow = v.Allow && d.Allow
		for ref, signers := range d.AdmittedBy {
			v.AdmittedBy[ref] = signers
		}
	}
	if o.Keyless != nil && o.Keyless.IgnoresTlog() {
		v.Notes = append(v.Notes, InsecureTlogNote)
	}
	for _, rs := range [][]Reason{v.Deny, v.Warn, v.DryRun} {
		sort.SliceStable(rs, func(i, j int) bool { return less(rs[i], rs[j]) })
	}
	if len(v.Errors) == 0 {
		v.Errors = nil
	}
	if !v.Allow {
		return v, ErrDenied
	}
	return v, nil
}

// newVerdict is the empty verdict over the distinct images of the inputs, sorted.
func newVerdict(inputs []*input) (*Verdict, error) {
	v := &Verdict{Allow: true, AdmittedBy: map[string][]map[string]any{}, Deny: []Reason{}, Warn: []Reason{}, DryRun: []Reason{}, Images: []string{}, Facts: map[string]*verify.Facts{}, Errors: map[string]string{}}
	seen := map[string]bool{}
	for _, in := range inputs {
		for _, ref := range in.images {
			if !seen[ref] {
				seen[ref] = true
				v.Images = append(v.Images, ref)
			}
		}
	}
	if len(v.Images) > maxImages {
		return nil, fmt.Errorf("admit: %d images (limit %d)", len(v.Images), maxImages)
	}
	sort.Strings(v.Images)
	return v, nil
}

// InsecureTlogNote is what every verdict and report says under --insecure-ignore-tlog.
const InsecureTlogNote = "INSECURE: keyless material was verified without a transparency-log (Rekor) proof " +
	"(--insecure-ignore-tlog, development only)"

// PreflightCodes are the findings that need no facts: digest pinning and the registry
// allowlist. An image the policy refuses for one of them is never fetched.
var PreflightCodes = []string{"IMAGE_NOT_DIGEST", "REGISTRY_NOT_ALLOWED"}

// preflight evaluates the policy over every input without facts and returns the images it
// refuses for a PreflightCodes reason (with the reason), so that no request ever goes to a
// registry that is not allowed. Images the caller verified already are not asked about.
func preflight(ctx context.Context, ev *Evaluator, inputs []*input, o Options) (map[string]string, error) {
	refused := map[string]string{}
	for _, in := range inputs {
		if !slices.ContainsFunc(in.images, func(ref string) bool { _, done := o.Verified[ref]; return !done }) {
			continue // the caller verified every image: nothing to decide before a fetch
		}
		doc := maps.Clone(in.doc)
		doc["facts"], doc["now"] = map[string]any{}, o.Now().UTC().Format(time.RFC3339)
		d, err := ev.Eval(ctx, doc)
		if err != nil {
			return nil, err
		}
		for _, r := range d.Deny {
			if _, done := o.Verified[r.Image]; !done && slices.Contains(PreflightCodes, r.Code) {
				refused[r.Image] = r.Code
			}
		}
	}
	return refused, nil
}

// verify records the facts of one image: what the caller verified, or verify.Check now,
// unless the image is not pinned or pre-flight refused it.
func (v *Verdict) verify(ctx context.Context, o Options, ref, refusedFor string) {
	if verify.Unpinned(ref) {
		v.Errors[ref] = "not verified: the reference is not pinned by digest"
		return
	}
	if refusedFor != "" {
		v.Errors[ref] = "not fetched: " + refusedFor
		return
	}
	pre, ok := o.Verified[ref]
	f, err := pre.Facts, pre.Err
	if !ok {
		fmt.Fprintf(o.Progress, "admit: verify %s\n", ref)
		f, err = verify.Check(ctx, ref, verify.Options{Keys: o.Keys, Keyless: o.Keyless, SkipContent: o.SkipContent, Client: o.Client})
	}
	if f != nil {
		v.Facts[ref] = f
	}
	if err != nil {
		v.Errors[ref] = err.Error()
	}
}

func appendReasons(dst, rs []Reason, object string) []Reason {
	for _, r := range rs {
		r.Object = object
		dst = append(dst, r)
	}
	return dst
}

func less(a, b Reason) bool {
	ka := []string{a.Object, a.Code, a.Image, a.Container, a.Message}
	kb := []string{b.Object, b.Code, b.Image, b.Container, b.Message}
	for i := range ka {
		if ka[i] != kb[i] {
			return ka[i] < kb[i]
		}
	}
	return false
}

type input struct {
	name   string
	doc    map[string]any
	images []string
}

func inputs(o Options) ([]*input, error) {
	switch {
	case len(o.Images) > 0 && o.Manifest != nil:
		return nil, errors.New("admit: give images or a manifest, not both")
	case len(o.Images) > 0:
		imgs := make([]any, len(o.Images))
		for i, s := range o.Images {
			imgs[i] = s
		}
		return []*input{{name: "", doc: map[string]any{"images": imgs}, images: o.Images}}, nil
	case o.Manifest != nil:
		docs, err := SplitYAML(o.Manifest)
		if err != nil {
			return nil, err
		}
		var out []*input
		for _, d := range docs {
			in := &input{}
			if d["kind"] == "AdmissionReview" {
				// Only the request travels; anything else in the file (a "facts" key, say)
				// is the caller's claim and is dropped.
				req, _ := d["request"].(map[string]any)
				in.doc = map[string]any{"apiVersion": d["apiVersion"], "kind": d["kind"], "request": req}
				obj, _ := req["object"].(map[string]any)
				in.name, in.images = describe(obj), Images(obj)
			} else {
				in.doc = map[string]any{"object": d}
				in.name, in.images = describe(d), Images(d)
			}
			out = append(out, in)
		}
		return out, nil
	}
	// Nothing to admit still goes through the policy, which denies it.
	return []*input{{doc: map[string]any{}}}, nil
}

func describe(obj map[string]any) string {
	kind, _ := obj["kind"].(string)
	md, _ := obj["metadata"].(map[string]any)
	n, _ := md["name"].(string)
	return kind + "/" + n
}

// MaxManifestSize bounds a manifest or AdmissionReview (the API server itself refuses
// requests over 3 MiB).
const MaxManifestSize = 4 << 20

// SplitYAML parses a YAML or JSON stream of one or more documents into objects. Documents
// are separated exactly as kubectl separates them (a line starting with "---" followed only
// by spaces or a comment), and any document that kubectl would see but a one-document YAML
// parser would skip — a second document after "...", concatenated JSON objects — is an
// error, so that the objects admitted are the objects applied. Duplicate keys are an error.
func SplitYAML(b []byte) ([]map[string]any, error) {
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("manifest: larger than %d bytes", MaxManifestSize)
	}
	parts, err := splitDocuments(b)
	if err != nil {
		return nil, err
	}
	var docs []map[string]any
	for i, part := range parts {
		n, err := countDocuments(part)
		if err != nil {
			return nil, fmt.Errorf("manifest document %d: %w", i+1, err)
		}
		if n == 0 {
			continue // blank or only comments
		}
		if len(docs) >= maxDocuments {
			return nil, fmt.Errorf("manifest: more than %d documents", maxDocuments)
		}
		j, err := yaml.YAMLToJSONStrict(part)
		if err != nil {
			return nil, fmt.Errorf("manifest document %d: %w", i+1, err)
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil || m == nil {
			return nil, fmt.Errorf("manifest document %d is not an object", i+1)
		}
		docs = append(docs, m)
	}
	if len(docs) == 0 {
		return nil, errors.New("manifest: no documents")
	}
	return docs, nil
}

// countDocuments reports whether part holds no YAML document (0) or one (1); more than one
// is an error.
func countDocuments(part []byte) (int, error) {
	dec := yamlv2.NewDecoder(bytes.NewReader(part))
	var v any
	if err := dec.Decode(&v); errors.Is(err, io.EOF) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	if err := dec.Decode(&v); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("a second document follows the first")
		}
		return 0, fmt.Errorf("holds more than one YAML or JSON document (separate documents with a --- line): %w", err)
	}
	return 1, nil
}

// splitDocuments splits at the lines kubectl treats as document separators: "---" at the
// start of a line, then only white space or a comment. Anything else after "---" is refused,
// as kubectl refuses it.
func splitDocuments(b []byte) ([][]byte, error) {
	var parts [][]byte
	var cur []byte
	n := 0
	for line := range strings.SplitAfterSeq(string(b), "\n") {
		n++
		if rest, ok := strings.CutPrefix(line, "---"); ok {
			rest = strings.TrimSpace(rest)
			if rest != "" && !strings.HasPrefix(rest, "#") {
				return nil, fmt.Errorf("manifest line %d: text after the --- document separator", n)
			}
			parts = append(parts, cur)
			cur = nil
			continue
		}
		cur = append(cur, line...)
	}
	return append(parts, cur), nil
}

// Images lists the images of every container, init container and ephemeral container of a
// workload object, in order.
func Images(obj map[string]any) []string {
	spec := podSpec(obj)
	var out []string
	for _, k := range []string{"containers", "initContainers", "ephemeralContainers"} {
		list, _ := spec[k].([]any)
		for _, c := range list {
			cm, _ := c.(map[string]any)
			if img, ok := cm["image"].(string); ok && img != "" {
				out = append(out, img)
			}
		}
	}
	return out
}

func podSpec(obj map[string]any) map[string]any {
	get := func(m map[string]any, path ...string) map[string]any {
		for _, p := range path {
			m, _ = m[p].(map[string]any)
		}
		return m
	}
	switch obj["kind"] {
	case "Pod":
		return get(obj, "spec")
	case "CronJob":
		return get(obj, "spec", "jobTemplate", "spec", "template", "spec")
	default:
		return get(obj, "spec", "template", "spec")
	}
}

// RequireAttestations is a policy data overlay that puts the reviewer-attestation rule back
// to deny, whatever earlier data said: the strict release.
var RequireAttestations = []byte(`{"supply_chain":{"enforcement":{"REVIEW_ATTESTATION_MISSING":"deny"}}}`)

// Evaluator is the prepared admission query.
type Evaluator struct {
	q rego.PreparedEvalQuery
}

// NewEvaluator compiles policy/admission with policy/data and the given JSON overlays.
func NewEvaluator(overlays ...[]byte) (*Evaluator, error) {
	var data map[string]any
	if err := json.Unmarshal(policydata.SupplyChain, &data); err != nil {
		return nil, fmt.Errorf("admit: policy data: %w", err)
	}
	for i, o := range overlays {
		var m map[string]any
		if err := json.Unmarshal(o, &m); err != nil {
			return nil, fmt.Errorf("admit: data overlay %d: %w", i+1, err)
		}
		data = merge(data, m)
	}
	merged, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("admit: policy data: %w", err)
	}
	if err := keyless.CheckPolicy(merged); err != nil {
		return nil, fmt.Errorf("admit: policy data: %w", err)
	}
	q, err := rego.New(
		rego.Query(admission.Query),
		rego.Module(admission.File, admission.Rego),
		rego.Store(inmem.NewFromObject(data)),
		rego.StrictBuiltinErrors(true),
	).PrepareForEval(context.Background())
	if err != nil {
		return nil, fmt.Errorf("admit: compile policy: %w", err)
	}
	return &Evaluator{q: q}, nil
}

// Decision is the policy's answer for one input.
type Decision struct {
	Allow      bool                        `json:"allow"`
	AdmittedBy map[string][]map[string]any `json:"admitted_by"`
	Deny       []Reason                    `json:"deny"`
	Warn       []Reason                    `json:"warn"`
	DryRun     []Reason                    `json:"dry_run"`
}

// Eval evaluates one input document. Any result that is not a well-formed decision denies.
func (e *Evaluator) Eval(ctx context.Context, in map[string]any) (*Decision, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return nil, err
	}
	rs, err := e.q.Eval(ctx, rego.EvalInput(generic))
	if err != nil {
		return nil, fmt.Errorf("admit: evaluate policy: %w", err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return &Decision{Deny: []Reason{{Code: "POLICY_UNDEFINED", Message: "the policy returned no decision"}}}, nil
	}
	raw, err := json.Marshal(rs[0].Expressions[0].Value)
	if err != nil {
		return nil, err
	}
	var d Decision
	if err := json.Unmarshal(raw, &d); err != nil {
		return &Decision{Deny: []Reason{{Code: "POLICY_UNDEFINED", Message: "the policy returned a malformed decision"}}}, nil
	}
	if d.Deny == nil {
		d.Deny = []Reason{}
	}
	return &d, nil
}

// merge deep-merges src into dst (objects merge, everything else is replaced).
func merge(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}
