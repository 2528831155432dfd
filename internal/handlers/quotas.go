package handlers

import (
	"context"
	"time"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/usage"
)

// GetQuotas lists the caller's quotas for every upstream it uses.
func (h gatewayHandlers) GetQuotas(ctx context.Context, _ api.GetQuotasRequestObject) (api.GetQuotasResponseObject, error) {
	t, err := tenantFrom(ctx)
	if err != nil {
		return nil, err
	}
	qs, err := h.deps.Quotas.Quotas(ctx, t)
	if err != nil {
		return nil, err
	}
	out := api.GetQuotas200JSONResponse{Quotas: make([]api.Quota, 0, len(qs))}
	for _, q := range qs {
		out.Quotas = append(out.Quotas, quotaOf(q))
	}
	return out, nil
}

// GetQuotaUsage answers who spent the quotas: the ledger of one month or
// day, and the quotas now with their forecasts, as the caller may see them
// (internal/usage).
func (h gatewayHandlers) GetQuotaUsage(ctx context.Context, req api.GetQuotaUsageRequestObject) (api.GetQuotaUsageResponseObject, error) {
	t, err := tenantFrom(ctx)
	if err != nil {
		return nil, err
	}
	p := req.Params
	q := usage.Query{
		Day:    p.Period != nil && *p.Period == api.UsagePeriodDay,
		Tenant: string(deref(p.Tenant)), Credential: string(deref(p.Credential)), Family: string(deref(p.Family)),
	}
	if p.Date != nil {
		q.Date = time.Date(p.Date.Year(), p.Date.Month(), p.Date.Day(), 0, 0, 0, 0, time.UTC)
	}
	ledger, err := h.deps.Quotas.Ledger(ctx, t, q)
	if err != nil {
		return nil, err
	}
	out := api.GetQuotaUsage200JSONResponse{
		Period: api.QuotaUsagePeriod(ledger.Period), Start: ledger.Start, End: ledger.End,
		Spending: make([]api.QuotaSpending, 0, len(ledger.Spending)), Quotas: make([]api.Quota, 0, len(ledger.Quotas)),
	}
	for _, s := range ledger.Spending {
		out.Spending = append(out.Spending, api.QuotaSpending{
			Credential: s.Credential, Tenant: s.Tenant, Upstream: api.QuotaSpendingUpstream(s.Upstream),
			Family: s.Family, Operation: s.Operation, Reserved: s.Reserved, Refunded: s.Refunded,
			Rejected: s.Rejected, Spent: s.Spent,
		})
	}
	for _, q := range ledger.Quotas {
		out.Quotas = append(out.Quotas, quotaOf(q))
	}
	return out, nil
}

// quotaOf is the contract's view of one quota.
func quotaOf(u usage.Quota) api.Quota {
	q := api.Quota{
		Upstream: api.QuotaUpstream(u.Upstream), Family: u.Family, Scope: api.QuotaScope(u.Scope),
		Owner: u.Owner, Credential: u.Credential, Period: api.QuotaPeriod(u.Period), Limit: u.Limit, Used: u.Used,
		Remaining: u.Remaining, PeriodStart: u.PeriodStart, ResetsAt: u.ResetsAt, Source: api.QuotaSource(u.Source),
		BurnRatePerHour: u.BurnRatePerHour, Exhaustion: api.QuotaExhaustion(u.Exhaustion),
	}
	if !u.ExhaustsAt.IsZero() {
		at := u.ExhaustsAt
		q.ExhaustsAt = &at
	}
	return q
}
