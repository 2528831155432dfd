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
	Credential       string // the credential the quota counts against (Owner, for the credential scope)
	Period           Period
	Limit            int64
	Used             int64
	Remaining        int64
	PeriodStart      time.Time // calendar periods: the window's start; sliding: the window's start now
	ResetsAt         time.Time // sliding windows: when the oldest counted unit leaves
	Source           string    // SourceConfig or SourceUpstream
	Forecast         Forecast
}

// MarkExhausted records that the upstream refused r's operation with 423:
// the family the operation counts in for r.Credential (its own family when
// the credential's family is split, see SetSplit) is spent until the end of
// that family's longest calendar period (the month by default), for every
// replica. It returns that family; "" (and no error) for an unmetered
// operation. Callers should then trigger a limits sync.
func (e *Engine) MarkExhausted(ctx context.Context, r Request) (string, error) {
	cost, metered := e.families[r.Upstream][r.Operation]
	if !metered {
		return "", nil
	}
	if err := validName("credential", r.Credential); err != nil || r.Credential == "" {
		return "", badName("mark", r.Upstream+"/"+cost.Family)
	}
	now := e.now()
	fams := []string{cost.Family}
	if own := e.splits.ops[r.Upstream][r.Operation]; own != "" {
		fams = append(fams, own)
	}
	keys := make([]string, 0, 3)
	args := make([]any, 0, 4)
	for _, f := range fams {
		_, until := e.markPeriod(r.Upstream, f).window(now, e.loc)
		keys = append(keys, markKey(r.Credential, r.Upstream, f))
		args = append(args, until.UnixMilli(), (until.Sub(now) + time.Minute).Milliseconds())
	}
	if len(fams) > 1 {
		keys = append(keys, splitKey(r.Credential, r.Upstream, cost.Family))
	}
	gen := e.local.generation()
	rctx, cancel := e.redisCtx(ctx)
	defer cancel()
	i, err := e.s.mark.Run(rctx, e.rdb, keys, args...).Int()
	if err != nil {
		return "", storeErr(r.Upstream, fmt.Errorf("quota: mark %s/%s spent: %w", r.Upstream, cost.Family, err))
	}
	if i < 1 || i > len(fams) {
		return "", apperr.Wrap(apperr.Internal, "", fmt.Errorf("quota: mark %s/%s spent: script returned %d", r.Upstream, cost.Family, i))
	}
	fam := fams[i-1]
	until := time.UnixMilli(args[2*(i-1)].(int64))
	e.local.put(localKey{ScopeCredential, r.Credential, r.Upstream, fam}, until,
		e.markRejection(r.Credential, r.Upstream, fam, until, now), gen, now)
	return fam, nil
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
	for _, s := range e.limits.Load().rules[famKey{upstream, family}] {
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
	gen := e.local.generation()
	rctx, cancel := e.redisCtx(ctx)
	defer cancel()
	if err := e.s.sync.Run(rctx, e.rdb, keys, floor, ttl.Milliseconds(), untilMS, markTTL).Err(); err != nil {
		return storeErr(upstream, fmt.Errorf("quota: sync %s/%s: %w", upstream, family, err))
	}
	if !markUntil.IsZero() {
		e.local.put(localKey{ScopeCredential, credential, upstream, family}, markUntil,
			e.markRejection(credential, upstream, family, markUntil, now), gen, now)
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

// AllUsage returns the quotas of every configured account and of every
// credential a rule names (what the quota gauges report), one Redis round
// trip per credential.
func (e *Engine) AllUsage(ctx context.Context) ([]Usage, error) {
	now := e.now()
	var out []Usage
	for _, g := range e.limits.Load().groups {
		rows, err := e.usage(ctx, g.tenants, g.credential, g.upstream, now)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// usage reads, in one script, the quotas of credential at upstream: the
// credential's own and the allocations of tenants out of it. Per family, the
// credential's rows come first, then each tenant's. Of a split family, the
// rows of the variant the credential uses are returned: the combined
// family's, or the own families' (credential and own tenant rules) and the
// combined family's tenant rows.
func (e *Engine) usage(ctx context.Context, tenants []string, credential, upstream string, now time.Time) ([]Usage, error) {
	if err := validName("credential", credential); err != nil || credential == "" {
		return nil, badName("usage", upstream)
	}
	ls := e.limits.Load()
	var families []string
	for k := range ls.rules {
		if k.upstream == upstream {
			families = append(families, k.family)
		}
	}
	slices.Sort(families)
	var checks []check
	req := Request{Credential: credential, Upstream: upstream}
	for _, f := range families {
		checks = e.appendChecks(checks, ls, req, f, 0, now, always, always) // no tenant: the credential's rules
		for _, t := range tenants {
			for _, c := range e.appendChecks(nil, ls, Request{Tenant: t, Credential: credential, Upstream: upstream}, f, 0, now, always, always) {
				if c.rule.Scope == ScopeTenant {
					checks = append(checks, c)
				}
			}
		}
	}
	if len(checks) == 0 {
		return nil, nil
	}
	var combined []string // the split families of upstream, whose split key is read too
	for k := range e.splits.owns {
		if k.upstream == upstream {
			combined = append(combined, k.family)
		}
	}
	slices.Sort(combined)
	monthStart, _ := PeriodMonth.window(now, e.loc)
	keys := make([]string, 0, len(checks)+2*len(families)+len(combined))
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
	for _, f := range combined {
		keys = append(keys, splitKey(credential, upstream, f))
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
	split := map[string]bool{}
	for j, f := range combined {
		split[f] = extra[2*len(families)+j] == 1
	}
	rows := make([]Usage, 0, len(checks))
	for i := range checks {
		c := &checks[i]
		if !e.splits.shown(upstream, c.rule.Family, c.rule.Scope, split) {
			continue // the rows of the variant the credential does not use
		}
		fi := slices.Index(families, c.rule.Family)
		markUntil, synced := extra[2*fi], extra[2*fi+1] == 1
		u := Usage{Upstream: upstream, Family: c.rule.Family, Scope: c.rule.Scope, Owner: c.rule.Owner,
			Credential: credential, Period: c.rule.Period, Limit: c.rule.Limit, Used: vals[2*i],
			PeriodStart: c.reset.Add(-c.width), ResetsAt: c.reset, Source: SourceConfig}
		if c.sliding() {
			u.PeriodStart, u.ResetsAt = now.Add(-c.span), now
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
		u.PeriodStart, u.ResetsAt = u.PeriodStart.In(e.loc), u.ResetsAt.In(e.loc)
		u.Forecast = forecast(&u, now)
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
