package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/secure-movie-service/sms/pipeline/admit"
	"github.com/secure-movie-service/sms/pipeline/keyless"
	"github.com/secure-movie-service/sms/pipeline/keys"
	"github.com/secure-movie-service/sms/pipeline/ociutil"
	"github.com/secure-movie-service/sms/pipeline/verify"
)

// Codes the webhook itself answers with (the policy's codes are in policy/admission).
const (
	CodeTimeout     = "WEBHOOK_TIMEOUT"     // the review's deadline passed: denied
	CodeError       = "WEBHOOK_ERROR"       // anything else that kept a decision from being made: denied
	CodeSubresource = "SUBRESOURCE_UNKNOWN" // a subresource other than pods/ephemeralcontainers
)

// Options configure a Webhook.
type Options struct {
	Keys []*keys.Verifier
	// Keyless verifies keyless material against the trusted root (--trusted-root); which
	// identities are trusted is the Evaluator's policy data.
	Keyless   *keyless.Verifier
	Evaluator *admit.Evaluator // policy/admission with the trust data
	// Timeout is each review's own deadline; keep it below the webhook's timeoutSeconds.
	Timeout time.Duration
	Cache   CacheOptions
	// MaxRegistryBytes caps what one verification reads from registries.
	MaxRegistryBytes int64
	Keychain         authn.Keychain    // default: anonymous
	Transport        http.RoundTripper // default: http.DefaultTransport
	Logger           *slog.Logger
	Now              func() time.Time // the admission time the policy sees
	// Verify replaces verify.Check (tests count or slow it); default: verify.Check under Keys
	// through Transport, Keychain and the byte cap.
	Verify VerifyFunc
}

// Webhook decides AdmissionReviews.
type Webhook struct {
	o     Options
	cache *Cache
}

// New checks o and returns a Webhook.
func New(o Options) (*Webhook, error) {
	if o.Evaluator == nil || (len(o.Keys) == 0 && o.Keyless == nil) {
		return nil, errors.New("webhook: a policy evaluator and at least one key or a trusted root are required")
	}
	if o.Timeout <= 0 || o.MaxRegistryBytes <= 0 {
		return nil, errors.New("webhook: timeout and registry byte cap must be positive")
	}
	if o.Keychain == nil {
		o.Keychain = authn.NewMultiKeychain() // resolves to anonymous
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &Webhook{o: o}
	fn := o.Verify
	if fn == nil {
		fn = w.verify
	}
	if o.Cache.FetchTimeout == 0 {
		o.Cache.FetchTimeout = o.Timeout
	}
	c, err := NewCache(logged(fn, o.Logger), o.Cache)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	w.cache = c
	return w, nil
}

// logged logs one JSON line per verification that reaches the registry.
func logged(fn VerifyFunc, log *slog.Logger) VerifyFunc {
	return func(ctx context.Context, ref string) (*verify.Facts, error) {
		start := time.Now()
		f, err := fn(ctx, ref)
		attrs := []slog.Attr{slog.String("image", ref), slog.Bool("verified", err == nil),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000)}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		log.LogAttrs(ctx, slog.LevelInfo, "verification", attrs...)
		return f, err
	}
}

// Cache is the verification cache.
func (w *Webhook) Cache() *Cache { return w.cache }

func (w *Webhook) verify(ctx context.Context, ref string) (*verify.Facts, error) {
	c := ociutil.Client{Transport: ociutil.CapTransport(w.o.Transport, w.o.MaxRegistryBytes), Keychain: w.o.Keychain}
	return verify.Check(ctx, ref, verify.Options{Keys: w.o.Keys, Keyless: w.o.Keyless, Client: c})
}

// Decision is what one review decided, as logged.
type Decision struct {
	Response *Response
	Verdict  *admit.Verdict // nil when no policy decision was made
	Err      error
}

// Review decides one request. It never returns allowed without a policy decision that allows.
func (w *Webhook) Review(ctx context.Context, req *Request) *Decision {
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	d := &Decision{}
	d.Verdict, d.Err = w.decide(ctx, req)
	if d.Err == nil && ctx.Err() != nil {
		d.Err = ctx.Err() // a verdict reached after the deadline is not trusted
	}
	d.Response = respond(req.UID, d.Verdict, d.Err)
	return d
}

// errNotFetched marks images the pre-flight evaluation sees without facts.
var errNotFetched = errors.New("not verified: pinning and registry are checked first")

