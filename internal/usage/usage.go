// Package usage answers who spent the quotas: the quotas that apply to a
// tenant now, with their forecasts, and the ledger of a month or a day.
// A tenant reads its own spending and the quotas that apply to it; an admin
// tenant reads everyone's. It is the service behind the gateway's quota
// operations, as internal/garantsvc is Garant's: the handlers decode, call
// Reports and encode.
package usage

import (
	"context"
	"slices"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
)

// Reports reads the quota engine's counters and ledger.
type Reports struct {
	Quota *quota.Engine
}

// Quota is one quota now, with its forecast.
type Quota struct {
	Upstream, Family string
	Scope            string // quota.ScopeTenant or quota.ScopeCredential
	Owner            string // tenant id or credential name
	Credential       string // the credential the quota counts against
	Period           string
	Limit            int64
	Used             int64
	Remaining        int64
	PeriodStart      time.Time
	ResetsAt         time.Time
	Source           string // where the limit comes from: the config or the upstream
	BurnRatePerHour  float64
	Exhaustion       string
	ExhaustsAt       time.Time // zero unless the quota runs out before it resets
}

// Spending is one row of the ledger: the units one tenant's operation
// reserved, refunded and had refused on one credential and family.
type Spending struct {
	Credential, Tenant, Upstream, Family, Operation string
	Reserved, Refunded, Rejected, Spent             int64
}

// Ledger is the spending of one period and the quotas now.
type Ledger struct {
	Period     string // "month" or "day"
	Start, End time.Time
	Spending   []Spending
	Quotas     []Quota
}

// Query says which part of the ledger to read.
type Query struct {
	Day bool // the day's ledger; false: the month's
	// Date is a day in the wanted period (its year, month and day, read in
	// the quota engine's location); zero: now.
	Date time.Time
	// Filters; "": every one. Tenant names another tenant only for an
	// admin tenant.
	Tenant, Credential, Family string
}

// Quotas lists the quotas that apply to t now, for every upstream it uses.
func (r *Reports) Quotas(ctx context.Context, t *tenant.Tenant) ([]Quota, error) {
	us, err := r.Quota.Usage(ctx, t.ID, t.CredentialNames())
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]Quota, 0, len(us))
	for _, u := range us {
		out = append(out, quotaOf(u))
	}
	return out, nil
}

// Ledger reads the ledger of the period q names as t may see it: t's own
// rows and the quotas that apply to t; an admin tenant's reads every
// tenant's rows and every quota. A tenant naming another tenant is
// Forbidden unless it is an admin.
func (r *Reports) Ledger(ctx context.Context, t *tenant.Tenant, q Query) (*Ledger, error) {
	if !t.Admin && q.Tenant != "" && q.Tenant != t.ID {
		return nil, apperr.New(apperr.Forbidden, "query.tenant names another tenant: only an admin tenant may read another tenant's quota usage")
	}
	lq := quota.LedgerQuery{Period: quota.PeriodMonth, Tenant: q.Tenant, Family: q.Family}
	if q.Day {
		lq.Period = quota.PeriodDay
	}
	if !q.Date.IsZero() {
		lq.At = time.Date(q.Date.Year(), q.Date.Month(), q.Date.Day(), 0, 0, 0, 0, r.Quota.Location())
	}

	var us []quota.Usage
	var creds []string
	var err error
	if t.Admin {
		us, err = r.Quota.AllUsage(ctx)
		for _, c := range t.Registry().Credentials() {
			creds = append(creds, c.Name)
		}
	} else {
		lq.Tenant = t.ID
		us, err = r.Quota.Usage(ctx, t.ID, t.CredentialNames())
		for _, c := range t.Credentials {
			creds = append(creds, c.Name)
		}
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if q.Credential != "" {
		creds = slices.DeleteFunc(creds, func(c string) bool { return c != q.Credential })
	}
	lq.Credentials = creds
	ledger, err := r.Quota.Ledger(ctx, lq)
	if err != nil {
		return nil, storeErr(err)
	}

	uses := usedCredentials(t.Registry(), q.Tenant)
	out := &Ledger{Period: string(ledger.Period), Start: ledger.Start, End: ledger.End,
		Spending: make([]Spending, 0, len(ledger.Rows)), Quotas: []Quota{}}
	for _, s := range ledger.Rows {
		out.Spending = append(out.Spending, Spending{
			Credential: s.Credential, Tenant: s.Tenant, Upstream: s.Upstream, Family: s.Family, Operation: s.Operation,
			Reserved: s.Reserved, Refunded: s.Refunded, Rejected: s.Rejected, Spent: s.Spent(),
		})
	}
	for _, u := range us {
		switch {
		case q.Credential != "" && u.Credential != q.Credential,
			q.Family != "" && u.Family != q.Family,
			q.Tenant != "" && u.Scope == quota.ScopeTenant && u.Owner != q.Tenant,
			q.Tenant != "" && u.Scope == quota.ScopeCredential && !uses[u.Credential]:
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

func quotaOf(u quota.Usage) Quota {
	return Quota{
		Upstream: u.Upstream, Family: u.Family, Scope: string(u.Scope), Owner: u.Owner, Credential: u.Credential,
		Period: string(u.Period), Limit: u.Limit, Used: u.Used, Remaining: u.Remaining,
		PeriodStart: u.PeriodStart, ResetsAt: u.ResetsAt, Source: u.Source,
		BurnRatePerHour: u.Forecast.BurnRate, Exhaustion: string(u.Forecast.Exhaustion), ExhaustsAt: u.Forecast.ExhaustsAt,
	}
}

// storeErr keeps the engine's own errors and calls anything else the quota
// store being unavailable.
func storeErr(err error) error {
	if _, ok := apperr.As(err); !ok {
		err = apperr.Wrap(apperr.Unavailable, "the quota store is unavailable", err)
	}
	return err
}
