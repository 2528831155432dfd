package handlers

import (
	"context"
	"slices"
	"time"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
)

// GetQuotaUsage answers who spent the quotas: the ledger of one month or
// day, and the quotas now with their forecasts. A tenant sees its own rows
// and the quotas that apply to it; an admin tenant sees everyone's.
func (h gatewayHandlers) GetQuotaUsage(ctx context.Context, req api.GetQuotaUsageRequestObject) (api.GetQuotaUsageResponseObject, error) {
	t, err := tenantFrom(ctx)
	if err != nil {
		return nil, err
	}
	p := req.Params
	credential, tenantID, family := string(deref(p.Credential)), string(deref(p.Tenant)), string(deref(p.Family))
	if !t.Admin && tenantID != "" && tenantID != t.ID {
		return nil, apperr.New(apperr.Forbidden, "query.tenant names another tenant: only an admin tenant may read another tenant's quota usage")
	}
	q := quota.LedgerQuery{Period: quota.PeriodMonth, Tenant: tenantID, Family: family}
	if p.Period != nil && *p.Period == api.UsagePeriodDay {
		q.Period = quota.PeriodDay
	}
	if p.Date != nil {
		loc := h.deps.Quota.Location()
		q.At = time.Date(p.Date.Year(), p.Date.Month(), p.Date.Day(), 0, 0, 0, 0, loc)
	}

	var usage []quota.Usage
	var creds []string
	if t.Admin {
		usage, err = h.deps.Quota.AllUsage(ctx)
		for _, c := range t.Registry().Credentials() {
			creds = append(creds, c.Name)
		}
	} else {
		q.Tenant = t.ID
		usage, err = h.deps.Quota.Usage(ctx, t.ID, t.CredentialNames())
		for _, c := range t.Credentials {
			creds = append(creds, c.Name)
		}
	}
	if err != nil {
		return nil, quotaStoreErr(err)
	}
	if credential != "" {
		creds = slices.DeleteFunc(creds, func(c string) bool { return c != credential })
	}
	q.Credentials = creds
	ledger, err := h.deps.Quota.Ledger(ctx, q)
	if err != nil {
		return nil, quotaStoreErr(err)
	}

	uses := usedCredentials(t.Registry(), tenantID)
	out := api.GetQuotaUsage200JSONResponse{
		Period: api.QuotaUsagePeriod(ledger.Period), Start: ledger.Start, End: ledger.End,
		Spending: make([]api.QuotaSpending, 0, len(ledger.Rows)), Quotas: []api.Quota{},
	}
	for _, r := range ledger.Rows {
		out.Spending = append(out.Spending, api.QuotaSpending{
			Credential: r.Credential, Tenant: r.Tenant, Upstream: api.QuotaSpendingUpstream(r.Upstream),
			Family: r.Family, Operation: r.Operation, Reserved: r.Reserved, Refunded: r.Refunded,
			Rejected: r.Rejected, Spent: r.Spent(),
		})
	}
	for _, u := range usage {
		switch {
		case credential != "" && u.Credential != credential,
			family != "" && u.Family != family,
			tenantID != "" && u.Scope == quota.ScopeTenant && u.Owner != tenantID,
			tenantID != "" && u.Scope == quota.ScopeCredential && !uses[u.Credential]:
			continue
		}
		out.Quotas = append(out.Quotas, quotaOf(u))
	}
	return out, nil
}

// usedCredentials is the set of credential names tenant id uses; empty for
// "" or an unknown tenant.
func usedCredentials(reg *tenant.Registry, id string) map[string]bool {
	out := map[string]bool{}
	for _, t := range reg.Tenants() {
		if t.ID == id && id != "" {
			for _, c := range t.Credentials {
				out[c.Name] = true
			}
		}
	}
	return out
}

// quotaOf is the contract's view of one quota.
func quotaOf(u quota.Usage) api.Quota {
	q := api.Quota{
		Upstream: api.QuotaUpstream(u.Upstream), Family: u.Family, Scope: api.QuotaScope(u.Scope),
		Owner: u.Owner, Credential: u.Credential, Period: api.QuotaPeriod(u.Period), Limit: u.Limit, Used: u.Used,
		Remaining: u.Remaining, PeriodStart: u.PeriodStart, ResetsAt: u.ResetsAt, Source: api.QuotaSource(u.Source),
		BurnRatePerHour: u.Forecast.BurnRate, Exhaustion: api.QuotaExhaustion(u.Forecast.Exhaustion),
	}
	if !u.Forecast.ExhaustsAt.IsZero() {
		at := u.Forecast.ExhaustsAt
		q.ExhaustsAt = &at
	}
	return q
}

// quotaStoreErr keeps the engine's own errors and calls anything else the
// quota store being unavailable.
func quotaStoreErr(err error) error {
	if _, ok := apperr.As(err); !ok {
		err = apperr.Wrap(apperr.Unavailable, "the quota store is unavailable", err)
	}
	return err
}
