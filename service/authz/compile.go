package authz

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secure-movie-service/sms/service/authz/residual"
)

// ErrNotCompiled means there is no compiled decision to apply: the compile
// cache is off, or OPA's answer holds something the residual evaluator does
// not understand. The caller asks for a full decision instead.
var ErrNotCompiled = errors.New("authz: decision not compiled")

const (
	compilePath = "/v1/compile"
	// compileQuery asks for the conditions under which policy/api allows,
	// and binds the policy's revision so that a change is seen.
	compileQuery = "data.movies.authz.allow == true; " + residual.RevisionVar + " = data.movies.authz.revision"
)

// compileUnknowns are what a compiled decision leaves open: the stored
// movie, the path (which holds its id) and the subject's sub. The roles, the
// method and the route are known, so one compile serves every subject with
// the same roles: 3 compiles a second instead of one per active subject.
var compileUnknowns = []string{"input.resource", "input.path", "input.subject.sub"}

// Compiled is the residual OPA compiled for a list of roles, a method and a
// route; Apply decides one request with it.
type Compiled struct {
	Residual *residual.Residual
	ID       string // the service's id of this compile, named by the audit line of each request it decided
	Revision string // the policy revision OPA compiled
	Cached   bool
}

// Apply decides in (same roles, method and route as compiled) on its
// resource, path and subject. Only a non-nil resource and subject can be
// decided.
func (c Compiled) Apply(in Input) bool {
	if in.Resource == nil || in.Subject == nil {
		return false
	}
	return c.Residual.Allow(&residual.Fields{Type: in.Resource.Type, ID: in.Resource.ID, Owner: in.Resource.Owner,
		Path: in.Path, Sub: in.Subject.Sub})
}

// compileKey identifies a compile: the roles (up to four held as they are,
// a longer list encoded into the first), the method and the route.
type compileKey struct {
	n             int // the number of roles; -1 for a nil list, which is sent as null
	roles         [4]string
	method, route string
}

func newCompileKey(in Input) compileKey {
	k := compileKey{n: len(in.Subject.Roles), method: in.Method, route: in.Route}
	switch {
	case in.Subject.Roles == nil:
		k.n = -1
	case k.n <= len(k.roles):
		copy(k.roles[:], in.Subject.Roles)
	default:
		k.roles[0] = rolesKey(in.Subject.Roles)
	}
	return k
}

// compiler asks OPA's Compile API and caches what it answers for at most
// the decision cache's TTL, and never past a change of policy revision.
type compiler struct {
	endpoint string
	cache    *cache[compileKey, Compiled]
	revision atomic.Pointer[string] // the latest revision OPA compiled
	idPrefix string
	seq      atomic.Uint64
	mu       sync.Mutex
	flights  map[compileKey]*flight
}

func newCompiler(endpoint string, cfg Config) *compiler {
	if cfg.CacheTTL <= 0 {
		return nil
	}
	var b [6]byte
	rand.Read(b[:])
	c := &compiler{endpoint: endpoint, idPrefix: "c-" + hex.EncodeToString(b[:]) + "-",
		cache:   newCache[compileKey, Compiled](cmp(cfg.CacheSize, 10000), cfg.CacheTTL, time.Now),
		flights: make(map[compileKey]*flight)}
	c.revision.Store(new(string))
	return c
}

// Compile returns the compiled decision for in's roles, method and route, from the cache when it holds one of the current policy revision.
// ErrNotCompiled and ErrUnavailable both mean: ask Decide.
func (c *Client) Compile(ctx context.Context, in Input) (Compiled, error) {
	cc := c.compiler
	if cc == nil || in.Subject == nil || in.Source != "" {
		return Compiled{}, ErrNotCompiled
	}
	key := newCompileKey(in)
	if comp, ok := cc.cache.get(key); ok && comp.Revision == *cc.revision.Load() {
		comp.Cached = true
		return comp, nil
	}
	return cc.once(key, func() (Compiled, error) { return c.compile(ctx, key, in) })
}

