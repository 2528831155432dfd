// Package ops is the one table of the gateway's operations: every operation
// of api/openapi.yaml with the rules the gateway applies to it, read once at
// start-up from the operation's `x-gateway` extension. The guard, the quota
// engine, the cache and the handlers consult this table; no other package
// spells an operation id or an upstream name in a table of its own.
//
// The extension of an operation:
//
//	x-gateway:
//	  upstream: garant            # one of the contract's x-gateway-upstreams, or "gateway"
//	  quota: topic_info           # the quota family one call spends (one unit); absent: unmetered
//	  quota_split: links_control_find_hyperlinks # its own family when the upstream counts it apart
//	  cache: {ttl: 2h, scope: tenant}            # cached answers; scope credential (default) or tenant;
//	                                             # without ttl, cached only when the config gives one
//	  max_body: 20MiB             # the largest request body (default 1MiB)
//	  share: long_poll            # fair-sharing class: call (a metered upstream call), free_call
//	                              # (unmetered), long_poll or none; default call or free_call
//	  native: true                # the upstream's own shapes (/compat/...): routed by hand, not by the
//	                              # generated server; its handler authenticates (the key is where the
//	                              # upstream takes it) and validates, answering in the upstream's shapes
//	  served_by: garantSearch     # a native route rewritten to another operation's route before routing
//	                              # (Garant's own, handlers/garant_compat.go): that operation's rules
//	                              # apply, this one is never routed or metered under its own id
//	  task: physical              # the kind of task it submits to its upstream's task engine
//	                              # (internal/fssptasks): a task of that kind is metered and ledgered
//	                              # under this operation, whichever route made it; one per kind
//
// A request body of any type but JSON is streamed (never buffered by the
// guard). The contract's top-level `x-gateway-upstreams` lists the upstreams.
package ops

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	apispec "github.com/legalgate/legalgate/api"
)

// Gateway is the upstream name of the gateway's own operations.
const Gateway = "gateway"

// Cache scopes: whose answers a cached entry may serve.
const (
	ScopeCredential = "credential" // every tenant of the upstream credential
	ScopeTenant     = "tenant"     // the tenant that asked: the request carries its own text
)

// DefaultMaxBody is the body limit of an operation that names none.
const DefaultMaxBody = 1 << 20

// Operation is one contract operation and its gateway rules.
type Operation struct {
	ID            string        // operation id, lower camel case as in the contract
	Method, Path  string        // as in the contract
	Upstream      string        // an upstream name, or Gateway
	Authenticated bool          // needs a tenant key
	Family        string        // quota family of one call; "" when unmetered
	SplitFamily   string        // the family it counts in when its upstream counts it apart
	CacheTTL      time.Duration // 0: not cached unless the config gives a TTL
	CacheScope    string        // ScopeCredential or ScopeTenant (for a TTL from the contract or the config)
	MaxBody       int64
	StreamBody    bool   // the body is not JSON: streamed, validated by its handler
	Share         string // fair-sharing class: one of the Share* constants
	// Native operations answer in their upstream's own shapes (/compat/...):
	// the generated server leaves them out (exclude-tags), the guard only
	// names them and limits their body, their handler authenticates and
	// validates.
	Native bool
	// ServedBy, on a native operation, is the operation whose route serves
	// it: the request is rewritten to that route before routing, so its
	// rules (quota, cache, limits) are ServedBy's and this operation is
	// never routed, guarded or counted under its own id.
	ServedBy string
	// Task is the kind of task the operation submits to its upstream's
	// task engine (fssptasks.KindPhysical, ...); "" for none. One
	// operation per upstream and kind: the one a task of that kind is
	// metered under.
	Task string
}

// Fair-sharing classes (internal/fairshare).
const (
	ShareNone     = "none"      // no cap: the gateway's own work, or a call queued for later
	ShareLongPoll = "long_poll" // a long poll
	ShareCall     = "call"      // an upstream call a quota family meters
	ShareFreeCall = "free_call" // an upstream call no quota family meters
)

