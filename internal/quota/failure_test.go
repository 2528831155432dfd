package quota

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/redistest"
)

func TestRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t)), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	rules := sharedRules()
	e := newEngine(t, rdb, Config{Rules: rules, Timeout: 200 * time.Millisecond})
	_, err := e.Reserve(ctxT(t), alphaExport)
	if got := apperr.KindOf(err); got != apperr.Unavailable {
		t.Errorf("Reserve(fail closed) = %v, want kind %v", err, apperr.Unavailable)
	}
	open := newEngine(t, rdb, Config{Rules: rules, FailOpen: map[string]bool{"garant/export": true}})
	res, err := open.Reserve(ctxT(t), alphaExport)
	if err != nil {
		t.Fatalf("Reserve(fail open) = %v, want nil", err)
	}
	if got := res.Headers(); len(got) != 0 {
		t.Errorf("Reserve(fail open).Headers() = %v, want none", got)
	}
	if err := res.Refund(ctxT(t)); err != nil {
		t.Errorf("Refund(fail open) = %v, want nil", err)
	}
	// The admin paths say the store is unavailable, so callers answer 503.
	for name, f := range map[string]func() error{
		"Usage": func() error {
			_, err := e.Usage(ctxT(t), "alpha", map[string]string{"garant": "main"})
			return err
		},
		"MarkExhausted": func() error {
			_, err := e.MarkExhausted(ctxT(t), alphaExport)
			return err
		},
		"SyncRemaining": func() error { return e.SyncRemaining(ctxT(t), "main", "garant", FamilyExport, 3) },
	} {
		if err := f(); apperr.KindOf(err) != apperr.Unavailable {
			t.Errorf("%s(Redis down) = %v, want kind %v", name, err, apperr.Unavailable)
		}
	}
}

func TestUnmeteredNoRedis(t *testing.T) {
	hook := &roundTrips{}
	rdb := redistest.Start(t).Client(t)
	rdb.AddHook(hook)
	e := newEngine(t, rdb, Config{Rules: sharedRules()})
	for _, r := range []Request{
		{Tenant: "alpha", Credential: "main", Upstream: "garant", Operation: "garantSearch"},
		{Tenant: "alpha", Credential: "k1", Upstream: "fips", Operation: "fipsGetStatus"},
	} {
		res, err := e.Reserve(ctxT(t), r)
		if err != nil {
			t.Fatalf("Reserve(%s) = %v, want nil", r.Operation, err)
		}
		if got := res.Headers(); len(got) != 0 {
			t.Errorf("Reserve(%s).Headers() = %v, want none", r.Operation, got)
		}
		if err := res.Refund(ctxT(t)); err != nil {
			t.Errorf("Refund(%s) = %v, want nil", r.Operation, err)
		}
	}
	if got := hook.n.Load(); got != 0 {
		t.Errorf("Redis round trips for unmetered operations = %d, want 0", got)
	}
}

func TestLocalCacheSkipsRedis(t *testing.T) {
	hook := &roundTrips{}
	rdb := redistest.Start(t).Client(t)
	rdb.AddHook(hook)
	clk := newClock(feb1())
	e := newEngine(t, rdb, Config{Rules: sharedRules(), Now: clk.Now, LocalCacheMax: time.Hour})
	mustReserve(t, e, alphaExport, 10)
	if _, err := e.Reserve(ctxT(t), alphaExport); err == nil {
		t.Fatalf("Reserve(alpha #11) = nil, want a rejection")
	}
	before := hook.n.Load()
	_, err := e.Reserve(ctxT(t), alphaExport)
	rejected(t, "Reserve(alpha #12)", err)
	if got := hook.n.Load() - before; got != 0 {
		t.Errorf("Reserve(alpha #12) round trips = %d, want 0 (known exhausted)", got)
	}
	mustReserve(t, e, betaExport, 1) // beta is not exhausted
	clk.Set(feb1().Add(time.Hour))   // LocalCacheMax passed: ask Redis again
	before = hook.n.Load()
	_, err = e.Reserve(ctxT(t), alphaExport)
	rejected(t, "Reserve(alpha, an hour later)", err)
	if got := hook.n.Load() - before; got != 1 {
		t.Errorf("Reserve(alpha, an hour later) round trips = %d, want 1", got)
	}
}

