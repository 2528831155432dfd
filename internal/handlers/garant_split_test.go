package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/usage"
)

// splitEnv is a gateway whose quota engine reports its gauges on reg, in
// front of a Garant simulator that reports the links_control methods
// separately in /v2/limits (as it does), or as one combined entry.
type splitEnv struct {
	*gateway
	sim    *garantsim.Server
	simURL string
	reg    *prometheus.Registry
}

func newSplitEnv(t *testing.T, combined bool) *splitEnv {
	t.Helper()
	sim := garantsim.New(simConfig())
	var h http.Handler = sim
	if combined {
		h = combinedLimits(t, sim)
	}
	ss := httptest.NewServer(h)
	t.Cleanup(ss.Close)
	env := &splitEnv{sim: sim, simURL: ss.URL, reg: prometheus.NewRegistry()}
	env.gateway = newGateway(t, func(d *handlers.Deps) {
		d.Quotas = &usage.Reports{Quota: linksQuota(t, d, env.reg)}
		d.Garant = garantDeps(t, d.Redis, d.Registry, ss.URL)
	})
	return env
}

// linksQuota: the credential's documented 1000 links_control units a
// month, alpha's allocation of 100 of them, and the rate.
func linksQuota(t *testing.T, d *handlers.Deps, reg prometheus.Registerer) *quota.Engine {
	t.Helper()
	q, err := quota.New(d.Redis, quota.Config{Rules: []quota.Rule{
		{Scope: quota.ScopeCredential, Upstream: "garant", Family: quota.FamilyLinksControl, Period: quota.PeriodMonth, Limit: 1000},
		{Scope: quota.ScopeTenant, Owner: "alpha", Upstream: "garant", Family: quota.FamilyLinksControl, Period: quota.PeriodMonth, Limit: 100},
		{Scope: quota.ScopeCredential, Upstream: "garant", Family: quota.FamilyRate, Period: quota.PeriodSecond, Limit: 100},
	}, Accounts: []quota.Account{{Tenant: "alpha", Credential: "garant-test", Upstream: "garant"}}}, reg)
	must(t, err)
	return q
}