// Metered reports whether a call spends a quota family.
func (o *Operation) Metered() bool { return o.Family != "" }

// Table is every operation of the contract.
type Table struct {
	upstreams []string
	list      []*Operation
	byID      map[string]*Operation
}

// Load reads the table from spec. It fails on an operation without rules,
// with rules it does not know, or naming an upstream the contract does not list.
func Load(spec *openapi3.T) (*Table, error) {
	t := &Table{byID: map[string]*Operation{}}
	ups, err := upstreamList(spec.Extensions["x-gateway-upstreams"])
	if err != nil {
		return nil, err
	}
	t.upstreams = ups
	var errs []string
	for _, path := range spec.Paths.InMatchingOrder() {
		item := spec.Paths.Value(path)
		for method, op := range item.Operations() {
			o, err := parse(method, path, op, ups)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			t.list = append(t.list, o)
			t.byID[o.ID] = o
		}
	}
	for _, o := range t.list {
		if s, ok := t.byID[o.ServedBy]; o.ServedBy != "" && (!ok || s.ServedBy != "" || s.Upstream != o.Upstream) {
			errs = append(errs, fmt.Sprintf("%s %s (%s): x-gateway: served_by: %s is not an operation of upstream %s served by itself", o.Method, o.Path, o.ID, o.ServedBy, o.Upstream))
		}
	}
	tasks := map[[2]string]string{}
	for _, o := range t.list {
		k := [2]string{o.Upstream, o.Task}
		if prev, ok := tasks[k]; ok && o.Task != "" {
			errs = append(errs, fmt.Sprintf("%s %s (%s): x-gateway: task: %s is already %s's", o.Method, o.Path, o.ID, o.Task, prev))
		}
		tasks[k] = o.ID
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return nil, fmt.Errorf("ops: %s", strings.Join(errs, "; "))
	}
	slices.SortFunc(t.list, func(a, b *Operation) int { return strings.Compare(a.ID, b.ID) })
	return t, nil
}

func upstreamList(v any) ([]string, error) {
	raw, ok := v.([]any)
	if !ok || len(raw) == 0 {
		return nil, fmt.Errorf("ops: the contract lists no x-gateway-upstreams")
	}
	var out []string
	for _, u := range raw {
		s, ok := u.(string)
		if !ok || s == "" || s == Gateway {
			return nil, fmt.Errorf("ops: x-gateway-upstreams: %v is not an upstream name", u)
		}
		out = append(out, s)
	}
	return out, nil
}

func parse(method, path string, op *openapi3.Operation, upstreams []string) (*Operation, error) {
	id := ID(op.OperationID)
	where := fmt.Sprintf("%s %s (%s)", method, path, id)
	raw, ok := op.Extensions["x-gateway"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s has no x-gateway rules", where)
	}
	o := &Operation{
		ID: id, Method: method, Path: path,
		Authenticated: op.Security == nil || len(*op.Security) > 0,
		MaxBody:       DefaultMaxBody,
	}
	for k, v := range raw {
		var err error
		switch k {
		case "upstream":
			o.Upstream, _ = v.(string)
			if o.Upstream != Gateway && !slices.Contains(upstreams, o.Upstream) {
				err = fmt.Errorf("upstream %v is not in x-gateway-upstreams", v)
			}
		case "quota":
			o.Family, err = str(v)
		case "quota_split":
			o.SplitFamily, err = str(v)
		case "cache":
			err = parseCache(o, v)
		case "max_body":
			o.MaxBody, err = ParseSize(fmt.Sprint(v))
		case "native":
			o.Native, ok = v.(bool)
			if !ok {
				err = fmt.Errorf("native: %v is not true or false", v)
			}
		case "served_by":
			o.ServedBy, err = str(v)
		case "task":
			if o.Task, err = str(v); err != nil {
				err = fmt.Errorf("task: %w", err)
			}
		case "share":
			o.Share, _ = v.(string)
			if !slices.Contains([]string{ShareNone, ShareLongPoll, ShareCall, ShareFreeCall}, o.Share) {
				err = fmt.Errorf("share: %v is not none, long_poll, call or free_call", v)
			}
		default:
			err = fmt.Errorf("unknown rule %q", k)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: x-gateway: %w", where, err)
		}
	}
	if o.Upstream == "" {
		return nil, fmt.Errorf("%s: x-gateway names no upstream", where)
	}
	if o.CacheScope == "" {
		o.CacheScope = ScopeCredential
	}
	if o.Upstream == Gateway && (o.Family != "" || o.CacheTTL > 0) {
		return nil, fmt.Errorf("%s: the gateway's own operations have no quota or cache", where)
	}
	switch {
	case o.Share != "":
	case o.Upstream == Gateway:
		o.Share = ShareNone
	case o.Family != "":
		o.Share = ShareCall
	default:
		o.Share = ShareFreeCall
	}
	if o.ServedBy != "" && (!o.Native || o.Family != "" || o.CacheTTL > 0) {
		return nil, fmt.Errorf("%s: x-gateway: served_by needs native and takes its quota and cache from %s", where, o.ServedBy)
	}
	if o.SplitFamily != "" && o.Family == "" {
		return nil, fmt.Errorf("%s: quota_split without quota", where)
	}
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		for ct := range op.RequestBody.Value.Content {
			if ct != "application/json" {
				o.StreamBody = true
			}
		}
	}
	return o, nil
}

