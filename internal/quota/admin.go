package quota

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
)

// Usage is one quota as seen by a tenant: its own allocation or the shared
// credential's limit.
type Usage struct {
	Upstream, Family string
	Scope            Scope
	Owner            string // tenant id or credential name
	Period           Period
	Limit            int64
	Used             int64
	Remaining        int64
	ResetsAt         time.Time // sliding windows: when the oldest counted unit leaves
	Source           string    // SourceConfig or SourceUpstream
}

// MarkExhausted records that the upstream refused a call with 423: the
// credential's family is spent until the end of its longest calendar period
// (the month by default). Callers should then trigger a limits sync.
func (e *Engine) MarkExhausted(ctx context.Context, credential, upstream, family string) error {
	if err := validName("credential", credential); err != nil || credential == "" {
		return badName("mark", upstream+"/"+family)
	}
	now := e.now()
	_, until := e.markPeriod(upstream, family).window(now, e.loc)
	rctx, cancel := e.redisCtx(ctx)
	defer cancel()
	key := markKey(credential, upstream, family)
	if err := e.rdb.Set(rctx, key, until.UnixMilli(), until.Sub(now)+time.Minute).Err(); err != nil {
		return storeErr(upstream, fmt.Errorf("quota: mark %s/%s spent: %w", upstream, family, err))
	}
	e.local.put(localKey{ScopeCredential, credential, upstream, family}, until,
		e.markRejection(credential, upstream, family, until, now))
	return nil
}

// SyncRemaining applies the upstream's own count (Garant's /v2/limits): when
// it reports fewer units left this month than the credential's monthly rule
// allows, the used count is raised to match; zero or less marks the family
// spent. Unlimited (32767) and more are ignored. It never lowers the count.
func (e *Engine) SyncRemaining(ctx context.Context, credential, upstream, family string, remaining int64) error {
	if remaining >= Unlimited {
		return nil
	}
	if err := validName("credential", credential); err != nil || credential == "" {
		return badName("sync", upstream+"/"+family)
	}
	now := e.now()
	start, end := PeriodMonth.window(now, e.loc)
	counter, floor := syncKey(credential, upstream, family, start), ""
	for _, s := range e.rules[famKey{upstream, family}] {
		if s.scope != ScopeCredential || s.period != PeriodMonth {
			continue
		}
		if r, ok := s.resolve(credential); ok {
			counter = e.newCheck(r, credential, 0, now).key
			floor = strconv.FormatInt(r.Limit-remaining, 10)
		}
	}
	var markUntil time.Time
	if remaining <= 0 {
		_, markUntil = e.markPeriod(upstream, family).window(now, e.loc)
	}
	if floor == "" && markUntil.IsZero() {
		return nil
	}
	keys := []string{counter, syncKey(credential, upstream, family, start), markKey(credential, upstream, family)}
	ttl := end.Sub(now) + time.Minute
	var untilMS, markTTL int64
	if !markUntil.IsZero() {
		untilMS, markTTL = markUntil.UnixMilli(), (markUntil.Sub(now) + time.Minute).Milliseconds()
	}
	rctx, cancel := e.redisCtx(ctx)
	defer cancel()
	if err := e.s.sync.Run(rctx, e.rdb, keys, floor, ttl.Milliseconds(), untilMS, markTTL).Err(); err != nil {
		return storeErr(upstream, fmt.Errorf("quota: sync %s/%s: %w", upstream, family, err))
	}
	if !markUntil.IsZero() {
		e.local.put(localKey{ScopeCredential, credential, upstream, family}, markUntil,
			e.markRejection(credential, upstream, family, markUntil, now))
	}
	return nil
}

