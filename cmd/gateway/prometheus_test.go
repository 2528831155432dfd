package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

// TestPrometheusAnswersWhoSpentAndWhen runs a real Prometheus (the Debian
// package; scripts/test.sh installs it) with deploy/alerts.yml, scraping two
// replicas of the gateway (one Redis) under traffic every second, and asks
// it, through its HTTP API, who spent the quotas and when they run out: the
// answers are the ledger and the forecasts of GET /v1/quotas/usage, once per
// quota however many replicas report it. Every query of the Grafana
// dashboard runs without error against it too, and its per-tenant spending
// table says what the ledger says.
func TestPrometheusAnswersWhoSpentAndWhen(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus is not installed: install the Debian package prometheus (scripts/test.sh does)")
	}
	rs := redistest.Start(t)
	sim := garantsim.New(garantsim.DefaultConfig())
	garant := httptest.NewServer(sim)
	t.Cleanup(garant.Close)
	cfg := fmt.Sprintf(`
redis: {url: %q}
credentials:
  garant-main:
    upstream: garant
    secret: demo-garant-token
    limits: [{family: export, period: month, limit: 30}, {family: topic_info, period: month, limit: 300}]
tenants:
  alpha:
    keys_sha256: [%s]
    admin: true
    credentials: {garant: garant-main}
    limits: [{upstream: garant, family: export, period: month, limit: 4}]
  beta:
    keys_sha256: [%s]
    credentials: {garant: garant-main}
upstreams:
  garant: {base_url: %q}
`, rs.URL(), config.HashKey("alpha-key"), config.HashKey("beta-key"), garant.URL)
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var bases, admins []string
	for range 2 {
		admin := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
		base, _ := startGateway(t, []string{"-config", path, "-admin-addr", admin}, nil)
		bases, admins = append(bases, base), append(admins, admin)
	}
	base := bases[0]
	prom := startPrometheus(t, bin, admins...)
	// Both replicas scraped before the traffic: their counters, at 0 from
	// start-up, are the base that increase() measures from.
	if up := prom.waitFor(t, `sum(up{job="legalgate"})`, func(r promResult) bool { return len(r) == 1 && r.value(0) == 2 }); len(up) != 1 || up.value(0) != 2 {
		t.Fatalf("sum(up) = %+v, want both replicas scraped", up)
	}

	// Traffic, spread over the replicas: alpha exports 5 documents (its
	// allocation is 4: one 429), beta exports 2 and reads 3 topics' info.
	calls := 0
	get := func(key, path string) int {
		calls++
		req, _ := http.NewRequest("GET", bases[calls%len(bases)]+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	topics := sim.Topics()
	codes := map[int]int{}
	for i := range 5 {
		codes[get("alpha-key", fmt.Sprintf("/v1/garant/topics/%d/export/pdf", topics[i]))]++
	}
	for i := 5; i < 7; i++ {
		codes[get("beta-key", fmt.Sprintf("/v1/garant/topics/%d/export/pdf", topics[i]))]++
	}
	for i := range 3 {
		codes[get("beta-key", fmt.Sprintf("/v1/garant/topics/%d", topics[i]))]++
	}
	if codes[200] != 9 || codes[429] != 1 {
		t.Fatalf("traffic answered %v, want 9 × 200 and 1 × 429", codes)
	}

	// The gateway's answer.
	var usage struct {
		Spending []struct {
			Tenant, Family            string
			Reserved, Refunded, Spent int64
			Rejected                  int64
		} `json:"spending"`
		Quotas []struct {
			Scope, Owner, Family, Period string
			Used, Remaining              int64
			PeriodStart                  time.Time  `json:"period_start"`
			ResetsAt                     time.Time  `json:"resets_at"`
			BurnRate                     float64    `json:"burn_rate_per_hour"`
			Exhaustion                   string     `json:"exhaustion"`
			ExhaustsAt                   *time.Time `json:"exhausts_at"`
		} `json:"quotas"`
	}
	req, _ := http.NewRequest("GET", base+"/v1/quotas/usage", nil)
	req.Header.Set("Authorization", "Bearer alpha-key")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(res.Body).Decode(&usage)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /v1/quotas/usage = %d, %v", res.StatusCode, err)
	}
	ledger := map[string][2]float64{} // tenant/family → spent, rejected
	for _, s := range usage.Spending {
		k := s.Tenant + "/" + s.Family
		v := ledger[k]
		ledger[k] = [2]float64{v[0] + float64(s.Spent), v[1] + float64(s.Rejected)}
	}
	want := map[string][2]float64{"alpha/export": {4, 1}, "beta/export": {2, 0}, "beta/topic_info": {3, 0}}
	for k, v := range want {
		if ledger[k] != v {
			t.Errorf("ledger %s = spent, rejected %v, want %v (all: %v)", k, ledger[k], v, ledger)
		}
	}

	// Who spent, according to Prometheus: the same.
	spent := prom.waitFor(t, `sum by (tenant, family) (gateway_quota_reserved_total) - sum by (tenant, family) (gateway_quota_refunded_total)`,
		func(r promResult) bool { return r.get("alpha", "export") == 4 && r.get("beta", "topic_info") == 3 })
	rejected := prom.waitFor(t, `sum by (tenant, family) (gateway_quota_rejected_total)`,
		func(r promResult) bool { return r.get("alpha", "export") == 1 })
	for k, v := range want {
		tenantID, family, _ := strings.Cut(k, "/")
		if got := [2]float64{spent.get(tenantID, family), rejected.get(tenantID, family)}; got != v {
			t.Errorf("Prometheus: %s spent, rejected %v, want %v as in the ledger", k, got, v)
		}
	}

	// When it runs out, according to Prometheus: the same as the API.
	for _, q := range usage.Quotas {
		if q.Period != "month" {
			continue
		}
		sel := fmt.Sprintf(`{scope=%q, owner=%q, family=%q, period="month"}`, q.Scope, q.Owner, q.Family)
		// The replicas read the gauges from Redis at most every
		// quota.usage_refresh (5 s): wait for the traffic's counts, one
		// series per quota from the two replicas (until both have read
		// them, max takes used from one and remaining from the other).
		for name, want := range map[string]int64{"used": q.Used, "remaining": q.Remaining} {
			got := prom.waitFor(t, "legalgate_quota:"+name+":max"+sel, func(r promResult) bool { return len(r) == 1 && r.value(0) == float64(want) })
			if v := got.only(t); v != float64(want) {
				t.Errorf("%s: %s in Prometheus %v, in the API %d", sel, name, v, want)
			}
		}
		resets := prom.waitFor(t, "legalgate_quota:resets_at:max"+sel, func(r promResult) bool { return len(r) == 1 })
		if got := resets.only(t); got != float64(q.ResetsAt.Unix()) {
			t.Errorf("%s: resets_at in Prometheus %v, in the API %v", sel, got, q.ResetsAt)
		}
		near := func(r promResult) bool { return len(r) == 1 && math.Abs(r.value(0)*3600-q.BurnRate) <= 0.01*q.BurnRate }
		rate := prom.waitFor(t, "legalgate_quota:burn_rate:per_second"+sel, near).only(t) * 3600
		if math.Abs(rate-q.BurnRate) > 0.01*q.BurnRate {
			t.Errorf("%s: burn rate in Prometheus %v/h, in the API %v/h", sel, rate, q.BurnRate)
		}
		// Evaluated from those (rule evaluations come every second).
		at := prom.waitFor(t, "legalgate_quota:exhaustion_timestamp_seconds"+sel, func(r promResult) bool {
			return len(r) == 1 && (q.ExhaustsAt == nil || math.Abs(r.value(0)-float64(q.ExhaustsAt.Unix())) <= 60)
		}).only(t)
		t.Logf("%s: API %s at %v (%.4f/h); Prometheus runs out at %v (%.4f/h)", sel, q.Exhaustion, q.ExhaustsAt, q.BurnRate,
			time.Unix(int64(at), 0).In(q.ResetsAt.Location()), rate)
		switch q.Exhaustion {
		case "before_reset":
			if q.ExhaustsAt == nil || math.Abs(at-float64(q.ExhaustsAt.Unix())) > 60 {
				t.Errorf("%s: runs out in Prometheus at %v, in the API at %v", sel, time.Unix(int64(at), 0), q.ExhaustsAt)
			}
			// The alert is pending (it fires after 30 minutes) when the
			// quota runs out earlier than the margin before its reset.
			early := q.ResetsAt.Sub(*q.ExhaustsAt) - q.ResetsAt.Sub(q.PeriodStart)/5
			if early.Abs() > 5*time.Minute {
				alerts := prom.waitFor(t, "ALERTS"+strings.Replace(sel, "{", `{alertname="QuotaRunsOutBeforeReset", alertstate="pending", `, 1),
					func(r promResult) bool { return (len(r) == 1) == (early > 0) })
				if (len(alerts) == 1) != (early > 0) {
					t.Errorf("%s runs out %v before its reset: QuotaRunsOutBeforeReset pending = %v, want %v", sel, q.ResetsAt.Sub(*q.ExhaustsAt), len(alerts) == 1, early > 0)
				}
			}
		case "not_before_reset":
			if at < float64(q.ResetsAt.Unix()) {
				t.Errorf("%s: runs out in Prometheus at %v, before its reset; the API says not before", sel, time.Unix(int64(at), 0))
			}
		case "spent":
			if q.Remaining != 0 || at > float64(time.Now().Unix()+60) {
				t.Errorf("%s: spent in the API (remaining %d), runs out in Prometheus at %v", sel, q.Remaining, time.Unix(int64(at), 0))
			}
		}
	}
	// alpha's allocation is spent: QuotaSpent is pending.
	prom.waitFor(t, `ALERTS{alertname="QuotaSpent", owner="alpha", family="export"}`, func(r promResult) bool { return len(r) == 1 })

	// Every query of the dashboard is valid PromQL here, and the quota
	// panels have data. The per-tenant spending table sums the replicas'
	// counters to the ledger's figures: increase() extrapolates up to a
	// scrape interval past the last scrape (the panel shows whole units),
	// so within 25 %, where counting a replica twice or missing one is 2×
	// or about ½.
	spending := 0
	for _, expr := range dashboardQueries(t) {
		r := prom.query(t, expr)
		if strings.Contains(expr, "legalgate_quota:used:max") && len(r) == 0 {
			t.Errorf("dashboard query %s has no data", expr)
		}
		if !strings.Contains(expr, "increase(gateway_quota_reserved_total") {
			continue
		}
		spending++
		for k, v := range want {
			tenantID, family, _ := strings.Cut(k, "/")
			if got := r.get(tenantID, family); math.Abs(got-v[0]) > 0.25*v[0] {
				t.Errorf("dashboard: %s spent %v in the time range, want %v as in the ledger (%s)", k, got, v[0], expr)
			}
		}
	}
	if spending == 0 {
		t.Errorf("the dashboard has no per-tenant spending query over increase(gateway_quota_reserved_total)")
	}
}

