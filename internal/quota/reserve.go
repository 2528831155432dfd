package quota

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/telemetry"
)

// Reservation is the units one upstream call holds. It is committed unless
// refunded. The zero Reservation (unmetered, or Redis down and the family
// fails open) does nothing.
type Reservation struct {
	e      *Engine
	id     string
	req    Request
	checks []check
	family string // the family the operation counted in
	units  int64
	spot   ledgerSpot
	// RateLimit and RateLimit-Policy field values (see RateLimit).
	rateLimit, rateLimitPolicy string

	mu       sync.Mutex
	refunded bool
}

// outcome is one check's state after the script ran.
type outcome struct {
	c     *check
	used  int64
	reset time.Time
}

// Reserve checks every rule that applies to r and holds the units when all
// of them have room. A rejection is an *apperr.Error of kind QuotaExceeded
// whose cause is a *Rejection; an unreachable Redis is kind Unavailable
// unless the family fails open. A rejection by per-second rules alone waits
// for the next second (up to Config.RateWait, within ctx) and tries again.
// A traced request shows it as a "quota.reserve" span (tracing.go).
func (e *Engine) Reserve(ctx context.Context, r Request) (*Reservation, error) {
	ctx, span := telemetry.Start(ctx, "quota.reserve")
	if !span.IsRecording() {
		return e.reserve(ctx, r)
	}
	res, err := e.reserve(ctx, r)
	endReserve(span, r, res, err)
	return res, err
}

func (e *Engine) reserve(ctx context.Context, r Request) (*Reservation, error) {
	now := e.now()
	p, err := e.plan(r, now)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return &Reservation{}, nil
	}
	var waited time.Duration
	for {
		if rej := e.local.lookup(p, now); rej != nil {
			e.rejected(p, rej, true, now)
			return nil, e.rejectErr(rej, now)
		}
		res, rej, err := e.try(ctx, p, now)
		if err != nil {
			return e.unavailable(p, err)
		}
		if rej == nil {
			return res, nil
		}
		wait := rej.ResetsAt.Sub(now) + time.Duration(rand.Int64N(int64(20*time.Millisecond)))
		if !rej.rateOnly || waited+wait > e.rateWait || ctx.Err() != nil {
			// The script added the rejection to the ledger unless it was
			// by per-second rules alone (it may have been waited on).
			e.rejected(p, rej, rej.rateOnly, now)
			return nil, e.rejectErr(rej, now)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			e.rejected(p, rej, true, now)
			return nil, e.rejectErr(rej, e.now())
		case <-t.C:
		}
		waited += wait
		now = e.now()
		if p, err = e.plan(r, now); err != nil {
			return nil, err
		}
	}
}