// Usage returns the quotas that apply to tenant through credentials
// (upstream → credential name): the tenant's allocations and the shared
// credentials' limits, one Redis round trip per credential.
func (e *Engine) Usage(ctx context.Context, tenant string, credentials map[string]string) ([]Usage, error) {
	if err := validName("tenant", tenant); err != nil {
		return nil, apperr.Wrap(apperr.Internal, "", err)
	}
	now := e.now()
	var out []Usage
	for _, upstream := range slices.Sorted(maps.Keys(credentials)) {
		var tenants []string
		if tenant != "" {
			tenants = []string{tenant}
		}
		rows, err := e.usage(ctx, tenants, credentials[upstream], upstream, now)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// usage reads, in one script, the quotas of credential at upstream: the
// credential's own and the allocations of tenants out of it. Per family, the
// credential's rows come first, then each tenant's.
func (e *Engine) usage(ctx context.Context, tenants []string, credential, upstream string, now time.Time) ([]Usage, error) {
	if err := validName("credential", credential); err != nil || credential == "" {
		return nil, badName("usage", upstream)
	}
	var families []string
	for k := range e.rules {
		if k.upstream == upstream {
			families = append(families, k.family)
		}
	}
	slices.Sort(families)
	var checks []check
	req := Request{Credential: credential, Upstream: upstream}
	for _, f := range families {
		checks = e.appendChecks(checks, req, f, 0, now) // no tenant: the credential's rules
		for _, t := range tenants {
			for _, c := range e.appendChecks(nil, Request{Tenant: t, Credential: credential, Upstream: upstream}, f, 0, now) {
				if c.rule.Scope == ScopeTenant {
					checks = append(checks, c)
				}
			}
		}
	}
	if len(checks) == 0 {
		return nil, nil
	}
	monthStart, _ := PeriodMonth.window(now, e.loc)
	keys := make([]string, 0, len(checks)+2*len(families))
	args := []any{now.UnixMilli(), len(checks)}
	for i := range checks {
		keys = append(keys, checks[i].key)
		kind := "c"
		if checks[i].sliding() {
			kind = "z"
		}
		args = append(args, kind, checks[i].span.Milliseconds())
	}
	for _, f := range families {
		keys = append(keys, markKey(credential, upstream, f), syncKey(credential, upstream, f, monthStart))
	}
	rctx, cancel := e.redisCtx(ctx)
	defer cancel()
	vals, err := e.s.usage.Run(rctx, e.rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, storeErr(upstream, fmt.Errorf("quota: usage %s: %w", upstream, err))
	}
	if len(vals) != len(keys)+len(checks) {
		return nil, apperr.Wrap(apperr.Internal, "", fmt.Errorf("quota: usage %s: script returned %d values for %d keys", upstream, len(vals), len(keys)))
	}
	extra := vals[2*len(checks):]
	rows := make([]Usage, 0, len(checks))
	for i := range checks {
		c := &checks[i]
		fi := slices.Index(families, c.rule.Family)
		markUntil, synced := extra[2*fi], extra[2*fi+1] == 1
		u := Usage{Upstream: upstream, Family: c.rule.Family, Scope: c.rule.Scope, Owner: c.rule.Owner,
			Period: c.rule.Period, Limit: c.rule.Limit, Used: vals[2*i], ResetsAt: c.reset, Source: SourceConfig}
		if c.sliding() {
			u.ResetsAt = now
			if h := vals[2*i+1]; h > 0 {
				u.ResetsAt = time.UnixMilli(h)
			}
		}
		u.Remaining = max(u.Limit-u.Used, 0)
		if c.rule.Scope == ScopeCredential {
			if c.rule.Period == PeriodMonth && synced {
				u.Source = SourceUpstream
			}
			if until := time.UnixMilli(markUntil); markUntil > 0 && until.After(now) {
				u.Remaining, u.Source = 0, SourceUpstream
				if until.After(u.ResetsAt) {
					u.ResetsAt = until
				}
			}
		}
		u.ResetsAt = u.ResetsAt.In(e.loc)
		rows = append(rows, u)
	}
	return rows, nil
}

// storeErr is a Redis failure of the engine: the quota store is unavailable
// (503), whatever the caller does with it.
func storeErr(upstream string, err error) error {
	return &apperr.Error{Kind: apperr.Unavailable, Upstream: upstream, Detail: "the quota store is unavailable", Err: err}
}

// badName is a credential name the engine cannot key: a bug in the caller.
func badName(op, what string) error {
	return apperr.Wrap(apperr.Internal, "", fmt.Errorf("quota: %s %s: bad credential name", op, what))
}
