// Package garantsvc is the Garant service: every Garant Connect call the
// gateway makes goes through it, whichever route asked. A call is
// reserve → cache → call → refund: the credential's circuit breaker is
// checked before anything is reserved, the quota family (and any rate rule)
// is reserved in one round trip, answers are cached per credential (or per
// tenant where the operation's rules say so) with coalescing and stale
// answers, and the units are refunded when Garant did not do the work. A 423
// marks the family spent and syncs /v2/limits; a 401 is told apart as a
// method missing from the tariff or a rejected credential; a 403 names the
// missing permission. LimitsSync syncs /v2/limits of every credential
// periodically.
//
// The service knows Garant's client types, not the gateway's contract: a
// caller passes a fetch function that calls Garant and encodes the answer
// as its client receives it; those bytes are what the cache stores.
//
// Redis keys (besides the quota engine's and the cache's): the periodic
// sync's lock, {cred:NAME}:garant:limits-sync.
package garantsvc

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/fairshare"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/ops"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// Service is what every Garant operation uses, built by cmd/gateway.
type Service struct {
	Client *garant.Client
	Quota  *quota.Engine // nil: nothing is metered
	Cache  *cache.Store  // nil: nothing is cached
	Ops    *ops.Table    // the contract's operations and their rules; nil: ops.Contract()

	// TTL overrides the contract's cache TTL per operation id; 0 turns caching off.
	TTL map[string]time.Duration
	// ShareAcrossCredentials lets tenants of different Garant credentials
	// share cache entries (by default entries never cross credentials).
	ShareAcrossCredentials bool
	// DocumentBase resolves the relative document links of search results;
	// "" is https://internet.garant.ru.
	DocumentBase string
	// Guard fails a call fast, before any quota is reserved, while the
	// credential's circuit breaker is open (upstreamguard.Guard.Check);
	// nil: no check (the client's transport may still refuse the call).
	// Pacing and retries of 429s are the client transport's.
	Guard interface {
		Check(upstream, credential string) error
	}
	// Fair admits each call that reaches Garant to its tenant's and its
	// credential's fair share (fairshare.Call or FreeCall, the operation's
	// rule), for as long as Do runs it; answers served from the cache, and
	// requests waiting for another's fill, take no share. Nil: no limit.
	Fair *fairshare.Limiter
	// ProbeTTL is how long the answer of a /v2/limits probe (does the
	// credential work at all?) is remembered; 0: 5 minutes.
	ProbeTTL time.Duration
	// OnRejected is told the name of a credential Garant rejected (a 401
	// on /v2/limits: not a method missing from the tariff), once per
	// request or limits sync; cmd/gateway passes
	// metrics.Upstream.CredentialRejectedNow. Nil: nobody is told.
	OnRejected func(credential string)
	// Metrics counts Garant's 403s in the credential metrics and the values
	// of its answers passed on raw; nil: not counted.
	Metrics *metrics.Upstream

	probeMu sync.Mutex
	probes  map[string]probe // credential name → last probe

	opsOnce sync.Once
	ops     *ops.Table
}

type probe struct {
	ok bool
	at time.Time
}

func (s *Service) rejected(credential string) {
	if s.OnRejected != nil {
		s.OnRejected(credential)
	}
}

// Call is one request to a Garant operation: who calls, with which
// credential, and the RateLimit fields of its own reservation once it made
// one. A Call serves one request; it is not safe for concurrent use.
type Call struct {
	svc        *Service
	op         string
	rules      *ops.Operation // the contract's rules of op
	Tenant     *tenant.Tenant
	Credential *tenant.Credential
	// RateLimit and RateLimit-Policy of its own reservation.
	rateLimit, rateLimitPolicy string
	scheduled                  bool // the gateway's own job: no fair share
}

// Scheduled marks c as a call of the gateway's own schedule (a watch round),
// made on behalf of c.Tenant but not by its requests: it takes no fair
// share, so one tenant's traffic never delays a round that serves all.
func (c *Call) Scheduled() *Call {
	c.scheduled = true
	return c
}

// Begin starts a call of op by t with its Garant credential cred.
func (s *Service) Begin(op string, t *tenant.Tenant, cred *tenant.Credential) *Call {
	rules, _ := s.table().Get(op)
	return &Call{svc: s, op: op, rules: rules, Tenant: t, Credential: cred}
}

// CachedOperations are the cache's operation names: the ids of the
// operations whose answers go through the cache (a TTL above 0, the
// config's or else the contract's) and, for those a /compat route serves,
// the entry of Garant's own bytes (OP.garant) it reads.
func (s *Service) CachedOperations() []string {
	served := map[string]bool{}
	for _, o := range s.table().Of(garant.Upstream) {
		if o.Native {
			served[o.ServedBy] = true
		}
	}
	var out []string
	for _, o := range s.table().Of(garant.Upstream) {
		if o.Native || s.Cache == nil || s.ttl(o.ID, o) <= 0 {
			continue
		}
		out = append(out, o.ID)
		if served[o.ID] {
			out = append(out, o.ID+rawSuffix)
		}
	}
	return out
}