// try runs the reserve script once.
func (e *Engine) try(ctx context.Context, p *plan, now time.Time) (*Reservation, *Rejection, error) {
	id := strconv.FormatUint(rand.Uint64(), 36)
	n, m, sw := len(p.checks), len(p.marks), 0
	if p.split != "" {
		sw = 1
	}
	spot := e.ledgerSpot(p.req.Credential, now)
	ledgerKeys, ledgerTTL := spot.keys(), e.ledgerTTL(spot, now)
	keys := make([]string, 0, n+m+sw+1+len(ledgerKeys))
	args := make([]any, 0, 5+5*n+m+4+len(ledgerKeys))
	args = append(args, now.UnixMilli(), id, n, m, sw)
	for i := range p.checks {
		c := &p.checks[i]
		keys = append(keys, c.key)
		if c.sliding() {
			args = append(args, "z", c.rule.Limit, c.units, c.span.Milliseconds(), c.in.arg())
			continue
		}
		kind := "c"
		if c.rule.Period == PeriodSecond {
			kind = "s"
		}
		ttl := c.reset.Sub(now) + min(c.width, time.Minute)
		args = append(args, kind, c.rule.Limit, c.units, ttl.Milliseconds(), c.in.arg())
	}
	for _, mk := range p.marks {
		keys = append(keys, mk.key)
		args = append(args, mk.in.arg())
	}
	if p.split != "" {
		keys = append(keys, p.split)
	}
	keys = append(keys, attemptKey(p.req.Credential, id, ""), ledgerKeys[0], ledgerKeys[1])
	field := p.ledgerField(false)
	splitField := field
	if p.own != "" {
		splitField = p.ledgerField(true)
	}
	args = append(args, len(ledgerKeys), ledgerTTL[0], ledgerTTL[1], field, splitField, p.units)
	gen := e.local.generation()
	rctx, cancel := e.redisCtx(ctx)
	defer cancel()
	vals, err := e.s.reserve.Run(rctx, e.rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, nil, fmt.Errorf("quota: reserve %s/%s: %w", p.req.Upstream, p.req.Operation, err)
	}
	if len(vals) == 3 && vals[0] == 2 {
		fam := p.familyIn(vals[2] == 1)
		rej := e.markRejection(p.req.Credential, p.req.Upstream, fam, time.UnixMilli(vals[1]), now)
		e.local.put(localKey{ScopeCredential, p.req.Credential, p.req.Upstream, fam}, rej.ResetsAt, rej, gen, now)
		return nil, rej, nil
	}
	if len(vals) != 2+2*n {
		return nil, nil, fmt.Errorf("quota: reserve %s/%s: script returned %d values for %d rules",
			p.req.Upstream, p.req.Operation, len(vals), n)
	}
	split := vals[1+2*n] == 1
	active := p.checks // the checks of the variant the script used
	if p.split != "" {
		active = make([]check, 0, n)
	}
	outs := make([]outcome, 0, n)
	for i := range p.checks {
		if !p.checks[i].in.on(split) {
			continue
		}
		if p.split != "" {
			active = append(active, p.checks[i])
		}
		c := &active[len(outs)]
		o := outcome{c: c, used: vals[1+2*i], reset: c.reset}
		if c.sliding() {
			o.reset = now.Add(c.span)
			if h := vals[2+2*i]; h > 0 {
				o.reset = time.UnixMilli(h)
			}
		}
		outs = append(outs, o)
	}
	if vals[0] == 1 {
		field, policy := rateLimit(outs, now)
		res := &Reservation{e: e, id: id, req: p.req, checks: active, family: p.familyIn(split), units: p.units,
			spot: spot, rateLimit: field, rateLimitPolicy: policy}
		e.m.count(e.m.reserved, p.req, res.family, res.units)
		return res, nil, nil
	}
	return nil, e.rejection(p.familyIn(split), outs, gen, now), nil
}

// rejection describes the checks that had no room; the one that resets last
// decides Retry-After, since every one of them must have room. family is
// the family the operation counted in.
func (e *Engine) rejection(family string, outs []outcome, gen uint64, now time.Time) *Rejection {
	rej := &Rejection{Family: family, rateOnly: true}
	var decider *outcome
	for i := range outs {
		o := &outs[i]
		if o.used+o.c.units <= o.c.rule.Limit {
			continue
		}
		rej.Policies = append(rej.Policies, o.c.policy())
		if o.c.rule.Period != PeriodSecond {
			rej.rateOnly = false
		}
		if decider == nil || o.reset.After(decider.reset) {
			decider = o
		}
		if !o.c.sliding() && o.c.rule.Period != PeriodSecond && o.used >= o.c.rule.Limit {
			k := localKey{o.c.rule.Scope, o.c.rule.Owner, o.c.rule.Upstream, o.c.rule.Family}
			e.local.put(k, o.reset, o.rejection(family), gen, now)
		}
	}
	d := decider.rejection(family)
	rej.Upstream, rej.Scope, rej.owner, rej.ResetsAt = d.Upstream, d.Scope, d.owner, d.ResetsAt
	rej.policy, rej.limit, rej.width = d.policy, d.limit, d.width
	return rej
}

// rejection is the rejection by o alone.
func (o *outcome) rejection(family string) *Rejection {
	r := &o.c.rule
	return &Rejection{Policies: []string{o.c.policy()}, Scope: r.Scope, owner: r.Owner,
		Upstream: r.Upstream, Family: family, ResetsAt: o.reset,
		policy: o.c.policy(), limit: r.Limit, width: o.c.width}
}