// combinedLimits answers /v2/limits with the three links_control methods in
// one entry holding the smallest of their counts, like a tariff that counts
// them together.
func combinedLimits(t *testing.T, sim http.Handler) http.Handler {
	links := map[string]bool{"find-hyperlinks": true, "find-modified": true, "block-on-control/changed": true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/limits" {
			sim.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, r)
		var in, out []struct {
			Title string   `json:"title"`
			Value int      `json:"value"`
			Names []string `json:"names"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &in) != nil {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		joined := -1
		for _, l := range in {
			if len(l.Names) == 1 && links[l.Names[0]] {
				if joined < 0 {
					joined = len(out)
					out = append(out, l)
					out[joined].Title, out[joined].Names = "Ссылки и контроль", nil
				}
				out[joined].Names = append(out[joined].Names, l.Names[0])
				out[joined].Value = min(out[joined].Value, l.Value)
				continue
			}
			out = append(out, l)
		}
		body, err := json.Marshal(out)
		if err != nil {
			t.Errorf("combinedLimits: %v", err)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

func (e *splitEnv) sync(t *testing.T) {
	t.Helper()
	cred, _ := e.Deps.Tenants.Load().Credential("garant-test")
	must(t, e.Deps.Garant.SyncLimits(context.Background(), cred))
}

// linksRow is one links quota of GET /v1/quotas.
type linksRow struct {
	Family, Scope, Source string
	Remaining             int64
}

// linksQuotas is alpha's monthly links quotas as GET /v1/quotas shows them.
func (e *splitEnv) linksQuotas(t *testing.T) []linksRow {
	t.Helper()
	status, _, body := send(t, e.Server, "GET", "/v1/quotas", keyAlpha, nil)
	if status != 200 {
		t.Fatalf("GET /v1/quotas = %d %s", status, body)
	}
	var out struct {
		Quotas []struct {
			linksRow
			Period string
		}
	}
	must(t, json.Unmarshal(body, &out))
	var rows []linksRow
	for _, q := range out.Quotas {
		if q.Period == string(quota.PeriodMonth) && q.Family != quota.FamilyRate {
			rows = append(rows, q.linksRow)
		}
	}
	return rows
}

// remainingGauges is gateway_quota_remaining of the credential's and
// alpha's links families: "family scope" → value.
func (e *splitEnv) remainingGauges(t *testing.T) map[string]float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	must(t, err)
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "gateway_quota_remaining" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["period"] == string(quota.PeriodMonth) {
				got[l["family"]+" "+l["scope"]] = m.GetGauge().GetValue()
			}
		}
	}
	return got
}

var (
	hyperlinksBody = map[string]any{"text": "статья 70 Трудового кодекса РФ", "baseUrl": "https://internet.garant.ru"}
	modifiedBody   = map[string]any{"topics": []int{garantsim.TopicAbolished}, "modDate": "2018-01-01"}
)

// TestGarantLinksCombined: when /v2/limits lists the three methods as one
// entry, they share links_control, lowered to Garant's count.
func TestGarantLinksCombined(t *testing.T) {
	env := newSplitEnv(t, true)
	must(t, env.sim.SetUsed(garantsim.DemoToken, "find-modified", 990))
	env.sync(t)
	if status, _, body := send(t, env.Server, "POST", "/v1/garant/hyperlinks", keyAlpha, hyperlinksBody); status != 200 {
		t.Fatalf("POST /v1/garant/hyperlinks = %d %s", status, body)
	}
	want := []linksRow{
		{quota.FamilyLinksControl, "credential", quota.SourceUpstream, 9},
		{quota.FamilyLinksControl, "tenant", quota.SourceConfig, 99},
	}
	if diff := cmp.Diff(want, env.linksQuotas(t)); diff != "" {
		t.Errorf("GET /v1/quotas (combined) mismatch (-want +got):\n%s", diff)
	}
	wantGauges := map[string]float64{quota.FamilyLinksControl + " credential": 9, quota.FamilyLinksControl + " tenant": 99}
	if diff := cmp.Diff(wantGauges, env.remainingGauges(t)); diff != "" {
		t.Errorf("gateway_quota_remaining (combined) mismatch (-want +got):\n%s", diff)
	}
}

// TestGarantLinksSplit: after a sync that sees the three methods listed
// separately, each is metered in its own family with Garant's count; /v1/quotas
// and the gauges show them; a 423 on find-modified spends only find-modified,
// on every replica.
func TestGarantLinksSplit(t *testing.T) {
	env := newSplitEnv(t, false)
	before := []linksRow{
		{quota.FamilyLinksControl, "credential", quota.SourceConfig, 1000},
		{quota.FamilyLinksControl, "tenant", quota.SourceConfig, 100},
	}
	if diff := cmp.Diff(before, env.linksQuotas(t)); diff != "" {
		t.Errorf("GET /v1/quotas (never synced: combined) mismatch (-want +got):\n%s", diff)
	}
	for name, used := range map[string]int{"find-hyperlinks": 900, "find-modified": 990, "block-on-control/changed": 1} {
		must(t, env.sim.SetUsed(garantsim.DemoToken, name, used))
	}
	env.sync(t)
	want := []linksRow{
		{quota.FamilyLinksControl, "tenant", quota.SourceConfig, 100},
		{quota.FamilyBlocksChanged, "credential", quota.SourceUpstream, 999},
		{quota.FamilyFindHyperlinks, "credential", quota.SourceUpstream, 100},
		{quota.FamilyFindModified, "credential", quota.SourceUpstream, 10},
	}
	if diff := cmp.Diff(want, env.linksQuotas(t)); diff != "" {
		t.Errorf("GET /v1/quotas (split) mismatch (-want +got):\n%s", diff)
	}
	wantGauges := map[string]float64{quota.FamilyLinksControl + " tenant": 100, quota.FamilyBlocksChanged + " credential": 999,
		quota.FamilyFindHyperlinks + " credential": 100, quota.FamilyFindModified + " credential": 10}
	if diff := cmp.Diff(wantGauges, env.remainingGauges(t)); diff != "" {
		t.Errorf("gateway_quota_remaining (split) mismatch (-want +got):\n%s", diff)
	}

	// Garant spends find-modified: its 423 spends find-modified only.
	must(t, env.sim.SetUsed(garantsim.DemoToken, "find-modified", 1000))
	status, h, body := send(t, env.Server, "POST", "/v1/garant/monitoring/documents", keyAlpha, modifiedBody)
	p := problemOf(t, status, h, body)
	var ext map[string]any
	must(t, json.Unmarshal(body, &ext))
	if status != 429 || ext["family"] != quota.FamilyFindModified || ext["scope"] != "credential" {
		t.Fatalf("find-modified after Garant's 423 = %d %+v (family %v, scope %v), want 429, %s, credential", status, p, ext["family"], ext["scope"], quota.FamilyFindModified)
	}
	if status, _, body := send(t, env.Server, "POST", "/v1/garant/hyperlinks", keyAlpha, hyperlinksBody); status != 200 {
		t.Fatalf("find-hyperlinks after find-modified's 423 = %d %s, want 200", status, body)
	}
	want[0].Remaining, want[2].Remaining, want[3].Remaining = 99, 99, 0 // the 423's unit was refunded
	if diff := cmp.Diff(want, env.linksQuotas(t)); diff != "" {
		t.Errorf("GET /v1/quotas (after the 423) mismatch (-want +got):\n%s", diff)
	}

	// Another replica (its own engine) knows from Redis.
	replica := splitReplica(t, env)
	calls := env.sim.Kit.Calls.Get("POST /v2/find-modified")
	if status, _, _ := send(t, replica, "POST", "/v1/garant/monitoring/documents", keyAlpha, modifiedBody); status != 429 {
		t.Errorf("find-modified on a replica = %d, want 429", status)
	}
	if got := env.sim.Kit.Calls.Get("POST /v2/find-modified"); got != calls {
		t.Errorf("find-modified on a replica called Garant %d times, want 0", got-calls)
	}
	text := map[string]any{"text": "статья 81 Трудового кодекса РФ", "baseUrl": "https://internet.garant.ru"} // not cached
	if status, _, body := send(t, replica, "POST", "/v1/garant/hyperlinks", keyAlpha, text); status != 200 {
		t.Errorf("find-hyperlinks on a replica = %d %s, want 200", status, body)
	}
}

// TestGarantLinks423BeforeSplit: a 423 on find-modified before any sync
// spends the combined family, but the sync that follows it finds the
// methods listed separately: find-hyperlinks goes on.
func TestGarantLinks423BeforeSplit(t *testing.T) {
	env := newSplitEnv(t, false)
	must(t, env.sim.SetUsed(garantsim.DemoToken, "find-modified", 1000))
	status, h, body := send(t, env.Server, "POST", "/v1/garant/monitoring/documents", keyAlpha, modifiedBody)
	var ext map[string]any
	must(t, json.Unmarshal(body, &ext))
	if status != 429 || ext["family"] != quota.FamilyFindModified {
		t.Fatalf("find-modified with Garant's quota spent = %d %+v, want 429 for %s", status, problemOf(t, status, h, body), quota.FamilyFindModified)
	}
	if status, _, body := send(t, env.Server, "POST", "/v1/garant/hyperlinks", keyAlpha, hyperlinksBody); status != 200 {
		t.Errorf("find-hyperlinks after find-modified's 423 = %d %s, want 200", status, body)
	}
}

// splitReplica is one more gateway instance on the same Redis and simulator,
// with its own quota engine.
func splitReplica(t *testing.T, env *splitEnv) *httptest.Server {
	t.Helper()
	d := *env.Deps
	d.Registry = metrics.NewRegistry()
	d.HTTP = metrics.NewHTTP(d.Registry)
	d.Quotas = &usage.Reports{Quota: linksQuota(t, &d, nil)}
	d.Garant = garantDeps(t, d.Redis, d.Registry, env.simURL)
	d.Garant.Quota = d.Quotas.Quota
	h, err := handlers.NewServer(&d)
	must(t, err)
	srv := serveChecked(t, h)
	return srv
}
