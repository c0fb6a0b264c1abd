// Package authz asks OPA for every authorization decision the service makes.
// It fails closed: only a well-formed answer whose "allow" is the JSON boolean
// true allows; anything else denies. It imports only the standard library.
package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/secure-movie-service/sms/service/auth"
)

// ErrUnavailable means OPA could not answer: it is down, slow, answered
// with a non-200 status, sent a body that is oversized or not JSON, or
// gave no result because the policy is not loaded.
// The request is denied (503); the service keeps running and asks again next time.
var ErrUnavailable = errors.New("authz: decision unavailable")

// Subject is the verified identity of the caller, taken from its token.
type Subject struct {
	Sub   string   `json:"sub"`
	Roles []string `json:"roles"`
}

// Resource is the stored object a request acts on, loaded before the decision.
type Resource struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Owner string `json:"owner"`
}

// Input is the decision input; its JSON is the contract with policy/api.
// Source is set only on the import route: the catalogue the client names.
type Input struct {
	Method   string    `json:"method"`
	Route    string    `json:"route"`
	Path     []string  `json:"path"`
	Subject  *Subject  `json:"subject"`
	Resource *Resource `json:"resource"`
	Source   string    `json:"source,omitempty"`
}

// Decision is OPA's answer. Reasons and ID are for the audit log only.
type Decision struct {
	Allow   bool
	Reasons []string
	ID      string // OPA's decision id, when decision logging is on; the compile's id when Compiled
	Cached  bool
	// Compiled: a residual OPA compiled for the roles, method and route
	// decided it (Reasons empty).
	Compiled bool
}

// Config configures a Client.
type Config struct {
	URL              string        // OPA base URL, e.g. http://127.0.0.1:8181
	Token            auth.Token    // bearer token for OPA's token authentication; may be empty
	Timeout          time.Duration // per decision; default 500ms
	MaxResponseBytes int64         // default 64 KiB
	CacheTTL         time.Duration // decision cache lifetime; 0 disables the cache; at most 10s
	CacheSize        int           // default 10000 entries
	Transport        http.RoundTripper
	// Observe, if set, is told how long each question to OPA took and
	// whether OPA could not answer it (for metrics).
	Observe func(d time.Duration, err error)
}

const decisionPath = "/v1/data/movies/authz/decision"

// Client asks OPA for decisions. It is safe for concurrent use.
type Client struct {
	endpoint string
	token    auth.Token
	timeout  time.Duration
	maxBody  int64
	http     *http.Client
	cache    *cache[string, Decision]
	compiler *compiler
	observe  func(time.Duration, error)
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("authz: OPA URL must be http(s)://host[:port]")
	}
	if cfg.CacheTTL < 0 || cfg.CacheTTL > 10*time.Second {
		return nil, errors.New("authz: decision cache TTL must be between 0 and 10s")
	}
	c := &Client{
		endpoint: strings.TrimSuffix(u.String(), "/") + decisionPath,
		token:    cfg.Token,
		timeout:  cmp(cfg.Timeout, 500*time.Millisecond),
		maxBody:  cmp(cfg.MaxResponseBytes, 64<<10),
		observe:  cfg.Observe,
	}
	tr := cfg.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:               nil, // never send decisions through an environment proxy
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		}
	}
	c.http = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if cfg.CacheTTL > 0 {
		c.cache = newCache[string, Decision](cmp(cfg.CacheSize, 10000), cfg.CacheTTL, time.Now)
	}
	c.compiler = newCompiler(strings.TrimSuffix(u.String(), "/")+compilePath, cfg)
	return c, nil
}