// rejected counts a rejection of p in the metrics and, when queue is set
// (the reserve script did not count it), queues it for the ledger.
func (e *Engine) rejected(p *plan, rej *Rejection, queue bool, now time.Time) {
	family := rej.Family
	if family != p.family && family != p.own {
		// An exhaustion another operation of the family learnt: count this
		// operation in its combined family.
		family = p.family
	}
	e.m.reject(p.req, family, rej.Scope, p.units)
	if queue {
		e.ledger.add(e.ledgerSpot(p.req.Credential, now),
			ledgerField(p.req.Tenant, p.req.Upstream, family, p.req.Operation)+":"+ledgerRejected, p.units)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (e *Engine) unavailable(p *plan, err error) (*Reservation, error) {
	e.m.unavailable.WithLabelValues(p.req.Upstream, p.family).Inc()
	if e.failOpen[p.req.Upstream+"/"+p.family] || (p.own != "" && e.failOpen[p.req.Upstream+"/"+p.own]) {
		return &Reservation{}, nil
	}
	return nil, &apperr.Error{Kind: apperr.Unavailable, Upstream: p.req.Upstream,
		Detail: "quota store unavailable; nothing was sent upstream", Err: err}
}

// Refund gives the reserved units back; call it when the upstream did not
// do the work. It is idempotent, and a no-op for the zero Reservation. The
// per-second rate is not refunded: the upstream saw the call. A traced
// request shows it as a "quota.refund" span.
func (r *Reservation) Refund(ctx context.Context) error {
	if r == nil || r.e == nil {
		return nil
	}
	ctx, span := telemetry.Start(ctx, "quota.refund")
	if !span.IsRecording() {
		return r.refund(ctx)
	}
	err := r.refund(ctx)
	endRefund(span, r, err)
	return err
}

func (r *Reservation) refund(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refunded {
		return nil
	}
	e := r.e
	keys := make([]string, 0, len(r.checks)+3)
	var inv []localKey
	// The per-second rate is not refunded, nor is a rate-only operation's
	// unit in the ledger.
	field := ""
	if r.family != FamilyRate {
		field = ledgerField(r.req.Tenant, r.req.Upstream, r.family, r.req.Operation)
	}
	args := []any{r.id, e.channel, "", 0, field, r.units}
	for i := range r.checks {
		c := &r.checks[i]
		if c.rule.Period == PeriodSecond {
			continue
		}
		kind := "c"
		if c.sliding() {
			kind = "z"
		}
		keys = append(keys, c.key)
		args = append(args, kind, c.units)
		if k := (localKey{c.rule.Scope, c.rule.Owner, c.rule.Upstream, c.rule.Family}); !slices.Contains(inv, k) {
			inv = append(inv, k)
		}
	}
	if len(keys) > 0 || field != "" {
		args[3] = len(keys)
		ledgerKeys := r.spot.keys()
		keys = append(keys, attemptKey(r.req.Credential, r.id, ":refund"), ledgerKeys[0], ledgerKeys[1])
		if len(inv) > 0 {
			args[2] = encodeInvalidation(inv)
		} else {
			args[1] = "" // nothing to invalidate
		}
		rctx, cancel := e.redisCtx(ctx)
		defer cancel()
		if err := e.s.refund.Run(rctx, e.rdb, keys, args...).Err(); err != nil {
			return storeErr(r.req.Upstream, fmt.Errorf("quota: refund %s/%s: %w", r.req.Upstream, r.req.Operation, err))
		}
		if len(inv) > 0 {
			e.local.invalidate(inv)
		}
	}
	r.refunded = true
	if field != "" {
		e.m.count(e.m.refunded, r.req, r.family, r.units)
	}
	return nil
}

// Headers returns the RateLimit-Policy and RateLimit fields naming the
// policy closest to its limit; empty for the zero Reservation.
func (r *Reservation) Headers() http.Header {
	h := http.Header{}
	if field, policy := r.RateLimit(); field != "" {
		h["Ratelimit"], h["Ratelimit-Policy"] = []string{field}, []string{policy}
	}
	return h
}

// RateLimit returns the values of Headers' RateLimit and RateLimit-Policy
// fields without building a header; empty for the zero Reservation.
func (r *Reservation) RateLimit() (field, policy string) {
	if r == nil {
		return "", ""
	}
	return r.rateLimit, r.rateLimitPolicy
}
