package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/usage"
)

// usageGateway is the test gateway with a quota engine whose ledger alpha
// (an admin) and other (not one) have spent: alpha 3 exports on its own
// allocation of 20, other 2 of which 1 was refunded.
func usageGateway(t *testing.T) *gateway {
	t.Helper()
	g := newGateway(t, func(d *handlers.Deps) {
		q, err := quota.New(d.Redis, quota.Config{
			Rules: []quota.Rule{
				{Scope: quota.ScopeCredential, Owner: "garant-test", Upstream: "garant", Family: "export", Period: quota.PeriodMonth, Limit: 30},
				{Scope: quota.ScopeTenant, Owner: "alpha", Upstream: "garant", Family: "export", Period: quota.PeriodMonth, Limit: 20},
				{Scope: quota.ScopeCredential, Owner: "fssp-test", Upstream: "fssp", Family: "single", Period: quota.PeriodSlidingHour, Limit: 100},
			},
			Accounts: []quota.Account{
				{Tenant: "alpha", Credential: "garant-test", Upstream: "garant"}, {Tenant: "alpha", Credential: "fssp-test", Upstream: "fssp"},
				{Tenant: "other", Credential: "garant-test", Upstream: "garant"}, {Tenant: "other", Credential: "fssp-test", Upstream: "fssp"},
			},
		}, nil)
		must(t, err)
		d.Quotas = &usage.Reports{Quota: q}
	})
	reserve := func(tenantID string, n int) []*quota.Reservation {
		var out []*quota.Reservation
		for range n {
			r, err := g.Deps.Quotas.Quota.Reserve(context.Background(), quota.Request{Tenant: tenantID, Credential: "garant-test",
				Upstream: "garant", Operation: "garantExportTopic"})
			must(t, err)
			out = append(out, r)
		}
		return out
	}
	reserve("alpha", 3)
	must(t, reserve("other", 2)[0].Refund(context.Background()))
	return g
}

func readUsage(t *testing.T, g *gateway, path, key string) api.QuotaUsage {
	t.Helper()
	res := g.do(t, "GET", path, key, nil)
	if res.StatusCode != http.StatusOK {
		readProblem(t, res, http.StatusOK)
	}
	var u api.QuotaUsage
	must(t, json.NewDecoder(res.Body).Decode(&u))
	return u
}

// usageQuota is a quota as the usage tests compare it.
type usageQuota struct{ Scope, Owner, Family string }

func usageQuotas(qs []api.Quota) []usageQuota {
	out := []usageQuota{}
	for _, q := range qs {
		out = append(out, usageQuota{string(q.Scope), q.Owner, q.Family})
	}
	return out
}