// compile asks OPA for key's residual and caches it.
func (c *Client) compile(ctx context.Context, key compileKey, in Input) (Compiled, error) {
	cc := c.compiler
	body, err := json.Marshal(compileRequest{Query: compileQuery, Unknowns: compileUnknowns,
		Input: compileInput{Method: in.Method, Route: in.Route, Subject: compileSubject{Roles: in.Subject.Roles}}})
	if err != nil {
		return Compiled{}, fmt.Errorf("%w: encode: %v", ErrNotCompiled, err)
	}
	raw, err := c.post(ctx, cc.endpoint, body)
	if err != nil {
		return Compiled{}, err
	}
	r, err := residual.Parse(raw)
	if err != nil {
		return Compiled{}, fmt.Errorf("%w: %w", ErrNotCompiled, err)
	}
	comp := Compiled{Residual: r, ID: cc.idPrefix + strconv.FormatUint(cc.seq.Add(1), 10), Revision: r.Revision}
	if r.Never() { // no query, so no revision bound: ask for it
		if comp.Revision, err = c.askRevision(ctx); err != nil {
			return Compiled{}, err
		}
	}
	if current := *cc.revision.Load(); comp.Revision != current {
		rev := comp.Revision
		cc.revision.Store(&rev) // every residual of another revision is stale from now on
		if r.Never() {
			// The revision was asked after the residual: which one it belongs to is unknown.
			return Compiled{}, fmt.Errorf("%w: the policy revision changed while compiling", ErrNotCompiled)
		}
	}
	cc.cache.put(key, comp)
	return comp, nil
}

// flight is one compile in progress; the requests that need the same key
// meanwhile wait for its answer instead of asking OPA again.
type flight struct {
	done chan struct{}
	comp Compiled
	err  error
}

// once runs fn for key unless a run for key is in progress, whose result it
// then shares.
func (cc *compiler) once(key compileKey, fn func() (Compiled, error)) (Compiled, error) {
	cc.mu.Lock()
	if f, ok := cc.flights[key]; ok {
		cc.mu.Unlock()
		<-f.done
		comp := f.comp
		comp.Cached = f.err == nil // compiled once, for the first of these requests
		return comp, f.err
	}
	f := &flight{done: make(chan struct{})}
	cc.flights[key] = f
	cc.mu.Unlock()
	defer func() {
		cc.mu.Lock()
		delete(cc.flights, key)
		cc.mu.Unlock()
		close(f.done)
	}()
	f.comp, f.err = fn()
	return f.comp, f.err
}

// askRevision asks OPA for the policy's revision alone.
func (c *Client) askRevision(ctx context.Context) (string, error) {
	raw, err := c.post(ctx, c.compiler.endpoint, revisionRequest)
	if err != nil {
		return "", err
	}
	r, err := residual.Parse(raw)
	if err != nil || r.Queries() != 1 || r.Revision == "" {
		return "", fmt.Errorf("%w: no revision in %q (%v)", ErrNotCompiled, raw, err)
	}
	return r.Revision, nil
}

var revisionRequest = []byte(`{"query":"` + residual.RevisionVar + ` = data.movies.authz.revision","unknowns":[]}`)

type compileRequest struct {
	Query    string       `json:"query"`
	Input    compileInput `json:"input"`
	Unknowns []string     `json:"unknowns"`
}

type compileInput struct {
	Method  string         `json:"method"`
	Route   string         `json:"route"`
	Subject compileSubject `json:"subject"`
}

// compileSubject is the subject without its sub, which is unknown.
type compileSubject struct {
	Roles []string `json:"roles"`
}

// rolesKey encodes roles so that no two lists share a key.
func rolesKey(roles []string) string {
	var b strings.Builder
	for _, r := range roles {
		b.WriteString(strconv.Itoa(len(r)))
		b.WriteByte(':')
		b.WriteString(r)
	}
	return b.String()
}