// promServer is a running Prometheus.
type promServer struct{ url string }

// startPrometheus runs Prometheus with deploy/alerts.yml, scraping targets
// and evaluating rules every second, until the test ends.
func startPrometheus(t *testing.T, bin string, targets ...string) *promServer {
	t.Helper()
	quoted, err := json.Marshal(targets)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rules, err := filepath.Abs("../../deploy/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: legalgate
    metrics_path: /metrics
    static_configs: [{targets: %s}]
`, rules, quoted)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	p := &promServer{url: "http://" + addr}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(p.url + "/-/ready"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("prometheus not ready within 20s:\n%s", out.String())
	return nil
}

// promResult is an instant vector: each sample's labels and value.
type promResult []struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (r promResult) value(i int) float64 {
	s, _ := r[i].Value[1].(string)
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

// get is the value of the sample of tenant and family, 0 if none.
func (r promResult) get(tenantID, family string) float64 {
	for i, s := range r {
		if s.Metric["tenant"] == tenantID && s.Metric["family"] == family {
			return r.value(i)
		}
	}
	return 0
}

func (r promResult) only(t *testing.T) float64 {
	t.Helper()
	if len(r) != 1 {
		t.Fatalf("want one sample, got %d: %+v", len(r), r)
	}
	return r.value(0)
}

// query runs an instant query; an error of Prometheus fails the test.
func (p *promServer) query(t *testing.T, expr string) promResult {
	t.Helper()
	res, err := http.Get(p.url + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query %s: %v %s", expr, err, body.Error)
	}
	var r promResult
	if body.Data.ResultType == "vector" {
		if err := json.Unmarshal(body.Data.Result, &r); err != nil {
			t.Fatalf("query %s: %v", expr, err)
		}
	}
	return r
}

// waitFor queries expr until ok holds (scrapes and rule evaluations come
// every second), for at most 20 s, and returns the last result.
func (p *promServer) waitFor(t *testing.T, expr string, ok func(promResult) bool) promResult {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := p.query(t, expr)
		if ok(r) || time.Now().After(deadline) {
			return r
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// dashboardQueries returns every query of the Grafana dashboard with its
// variables set to "all".
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/grafana/dashboards/legalgate.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`\$[a-z_]+`)
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, vars.ReplaceAllStringFunc(tg.Expr, func(v string) string {
				if v == "$__range" {
					return "1h"
				}
				return ".*"
			}))
		}
	}
	if len(out) < 10 {
		t.Fatalf("the dashboard has %d queries, want its panels' queries", len(out))
	}
	return out
}