// TestRateLimitWaits runs on injected clocks, so nothing depends on where
// the real second boundary falls or on how fast the machine is.
func TestRateLimitWaits(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	rules := []Rule{credRule("garant", FamilyRate, PeriodSecond, 2)}
	search := Request{Tenant: "alpha", Credential: "main", Upstream: "garant", Operation: "garantSearch"}

	// A stopped clock: the three calls share one second.
	noWait := newEngine(t, rdb, Config{Rules: rules, RateWait: -1, Jitter: -1, Now: newClock(feb1()).Now})
	mustReserve(t, noWait, search, 2)
	_, err := noWait.Reserve(ctxT(t), search)
	ae := rejected(t, "Reserve(third in a second, no wait)", err)
	if diff := cmp.Diff([]string{"garant.rate.second.credential"}, ae.Extensions["violated-policies"]); diff != "" {
		t.Errorf("Reserve(third).violated-policies mismatch (-want +got):\n%s", diff)
	}

	// A running clock that starts at the beginning of a second (a day later,
	// so the stopped clock's keys do not count): the third call waits for
	// the next second and passes there. Ordering, not elapsed time, is
	// asserted: however slow the machine, the third unit is never counted
	// in the first second.
	start, base := time.Now(), feb1().AddDate(0, 0, 1)
	now := func() time.Time { return base.Add(time.Since(start)) }
	e := newEngine(t, rdb, Config{Rules: rules, RateWait: 5 * time.Second, Now: now})
	mustReserve(t, e, search, 3)
	if got := now(); got.Before(base.Add(time.Second)) {
		t.Errorf("Reserve(third in a second) returned at %v, want it to wait for the next second (%v)", got, base.Add(time.Second))
	}
	r := rules[0]
	r.Owner = "main"
	first := e.newCheck(r, "main", 0, base).key
	if got, err := rdb.Get(ctxT(t), first).Int64(); err == nil && got > 2 { // the key may have expired already: nothing to check then
		t.Errorf("units counted in the first second = %d, want at most 2", got)
	}
}

func TestMetrics(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	reg := prometheus.NewRegistry()
	clk := newClock(feb1())
	accounts := []Account{{Tenant: "alpha", Credential: "main", Upstream: "garant"}, {Tenant: "beta", Credential: "main", Upstream: "garant"}}
	e, err := New(rdb, Config{Rules: sharedRules(), Now: clk.Now, Accounts: accounts}, reg)
	if err != nil {
		t.Fatalf("New() = %v, want nil", err)
	}
	res := mustReserve(t, e, alphaExport, 10)
	if err := res[0].Refund(ctxT(t)); err != nil {
		t.Fatalf("Refund() = %v, want nil", err)
	}
	mustReserve(t, e, alphaExport, 1)
	_, _ = e.Reserve(ctxT(t), alphaExport)

	got := gather(t, reg)
	// Each request counts once, under its tenant and credential: a sum over
	// any label is the units spent (the tenant and credential rules the
	// reservation counted in are not counted twice).
	const alpha = "credential=main family=export operation=garantExportTopic tenant=alpha upstream=garant"
	const beta = "credential=main family=export operation=garantExportTopic tenant=beta upstream=garant"
	rejectedBy := func(tenant, scope string) string {
		return "gateway_quota_rejected_total credential=main family=export operation=garantExportTopic scope=" + scope +
			" tenant=" + tenant + " upstream=garant"
	}
	want := map[string]float64{
		"gateway_quota_reserved_total " + alpha:                         11,
		"gateway_quota_refunded_total " + alpha:                         1,
		rejectedBy("alpha", "tenant"):                                   1,
		rejectedBy("alpha", "credential"):                               0, // pre-created: the first one counts in rate()
		"gateway_quota_reserved_total " + beta:                          0,
		"gateway_quota_refunded_total " + beta:                          0,
		rejectedBy("beta", "tenant"):                                    0,
		rejectedBy("beta", "credential"):                                0,
		"gateway_quota_unavailable_total family=export upstream=garant": 0,
		"gateway_quota_usage_errors_total upstream=garant":              0,
		"gateway_quota_resets_at_timestamp_seconds family=export owner=alpha period=month scope=tenant upstream=garant":       float64(feb1().AddDate(0, 1, 0).Unix()),
		"gateway_quota_period_start_timestamp_seconds family=export owner=main period=month scope=credential upstream=garant": float64(feb1().Unix()),
		"gateway_quota_used family=export owner=alpha period=month scope=tenant upstream=garant":                              10,
		"gateway_quota_used family=export owner=beta period=month scope=tenant upstream=garant":                               0,
		"gateway_quota_remaining family=export owner=beta period=month scope=tenant upstream=garant":                          25,
		"gateway_quota_remaining family=export owner=main period=month scope=credential upstream=garant":                      20,
		"gateway_quota_limit family=export owner=main period=month scope=credential upstream=garant":                          30,
	}
	checkMetrics(t, "after reserves", got, want)
	var sum float64
	for k, v := range got {
		if strings.HasPrefix(k, "gateway_quota_reserved_total ") {
			sum += v
		}
	}
	if sum != 11 {
		t.Errorf("sum(gateway_quota_reserved_total) = %v, want 11 (one per granted reservation)", sum)
	}

	// A replica that reserved nothing reports the same shared counts.
	replica := prometheus.NewRegistry()
	if _, err := New(rdb, Config{Rules: sharedRules(), Now: clk.Now, Accounts: accounts}, replica); err != nil {
		t.Fatalf("New(replica) = %v, want nil", err)
	}
	checkMetrics(t, "on an idle replica", gather(t, replica), map[string]float64{
		"gateway_quota_used family=export owner=alpha period=month scope=tenant upstream=garant":         10,
		"gateway_quota_remaining family=export owner=main period=month scope=credential upstream=garant": 20,
	})

	// The next month, without a single reserve, the gauges show the reset.
	clk.Set(feb1().AddDate(0, 1, 0))
	checkMetrics(t, "after the month reset", gather(t, reg), map[string]float64{
		"gateway_quota_used family=export owner=alpha period=month scope=tenant upstream=garant":         0,
		"gateway_quota_remaining family=export owner=main period=month scope=credential upstream=garant": 30,
	})
}