// table is Ops, or the contract's table when Ops is nil (loaded once; the
// embedded contract always loads, its own tests say so).
func (s *Service) table() *ops.Table {
	s.opsOnce.Do(func() {
		s.ops = s.Ops
		if s.ops == nil {
			if t, err := ops.Contract(); err == nil {
				s.ops = t
			} else {
				s.ops = &ops.Table{}
			}
		}
	})
	return s.ops
}

// Operation is the call's operation id.
func (c *Call) Operation() string { return c.op }

// RateLimit is the RateLimit and RateLimit-Policy fields of the call's own
// reservation ("" before it made one, or when it was served without one).
func (c *Call) RateLimit() (rateLimit, policy string) { return c.rateLimit, c.rateLimitPolicy }

func (c *Call) reserve(ctx context.Context, op string) (*quota.Reservation, error) {
	if c.svc.Quota == nil {
		return &quota.Reservation{}, nil
	}
	return c.svc.Quota.Reserve(ctx, quota.Request{Tenant: c.Tenant.ID, Credential: c.Credential.Name, Upstream: garant.Upstream, Operation: op})
}

// Do makes one metered upstream call: fail fast while the credential's
// circuit breaker is open (nothing reserved), take the tenant's fair share
// (held until fn returns), reserve (the family, and any
// rate rule, in one round trip), call, refund when Garant did not do the
// work, that is when no success answer arrived (no answer, a timeout
// before the headers, a refusal of the upstream guard, any 4xx or 5xx). A
// failure after a 2xx (an answer cut short, too large or malformed, a
// client gone mid-body) keeps the units: Garant counted the call. Pacing to
// the credential's rate and retries of Garant's 429 happen in the client's
// transport (internal/upstreamguard); a 423 marks the family spent and
// syncs /v2/limits; a 401 is told apart as a method missing from the tariff
// or a rejected credential; a 403 names the missing permission.
func (c *Call) Do(ctx context.Context, fn func(context.Context) error) error {
	release, err := c.hold(ctx, fn)
	release()
	return err
}

// hold is Do keeping the fair share after a successful fn until release is
// called: a streamed answer is read after fn returns, and counts as a call
// until then. release is never nil and may be called more than once.
func (c *Call) hold(ctx context.Context, fn func(context.Context) error) (release func(), err error) {
	if c.svc.Guard != nil {
		if err := c.svc.Guard.Check(garant.Upstream, c.Credential.Name); err != nil {
			return noop, err
		}
	}
	release, err = c.admit(ctx)
	if err != nil {
		return noop, err
	}
	if err := c.call(ctx, fn); err != nil {
		release()
		return noop, err
	}
	return sync.OnceFunc(release), nil
}

func noop() {}

// call is Do after the breaker and the fair share.
func (c *Call) call(ctx context.Context, fn func(context.Context) error) error {
	ctx = tenant.WithCredential(ctx, c.Credential.Name)
	res, err := c.reserve(ctx, c.op)
	if err != nil {
		return err
	}
	err = fn(ctx)
	if err == nil {
		c.rateLimit, c.rateLimitPolicy = res.RateLimit()
		return nil
	}
	if garant.Answered(err) {
		return err
	}
	_ = res.Refund(context.WithoutCancel(ctx))
	switch garant.StatusOf(err) {
	case http.StatusLocked:
		return c.exhausted(ctx, err)
	case http.StatusUnauthorized:
		return c.unauthorized(ctx, err)
	case http.StatusForbidden:
		return c.denied(err)
	}
	return err
}

// admit takes the call's fair share, before any quota is reserved (a
// refusal spends nothing). A call without a tenant, or of the gateway's own
// jobs (Scheduled), takes none.
func (c *Call) admit(ctx context.Context) (release func(), err error) {
	if c.svc.Fair == nil || c.Tenant == nil || c.rules == nil || c.scheduled {
		return func() {}, nil
	}
	return c.svc.Fair.Admit(ctx, fairshare.Request{Class: fairshare.ClassOf(c.rules.Share),
		Tenant: c.Tenant.ID, Upstream: garant.Upstream, Credential: c.Credential.Name})
}

// TTL is how long answers of the call's operation are cached: the config's
// override, else the contract's; 0: not cached.
func (c *Call) TTL() time.Duration { return c.svc.ttl(c.op, c.rules) }

// ttl is how long answers of op, whose contract rules are rules (nil:
// none), are cached: the config's override, else the contract's.
func (s *Service) ttl(op string, rules *ops.Operation) time.Duration {
	if d, ok := s.TTL[op]; ok {
		return d
	}
	if rules == nil {
		return 0
	}
	return rules.CacheTTL
}