func (w *Webhook) decide(ctx context.Context, req *Request) (*admit.Verdict, error) {
	if req.SubResource != "" && !(req.Resource.Resource == "pods" && req.SubResource == "ephemeralcontainers") {
		return nil, fmt.Errorf("%s: %s/%s is not a pod-bearing resource", CodeSubresource, req.Resource.Resource, req.SubResource)
	}
	if req.Operation != "CREATE" && req.Operation != "UPDATE" {
		return nil, fmt.Errorf("operation %s is not reviewed", req.Operation)
	}
	docs, err := admit.SplitYAML(req.Object)
	if err != nil {
		return nil, fmt.Errorf("read object: %w", err)
	}
	if len(docs) != 1 {
		return nil, errors.New("read object: not one object")
	}
	images := admit.Images(docs[0])
	// Pre-flight: the policy sees every image without facts. Pinning and the registry
	// allowlist need none, so a tag or a foreign registry is denied before any request.
	pre := map[string]admit.Verification{}
	for _, ref := range images {
		pre[ref] = admit.Verification{Err: errNotFetched}
	}
	v, err := w.evaluate(ctx, req.Object, pre)
	if err != nil {
		return nil, err
	}
	if hasCode(v.Deny, admit.PreflightCodes...) {
		v.Deny = unfetched(v.Deny, pre)
		return v, nil
	}
	verified, err := w.verifyAll(ctx, images)
	if err != nil {
		return nil, err
	}
	return w.evaluate(ctx, req.Object, verified)
}

func (w *Webhook) evaluate(ctx context.Context, object []byte, verified map[string]admit.Verification) (*admit.Verdict, error) {
	v, err := admit.Run(ctx, admit.Options{
		Keys: w.o.Keys, Keyless: w.o.Keyless, Manifest: object, Evaluator: w.o.Evaluator, Verified: verified, Now: w.o.Now,
	})
	if err != nil && !errors.Is(err, admit.ErrDenied) {
		return nil, fmt.Errorf("evaluate policy: %w", err)
	}
	return v, nil
}

// verifyAll verifies the distinct pinned images at the same time, through the cache.
func (w *Webhook) verifyAll(ctx context.Context, images []string) (map[string]admit.Verification, error) {
	out := make(map[string]admit.Verification, len(images))
	results := make([]admit.Verification, len(images))
	g, gctx := errgroup.WithContext(ctx)
	for i, ref := range images {
		if verify.Unpinned(ref) {
			continue
		}
		g.Go(func() error {
			v, err := w.cache.Get(gctx, ref)
			results[i] = v
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, ref := range images {
		if !verify.Unpinned(ref) {
			out[ref] = results[i]
		}
	}
	return out, nil
}

// unfetched drops, from a pre-flight denial, the image findings that only say an image was
// not verified (it was never fetched: the pre-flight codes already deny). Workload findings,
// which name a container, and the pre-flight codes stay.
func unfetched(rs []admit.Reason, pre map[string]admit.Verification) []admit.Reason {
	out := rs[:0]
	for _, r := range rs {
		if _, skipped := pre[r.Image]; skipped && r.Container == "" && !hasCode([]admit.Reason{r}, admit.PreflightCodes...) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func hasCode(rs []admit.Reason, codes ...string) bool {
	for _, r := range rs {
		for _, c := range codes {
			if r.Code == c {
				return true
			}
		}
	}
	return false
}

// Limits on what a response carries back to the API server (and on to kubectl).
const (
	maxMessage  = 4 << 10
	maxWarnings = 32
	maxWarning  = 256
)

// respond builds the AdmissionResponse: allowed only for a verdict that allows and no error;
// the status message names every deny code first, then the details.
func respond(uid string, v *admit.Verdict, err error) *Response {
	r := &Response{UID: uid}
	switch {
	case err != nil:
		code := CodeError
		if errors.Is(err, context.DeadlineExceeded) {
			code = CodeTimeout
		}
		r.Status = &Status{Code: http.StatusInternalServerError, Message: truncate(code+": "+err.Error(), maxMessage)}
		return r
	case v == nil || !v.Allow:
		r.Status = &Status{Code: http.StatusForbidden, Message: denyMessage(v)}
	default:
		r.Allowed = true
	}
	if v != nil {
		for _, x := range v.Warn {
			if len(r.Warnings) == maxWarnings {
				break
			}
			r.Warnings = append(r.Warnings, truncate(x.Code+": "+x.Message, maxWarning))
		}
	}
	return r
}

func denyMessage(v *admit.Verdict) string {
	if v == nil || len(v.Deny) == 0 {
		return "POLICY_UNDEFINED: the policy did not allow"
	}
	var codes, details []string
	seen := map[string]bool{}
	for _, d := range v.Deny {
		if !seen[d.Code] {
			seen[d.Code] = true
			codes = append(codes, d.Code)
		}
		details = append(details, d.Code+": "+d.Message)
	}
	return truncate("denied by admission policy: "+strings.Join(codes, ", ")+" — "+strings.Join(details, "; "), maxMessage)
}

// truncate cuts s to at most n bytes, at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