// TestMetricsRedisDown: a scrape with Redis down leaves the gauges out,
// counts the failure and still succeeds.
func TestMetricsRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t)), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	reg := prometheus.NewRegistry()
	accounts := []Account{{Tenant: "alpha", Credential: "main", Upstream: "garant"}}
	if _, err := New(rdb, Config{Rules: sharedRules(), Accounts: accounts, Timeout: 200 * time.Millisecond}, reg); err != nil {
		t.Fatalf("New() = %v, want nil", err)
	}
	got := gather(t, reg)
	for k := range got {
		if strings.HasPrefix(k, "gateway_quota_used") || strings.HasPrefix(k, "gateway_quota_limit") {
			t.Errorf("gauge %s reported with Redis down", k)
		}
	}
	// The registry gathers collectors concurrently: the counter shows the
	// first scrape's failure by the second scrape.
	if n := gather(t, reg)["gateway_quota_usage_errors_total upstream=garant"]; n < 1 {
		t.Errorf("gateway_quota_usage_errors_total{upstream=garant} = %v, want at least 1", n)
	}
}

// gather returns every series of reg as "name label=value ..." (labels
// sorted by name), after checking the registry passes promlint.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v, want nil", err)
	}
	if problems, err := promlint.NewWithMetricFamilies(mfs).Lint(); err != nil || len(problems) != 0 {
		t.Errorf("Lint() = %v, %v; want no problems", problems, err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return got
}

func checkMetrics(t *testing.T, when string, got, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: metric %s = %v (present %v), want %v", when, k, g, ok, v)
		}
	}
}

func TestNewRejectsBadRules(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = rdb.Close() })
	for _, rules := range [][]Rule{
		{{Scope: "team", Upstream: "garant", Family: "export", Period: PeriodMonth, Limit: 1}},
		{{Scope: ScopeTenant, Upstream: "garant", Family: "export", Period: "week", Limit: 1}},
		{credRule("garant", "export", PeriodMonth, -1)},
		{credRule("garant", "export", PeriodMonth, 1), credRule("garant", "export", PeriodMonth, 2)},
		{tenantRule("a{b}", "garant", "export", PeriodMonth, 1)},
	} {
		if _, err := New(rdb, Config{Rules: rules}, nil); err == nil {
			t.Errorf("New(%+v) = nil error, want one", rules)
		}
	}
}