// Cached reports whether the call's answers go through the cache (a cache
// is configured and the operation's TTL is above 0).
func (c *Call) Cached() bool { return c.svc.Cache != nil && c.TTL() > 0 }

// exhausted handles a 423: the family the operation counts in (its own one
// when the credential's links_control is split) is spent until next month
// for every replica, the other families are synced from /v2/limits, and the
// answer is the quota engine's own rejection (with its RateLimit fields).
func (c *Call) exhausted(ctx context.Context, upstreamErr error) error {
	fam := ""
	if c.rules != nil {
		fam = c.rules.Family
	}
	q := c.svc.Quota
	if fam != "" && q != nil {
		req := quota.Request{Tenant: c.Tenant.ID, Credential: c.Credential.Name, Upstream: garant.Upstream, Operation: c.op}
		if f, err := q.MarkExhausted(ctx, req); err == nil && f != "" {
			fam = f
		}
	}
	_, _ = c.svc.syncLimits(ctx, c.Tenant.ID, c.Credential)
	if fam != "" && q != nil {
		res, err := c.reserve(ctx, c.op)
		if apperr.KindOf(err) == apperr.QuotaExceeded {
			return err
		}
		if res != nil {
			_ = res.Refund(context.WithoutCancel(ctx))
		}
	}
	if e, ok := apperr.As(upstreamErr); ok && fam != "" && e.Extensions != nil {
		e.Extensions["family"] = fam
	}
	return upstreamErr
}

// unauthorized tells a method missing from the tariff (403: /v2/limits
// still works with the credential) from a rejected credential (502: the
// tenant's own key was fine). The probe is remembered for ProbeTTL.
func (c *Call) unauthorized(ctx context.Context, upstreamErr error) error {
	s := c.svc
	rejected := &apperr.Error{Kind: apperr.UpstreamFailed, Upstream: garant.Upstream,
		Detail: "upstream credential rejected: Garant refused the gateway's credential for this tenant (the tenant's API key is fine)", Err: upstreamErr}
	if c.op == OpLimits {
		s.rejected(c.Credential.Name)
		return rejected
	}
	ttl := s.ProbeTTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	s.probeMu.Lock()
	p, known := s.probes[c.Credential.Name]
	s.probeMu.Unlock()
	if !known || time.Since(p.at) > ttl {
		_, err := s.syncLimits(ctx, c.Tenant.ID, c.Credential)
		if err != nil && garant.StatusOf(err) != http.StatusUnauthorized {
			return rejected // cannot tell; the probe itself failed
		}
		p = probe{ok: err == nil, at: time.Now()}
		s.probeMu.Lock()
		if s.probes == nil {
			s.probes = map[string]probe{}
		}
		s.probes[c.Credential.Name] = p
		s.probeMu.Unlock()
	}
	if p.ok {
		return &apperr.Error{Kind: apperr.Forbidden, Upstream: garant.Upstream,
			Detail: "method not in this credential's tariff: Garant does not offer " + c.op + " to the credential this tenant uses", Err: upstreamErr}
	}
	s.rejected(c.Credential.Name)
	return rejected
}

// denied handles Garant's 403: the credential lacks the permission for the
// request (the document's error table, for every method; on Proxima also a
// document outside the internal-documents base). The answer is a 403
// naming the Garant method and the credential; the call's units were
// refunded (Garant did no work) and the refusal is counted in the
// credential metrics.
func (c *Call) denied(upstreamErr error) error {
	method := c.op
	var he *garant.HTTPError
	if errors.As(upstreamErr, &he) {
		method = he.Method
	}
	c.svc.Metrics.CredentialDeniedNow(garant.Upstream, c.Credential.Name, method)
	detail := "Garant refused " + method + " to credential " + c.Credential.Name +
		": the credential lacks the permission for this request (ask Garant to extend the token's rights)"
	if c.svc.Client.Proxima() {
		detail += ", or the document is outside Garant Proxima's internal-documents base"
	}
	return &apperr.Error{Kind: apperr.Forbidden, Upstream: garant.Upstream,
		Type: "upstream-permission-denied", Title: "Upstream permission denied", Detail: detail,
		Extensions: map[string]any{"permission": method, "credential": c.Credential.Name}, Err: upstreamErr}
}

// Unparsed counts a value of the answer passed on raw because it could not
// be parsed.
func (c *Call) Unparsed(field string) {
	c.svc.Metrics.UnparsedValue(garant.Upstream, c.op, field)
}

// RateRejection reports whether err refuses a call for the per-second rate
// (the quota engine's rate family, or the upstream guard's pacing), not a
// spent family.
func RateRejection(err error) bool {
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.QuotaExceeded {
		return false
	}
	fam, _ := e.Extensions["family"].(string)
	return fam == quota.FamilyRate
}