func TestQuotaUsage(t *testing.T) {
	g := usageGateway(t)
	alphaRow := api.QuotaSpending{Credential: "garant-test", Tenant: "alpha", Upstream: "garant", Family: "export",
		Operation: "garantExportTopic", Reserved: 3, Spent: 3}
	otherRow := api.QuotaSpending{Credential: "garant-test", Tenant: "other", Upstream: "garant", Family: "export",
		Operation: "garantExportTopic", Reserved: 2, Refunded: 1, Spent: 1}
	credRows := []usageQuota{{"credential", "fssp-test", "single"}, {"credential", "garant-test", "export"}}
	for _, tc := range []struct {
		name, path, key string
		spending        []api.QuotaSpending
		quotas          []usageQuota
	}{
		{"a tenant sees its own", "/v1/quotas/usage", keyOther, []api.QuotaSpending{otherRow}, credRows},
		{"a tenant may name itself", "/v1/quotas/usage?tenant=other", keyOther, []api.QuotaSpending{otherRow}, credRows},
		{"an admin sees all", "/v1/quotas/usage", keyAlpha, []api.QuotaSpending{alphaRow, otherRow},
			[]usageQuota{{"credential", "fssp-test", "single"}, {"credential", "garant-test", "export"}, {"tenant", "alpha", "export"}}},
		{"an admin filters by tenant", "/v1/quotas/usage?tenant=other", keyAlpha, []api.QuotaSpending{otherRow}, credRows},
		{"by credential", "/v1/quotas/usage?credential=fssp-test", keyAlpha, []api.QuotaSpending{},
			[]usageQuota{{"credential", "fssp-test", "single"}}},
		{"by family", "/v1/quotas/usage?family=export&period=day", keyAlpha, []api.QuotaSpending{alphaRow, otherRow},
			[]usageQuota{{"credential", "garant-test", "export"}, {"tenant", "alpha", "export"}}},
		{"a month the ledger no longer keeps", "/v1/quotas/usage?date=2020-01-15", keyAlpha, []api.QuotaSpending{},
			[]usageQuota{{"credential", "fssp-test", "single"}, {"credential", "garant-test", "export"}, {"tenant", "alpha", "export"}}},
	} {
		u := readUsage(t, g, tc.path, tc.key)
		if diff := cmp.Diff(tc.spending, u.Spending); diff != "" {
			t.Errorf("GET %s (%s): spending mismatch (-want +got):\n%s", tc.path, tc.name, diff)
		}
		if diff := cmp.Diff(tc.quotas, usageQuotas(u.Quotas)); diff != "" {
			t.Errorf("GET %s (%s): quotas mismatch (-want +got):\n%s", tc.path, tc.name, diff)
		}
	}

	u := readUsage(t, g, "/v1/quotas/usage?period=day&date=2020-01-15", keyAlpha)
	msk := time.FixedZone("MSK", 3*60*60)
	if want := time.Date(2020, 1, 15, 0, 0, 0, 0, msk); u.Period != api.QuotaUsagePeriodDay || !u.Start.Equal(want) || !u.End.Equal(want.AddDate(0, 0, 1)) {
		t.Errorf("GET ?period=day&date=2020-01-15 = period %s [%v, %v), want day [%v, %v)", u.Period, u.Start, u.End, want, want.AddDate(0, 0, 1))
	}

	p := readProblem(t, g.do(t, "GET", "/v1/quotas/usage?tenant=alpha", keyOther, nil), http.StatusForbidden)
	if p.Detail == "" {
		t.Errorf("403 problem has no detail")
	}
	for path, field := range map[string]string{
		"/v1/quotas/usage?period=week":     "query.period",
		"/v1/quotas/usage?date=15.01.2020": "query.date",
		"/v1/quotas/usage?tenant=a:b":      "query.tenant",
	} {
		p := readProblem(t, g.do(t, "GET", path, keyAlpha, nil), http.StatusBadRequest)
		if len(p.Errors) == 0 || p.Errors[0].Field != field {
			t.Errorf("GET %s = errors %+v, want one naming %s", path, p.Errors, field)
		}
	}
	readProblem(t, g.do(t, "GET", "/v1/quotas/usage", "", nil), http.StatusUnauthorized)
	g.Redis.Stop()
	readProblem(t, g.do(t, "GET", "/v1/quotas/usage", keyAlpha, nil), http.StatusServiceUnavailable)
}

// TestQuotaForecast: /v1/quotas and the usage API give each quota its
// burn rate and where it is heading.
func TestQuotaForecast(t *testing.T) {
	g := usageGateway(t)
	for _, path := range []string{"/v1/quotas", "/v1/quotas/usage"} {
		res := g.do(t, "GET", path, keyAlpha, nil)
		var got struct{ Quotas []api.Quota }
		must(t, json.NewDecoder(res.Body).Decode(&got))
		var export *api.Quota
		for i, q := range got.Quotas {
			if q.Scope == api.QuotaScopeCredential && q.Family == "export" {
				export = &got.Quotas[i]
			}
		}
		if export == nil {
			t.Fatalf("GET %s has no export credential quota: %+v", path, got.Quotas)
		}
		// 5 reserved, 1 refunded: 4 used; averaged over at least a tenth of the month.
		if export.Used != 4 || export.Credential != "garant-test" || export.BurnRatePerHour <= 0 ||
			export.BurnRatePerHour > 4/(0.1*28*24) || export.Exhaustion == "" || !export.PeriodStart.Before(export.ResetsAt) {
			t.Errorf("GET %s export quota = %+v, want used 4, a burn rate in (0, %v], an exhaustion and a period start", path, *export, 4/(0.1*28*24))
		}
		if (export.Exhaustion == api.QuotaExhaustionBeforeReset) != (export.ExhaustsAt != nil) {
			t.Errorf("GET %s export quota: exhaustion %s with exhausts_at %v", path, export.Exhaustion, export.ExhaustsAt)
		}
	}
}
