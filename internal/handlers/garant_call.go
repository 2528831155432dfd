package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/ops"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// garantCall is one request to a Garant operation: who calls, with which
// credential, and the RateLimit fields of its own reservation, if it made one.
type garantCall struct {
	g      *Garant
	q      *quota.Engine
	op     string
	rules  *ops.Operation // the contract's rules of op
	tenant *tenant.Tenant
	cred   *tenant.Credential
	// RateLimit and RateLimit-Policy of its own reservation.
	rateLimit, rateLimitPolicy string
}

// fail returns err after copying a quota rejection's RateLimit fields onto
// the response.
func fail(ctx context.Context, err error) error {
	hdr := ResponseHeader(ctx)
	for k, v := range quota.Headers(err) {
		hdr[k] = v
	}
	return err
}

func (c *garantCall) reserve(ctx context.Context, op string) (*quota.Reservation, error) {
	if c.q == nil {
		return &quota.Reservation{}, nil
	}
	return c.q.Reserve(ctx, quota.Request{Tenant: c.tenant.ID, Credential: c.cred.Name, Upstream: garant.Upstream, Operation: op})
}

// upstream makes one metered upstream call: fail fast while the
// credential's circuit breaker is open (nothing reserved), reserve (the
// family, and any rate rule, in one round trip), call, refund when Garant
// did not do the work, that is when no success answer arrived (no answer, a
// timeout before the headers, a refusal of the upstream guard, any 4xx or
// 5xx). A failure after a 2xx (an answer cut short, too large or malformed,
// a client gone mid-body) keeps the units: Garant counted the call. Pacing
// to the credential's rate and retries of Garant's 429 happen in the
// client's transport (internal/upstreamguard); a 423 marks the family spent
// and syncs /v2/limits; a 401 is told apart as a method missing from the
// tariff or a rejected credential.
func (c *garantCall) upstream(ctx context.Context, fn func(context.Context) error) error {
	if c.g.Guard != nil {
		if err := c.g.Guard.Check(garant.Upstream, c.cred.Name); err != nil {
			return err
		}
	}
	ctx = tenant.WithCredential(ctx, c.cred.Name)
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

// ttl is how long answers of the call's operation are cached: the
// config's override, else the contract's; 0: not cached.
func (c *garantCall) ttl() time.Duration {
	if d, ok := c.g.TTL[c.op]; ok {
		return d
	}
	if c.rules == nil {
		return 0
	}
	return c.rules.CacheTTL
}

// exhausted handles a 423: the family the operation counts in (its own one
// when the credential's links_control is split) is spent until next month
// for every replica, the other families are synced from /v2/limits, and the
// answer is the quota engine's own rejection (with its RateLimit fields).
func (c *garantCall) exhausted(ctx context.Context, upstreamErr error) error {
	fam := ""
	if c.rules != nil {
		fam = c.rules.Family
	}
	if fam != "" && c.q != nil {
		req := quota.Request{Tenant: c.tenant.ID, Credential: c.cred.Name, Upstream: garant.Upstream, Operation: c.op}
		if f, err := c.q.MarkExhausted(ctx, req); err == nil && f != "" {
			fam = f
		}
	}
	_, _ = c.syncLimits(ctx)
	if fam != "" && c.q != nil {
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

// limitFamilies maps the method names of /v2/limits to quota families.
var limitFamilies = map[string]string{
	garant.MethodHyperlinks: quota.FamilyLinksControl, garant.MethodFindModified: quota.FamilyLinksControl,
	garant.MethodBlocksOnControl: quota.FamilyLinksControl,
	garant.MethodDownloadRTF:     quota.FamilyExport, garant.MethodDownloadODT: quota.FamilyExport,
	garant.MethodDownloadPDF: quota.FamilyExport, garant.MethodTopicHTML: quota.FamilyExport,
	garant.MethodEntryHTML: quota.FamilyExport, garant.MethodImage: quota.FamilyExport,
	garant.MethodFormula: quota.FamilyExport, garant.MethodTopic: quota.FamilyTopicInfo,
}

// linksFamilies maps the links_control methods of /v2/limits to their own
// families, used when the credential's links_control is split.
var linksFamilies = map[string]string{
	garant.MethodHyperlinks:      quota.FamilyFindHyperlinks,
	garant.MethodFindModified:    quota.FamilyFindModified,
	garant.MethodBlocksOnControl: quota.FamilyBlocksChanged,
}

// syncLimits reads /v2/limits (through the rate limit) and lowers the quota
// engine's remaining counts to Garant's.
func (c *garantCall) syncLimits(ctx context.Context) ([]garant.Limit, error) {
	ctx = tenant.WithCredential(metrics.WithOperation(ctx, "garantGetLimits"), c.cred.Name)
	res, err := c.reserve(ctx, "garantGetLimits")
	if err != nil {
		return nil, err
	}
	limits, err := c.g.Client.Limits(ctx, c.cred.Secret)
	if err != nil {
		if !garant.Answered(err) {
			_ = res.Refund(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	c.applyLimits(ctx, limits)
	return limits, nil
}

// applyLimits lowers the engine's counts to what /v2/limits reports and
// records whether the credential's links_control is split: it is when
// Garant lists find-hyperlinks, find-modified and block-on-control/changed
// as separate entries, each method then counted in its own family with its
// own remaining count; while they share an entry (or only one of them is
// listed) they share links_control, lowered to the smallest count. The
// counts are applied before the choice changes, so a method starts its own
// family with Garant's number.
func (c *garantCall) applyLimits(ctx context.Context, limits []garant.Limit) {
	if c.q == nil {
		return
	}
	split := linksSplit(limits)
	remaining := map[string]int64{}
	for _, l := range limits {
		for _, n := range l.Names {
			fam, ok := limitFamilies[n]
			if own, isLinks := linksFamilies[n]; isLinks && split {
				fam = own
			}
			if !ok {
				continue
			}
			if v, seen := remaining[fam]; !seen || int64(l.Value) < v {
				remaining[fam] = int64(l.Value)
			}
		}
	}
	for fam, v := range remaining {
		_ = c.q.SyncRemaining(ctx, c.cred.Name, garant.Upstream, fam, v)
	}
	_, _ = c.q.SetSplit(ctx, c.cred.Name, garant.Upstream, quota.FamilyLinksControl, split)
}

// linksSplit reports whether /v2/limits counts the links_control methods
// separately: no entry names two of them, and at least two have an entry.
func linksSplit(limits []garant.Limit) bool {
	listed := map[string]bool{}
	for _, l := range limits {
		n := 0
		for _, name := range l.Names {
			if _, ok := linksFamilies[name]; ok {
				listed[name] = true
				n++
			}
		}
		if n > 1 {
			return false
		}
	}
	return len(listed) > 1
}

// unauthorized tells a method missing from the tariff (403: /v2/limits
// still works with the credential) from a rejected credential (502: the
// tenant's own key was fine). The probe is remembered for ProbeTTL.
func (c *garantCall) unauthorized(ctx context.Context, upstreamErr error) error {
	rejected := &apperr.Error{Kind: apperr.UpstreamFailed, Upstream: garant.Upstream,
		Detail: "upstream credential rejected: Garant refused the gateway's credential for this tenant (the tenant's API key is fine)", Err: upstreamErr}
	if c.op == "garantGetLimits" {
		c.g.rejected(c.cred.Name)
		return rejected
	}
	ttl := c.g.ProbeTTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	c.g.probeMu.Lock()
	p, known := c.g.probes[c.cred.Name]
	c.g.probeMu.Unlock()
	if !known || time.Since(p.at) > ttl {
		_, err := c.syncLimits(ctx)
		if err != nil && garant.StatusOf(err) != http.StatusUnauthorized {
			return rejected // cannot tell; the probe itself failed
		}
		p = probe{ok: err == nil, at: time.Now()}
		c.g.probeMu.Lock()
		if c.g.probes == nil {
			c.g.probes = map[string]probe{}
		}
		c.g.probes[c.cred.Name] = p
		c.g.probeMu.Unlock()
	}
	if p.ok {
		return &apperr.Error{Kind: apperr.Forbidden, Upstream: garant.Upstream,
			Detail: "method not in this credential's tariff: Garant does not offer " + c.op + " to the credential this tenant uses", Err: upstreamErr}
	}
	c.g.rejected(c.cred.Name)
	return rejected
}