func cmp[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Decide asks OPA whether in is allowed. A nil error with Allow false is
// "OPA said no" (403); ErrUnavailable is "OPA could not answer" (503).
func (c *Client) Decide(ctx context.Context, in Input) (Decision, error) {
	var key string
	if c.cache != nil {
		key = decisionKey(in)
		if d, ok := c.cache.get(key); ok {
			d.Cached = true
			return d, nil
		}
	}
	body, err := json.Marshal(struct {
		Input Input `json:"input"`
	}{in})
	if err != nil {
		return Decision{}, fmt.Errorf("%w: encode input: %v", ErrUnavailable, err)
	}
	d, err := c.ask(ctx, body)
	if err != nil {
		return Decision{}, err
	}
	if c.cache != nil {
		c.cache.put(key, d)
	}
	return d, nil
}

// decisionKey encodes every field of in, each string with its length and
// each list with its count, and nil apart from empty: two inputs share a key
// only when their JSON is the same, at a fraction of marshalling's cost.
func decisionKey(in Input) string {
	b := make([]byte, 0, 160)
	str := func(s string) { b = append(strconv.AppendInt(b, int64(len(s)), 10), ':'); b = append(b, s...) }
	list := func(l []string) {
		if l == nil {
			b = append(b, 'n')
			return
		}
		b = append(strconv.AppendInt(b, int64(len(l)), 10), '[')
		for _, s := range l {
			str(s)
		}
	}
	str(in.Method)
	str(in.Route)
	list(in.Path)
	if in.Subject == nil {
		b = append(b, 'n')
	} else {
		b = append(b, 's')
		str(in.Subject.Sub)
		list(in.Subject.Roles)
	}
	if in.Resource == nil {
		b = append(b, 'n')
	} else {
		b = append(b, 'r')
		str(in.Resource.Type)
		str(in.Resource.ID)
		str(in.Resource.Owner)
	}
	str(in.Source)
	return string(b)
}

// probe is the input Ping asks about; any defined answer will do.
var probe = []byte(`{"input":{"method":"GET","route":"/readyz","path":["readyz"],"subject":null,"resource":null}}`)

// Ping asks OPA one uncached question and reports nil when OPA answered it
// with a decision from a loaded policy. /readyz uses it.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.ask(ctx, probe)
	return err
}

func (c *Client) ask(ctx context.Context, body []byte) (Decision, error) {
	raw, err := c.post(ctx, c.endpoint, body)
	if err != nil {
		return Decision{}, err
	}
	return parse(raw)
}

// post sends body to OPA's endpoint and returns the answer of a 200, at most
// maxBody bytes; anything else is ErrUnavailable.
func (c *Client) post(ctx context.Context, endpoint string, body []byte) ([]byte, error) {
	start := time.Now()
	raw, err := c.postOPA(ctx, endpoint, body)
	if c.observe != nil {
		c.observe(time.Since(start), err)
	}
	return raw, err
}

func (c *Client) postOPA(ctx context.Context, endpoint string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+string(c.token))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read response: %v", ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: OPA answered status %d", ErrUnavailable, resp.StatusCode)
	}
	if int64(len(raw)) > c.maxBody {
		return nil, fmt.Errorf("%w: response larger than %d bytes", ErrUnavailable, c.maxBody)
	}
	return raw, nil
}

// parse reads OPA's response. Only {"result":{"allow":true,…}} allows.
func parse(raw []byte) (Decision, error) {
	var resp struct {
		DecisionID string          `json:"decision_id"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return Decision{}, fmt.Errorf("%w: malformed response: %v", ErrUnavailable, err)
	}
	d := Decision{ID: resp.DecisionID}
	if len(resp.Result) == 0 || string(resp.Result) == "null" {
		// No result means OPA lacks the policy: it could not decide (503),
		// and the answer is never cached.
		return Decision{}, fmt.Errorf("%w: the policy returned no decision (not loaded)", ErrUnavailable)
	}
	var result struct {
		Allow   json.RawMessage `json:"allow"`
		Reasons []string        `json:"reasons"`
	}
	if bytes.TrimSpace(resp.Result)[0] != '{' || json.Unmarshal(resp.Result, &result) != nil {
		d.Reasons = []string{"DENY_MALFORMED: the decision is not an object of the expected shape"}
		return d, nil
	}
	d.Reasons = result.Reasons
	d.Allow = string(result.Allow) == "true"
	if !d.Allow && string(result.Allow) != "false" {
		d.Reasons = append(d.Reasons, "DENY_NOT_BOOLEAN: allow is not the boolean true")
	}
	return d, nil
}