func parseCache(o *Operation, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("cache: want {ttl, scope}")
	}
	o.CacheScope = ScopeCredential
	for k, v := range m {
		switch k {
		case "ttl":
			d, err := ParseDuration(fmt.Sprint(v))
			if err != nil || d <= 0 {
				return fmt.Errorf("cache.ttl: %v is not a positive duration", v)
			}
			o.CacheTTL = d
		case "scope":
			if v != ScopeCredential && v != ScopeTenant {
				return fmt.Errorf("cache.scope: %v is not %s or %s", v, ScopeCredential, ScopeTenant)
			}
			o.CacheScope = v.(string)
		default:
			return fmt.Errorf("cache: unknown rule %q", k)
		}
	}
	return nil
}

func str(v any) (string, error) {
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("%v is not a name", v)
	}
	return s, nil
}

// ParseDuration is time.ParseDuration that also takes days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// ParseSize reads a byte count: a number, optionally with KiB or MiB.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	if n, ok := strings.CutSuffix(s, "MiB"); ok {
		s, mult = n, 1<<20
	} else if n, ok := strings.CutSuffix(s, "KiB"); ok {
		s, mult = n, 1<<10
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// Upstreams lists the contract's upstreams, in its order.
func (t *Table) Upstreams() []string { return slices.Clone(t.upstreams) }

// Get returns the operation with id.
func (t *Table) Get(id string) (*Operation, bool) {
	o, ok := t.byID[id]
	return o, ok
}

// All returns every operation, by id.
func (t *Table) All() []*Operation { return t.list }

// Task returns the operation of upstream that submits tasks of kind.
func (t *Table) Task(upstream, kind string) (*Operation, bool) {
	for _, o := range t.list {
		if o.Upstream == upstream && o.Task == kind && kind != "" {
			return o, true
		}
	}
	return nil, false
}

// Of returns the operations of upstream, by id.
func (t *Table) Of(upstream string) []*Operation {
	var out []*Operation
	for _, o := range t.list {
		if o.Upstream == upstream {
			out = append(out, o)
		}
	}
	return out
}

// ID is an operation id as the table names it: the generated code's
// embedded spec capitalises operation ids, the contract does not.
func ID(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// Contract is the table of the gateway's own contract (api/openapi.yaml),
// loaded once per process and shared: a Table and its Operations are read,
// never written.
func Contract() (*Table, error) { return contract() }

var contract = sync.OnceValues(func() (*Table, error) {
	spec, err := openapi3.NewLoader().LoadFromData(apispec.YAML)
	if err != nil {
		return nil, fmt.Errorf("ops: load contract: %w", err)
	}
	return Load(spec)
})
