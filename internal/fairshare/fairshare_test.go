package fairshare_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/fairshare"
	"github.com/legalgate/legalgate/internal/redistest"
)

func newLimiter(t testing.TB, rdb redis.UniversalClient, cfg fairshare.Config) (*fairshare.Limiter, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	l, err := fairshare.New(rdb, cfg, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return l, reg
}

// refused checks err is a refusal of kind by limit, with a Retry-After.
func refused(t *testing.T, err error, kind apperr.Kind, limit string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != kind || e.Extensions["limit"] != limit || e.RetryAfter < time.Second {
		t.Fatalf("Admit() = %v (%+v), want a %s refusal naming %s with a Retry-After", err, e, kind, limit)
	}
}

func admit(t *testing.T, l *fairshare.Limiter, r fairshare.Request) func() {
	t.Helper()
	release, err := l.Admit(context.Background(), r)
	if err != nil {
		t.Fatalf("Admit(%+v) = %v, want admitted", r, err)
	}
	return release
}

func TestLongPollCaps(t *testing.T) {
	l, reg := newLimiter(t, nil, fairshare.Config{Default: fairshare.Limits{LongPolls: 2}, LongPolls: 3})
	poll := func(tenant string) fairshare.Request {
		return fairshare.Request{Class: fairshare.LongPoll, Tenant: tenant}
	}
	a1 := admit(t, l, poll("alpha"))
	admit(t, l, poll("alpha"))
	_, err := l.Admit(context.Background(), poll("alpha"))
	refused(t, err, apperr.QuotaExceeded, fairshare.LimitLongPollsPerTenant)
	admit(t, l, poll("beta")) // alpha's cap is alpha's alone
	_, err = l.Admit(context.Background(), poll("beta"))
	refused(t, err, apperr.Unavailable, fairshare.LimitLongPollsGlobal)

	a1()
	a1() // a second release counts nothing
	admit(t, l, poll("beta"))
	_, err = l.Admit(context.Background(), poll("alpha"))
	refused(t, err, apperr.Unavailable, fairshare.LimitLongPollsGlobal)

	want := `
# HELP gateway_fair_long_polls Long polls open on this replica, by tenant.
# TYPE gateway_fair_long_polls gauge
gateway_fair_long_polls{tenant="alpha"} 1
gateway_fair_long_polls{tenant="beta"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gateway_fair_long_polls"); err != nil {
		t.Error(err)
	}
	want = `
# HELP gateway_fair_refused_total Requests refused by a fair-share cap or rate, by the limit's configuration key.
# TYPE gateway_fair_refused_total counter
gateway_fair_refused_total{limit="fairness.long_polls.global",tenant="alpha"} 1
gateway_fair_refused_total{limit="fairness.long_polls.global",tenant="beta"} 1
gateway_fair_refused_total{limit="fairness.long_polls.per_tenant",tenant="alpha"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gateway_fair_refused_total"); err != nil {
		t.Error(err)
	}
}

func TestCallCaps(t *testing.T) {
	l, _ := newLimiter(t, nil, fairshare.Config{Default: fairshare.Limits{UpstreamCalls: 2}, CredentialCalls: 3,
		Tenants: map[string]fairshare.Limits{"batch": {UpstreamCalls: 5}}})
	call := func(tenant, cred string) fairshare.Request {
		return fairshare.Request{Class: fairshare.Call, Tenant: tenant, Upstream: "garant", Credential: cred}
	}
	admit(t, l, call("alpha", "g1"))
	admit(t, l, call("alpha", "g1"))
	_, err := l.Admit(context.Background(), call("alpha", "g1"))
	refused(t, err, apperr.QuotaExceeded, fairshare.LimitCallsPerTenant)
	if e, _ := apperr.As(err); e.Upstream != "garant" || e.Extensions["scope"] != "tenant" || e.Extensions["max"] != 2 {
		t.Errorf("refusal = %+v, want upstream garant, scope tenant, max 2", e)
	}
	admit(t, l, call("alpha", "g2")) // another credential: another count
	admit(t, l, call("beta", "g1"))
	_, err = l.Admit(context.Background(), call("beta", "g1"))
	refused(t, err, apperr.Unavailable, fairshare.LimitCallsPerCredential)

	// A tenant's own limits replace the default.
	for range 3 {
		admit(t, l, call("batch", "g3"))
	}
	_, err = l.Admit(context.Background(), call("batch", "g3"))
	refused(t, err, apperr.Unavailable, fairshare.LimitCallsPerCredential)
}

// TestConcurrentAdmissions: however many ask at once, no more than the cap
// are admitted, and every release frees its slot.
func TestConcurrentAdmissions(t *testing.T) {
	l, _ := newLimiter(t, nil, fairshare.Config{Default: fairshare.Limits{UpstreamCalls: 7}})
	var (
		mu              sync.Mutex
		held, most, got int
		wg              sync.WaitGroup
	)
	start := make(chan struct{})
	for range 200 {
		wg.Go(func() {
			<-start
			release, err := l.Admit(context.Background(), fairshare.Request{Class: fairshare.Call, Tenant: "a", Upstream: "fips", Credential: "f"})
			if err != nil {
				return
			}
			mu.Lock()
			held++
			got++
			most = max(most, held)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			held--
			mu.Unlock()
			release()
		})
	}
	close(start)
	wg.Wait()
	if most > 7 || got < 7 {
		t.Errorf("at most %d held at once, %d admitted in all; want at most 7 at once and at least 7 in all", most, got)
	}
	for range 7 {
		admit(t, l, fairshare.Request{Class: fairshare.Call, Tenant: "a", Upstream: "fips", Credential: "f"})
	}
}

// TestRateAcrossReplicas: two limiters on one Redis share a tenant's rate
// of unmetered calls; metered calls and other tenants are not held to it.
func TestRateAcrossReplicas(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	cfg := fairshare.Config{Default: fairshare.Limits{Rates: map[string]fairshare.Rate{"garant": {PerSecond: 1, Burst: 2}}}}
	l1, _ := newLimiter(t, rdb, cfg)
	l2, _ := newLimiter(t, rdb, cfg)
	free := func(tenant string) fairshare.Request {
		return fairshare.Request{Class: fairshare.FreeCall, Tenant: tenant, Upstream: "garant", Credential: "g"}
	}
	admit(t, l1, free("alpha"))()
	admit(t, l2, free("alpha"))()
	release, err := l1.Admit(context.Background(), free("alpha"))
	refused(t, err, apperr.QuotaExceeded, fairshare.LimitRate+".garant")
	if release != nil {
		t.Error("a refused Admit returned a release")
	}
	if e, _ := apperr.As(err); e.Type != fairshare.TypeRate || e.RetryAfter > 2*time.Second {
		t.Errorf("refusal = %+v, want type %s and a Retry-After of 1s (the next unit in ~1s)", e, fairshare.TypeRate)
	}
	admit(t, l2, free("beta"))
	admit(t, l2, fairshare.Request{Class: fairshare.Call, Tenant: "alpha", Upstream: "garant", Credential: "g"})
	admit(t, l2, fairshare.Request{Class: fairshare.FreeCall, Tenant: "alpha", Upstream: "fips", Credential: "f"}) // no fips rate
	if keys, err := rdb.Keys(context.Background(), "rate:fair:*").Result(); err != nil || len(keys) != 2 {
		t.Errorf("Redis keys = %v, %v; want rate:fair:alpha:garant and rate:fair:beta:garant", keys, err)
	}

	// A refused rate call holds no call slot.
	l3, _ := newLimiter(t, rdb, fairshare.Config{Default: fairshare.Limits{UpstreamCalls: 1, Rates: cfg.Default.Rates}})
	for range 3 {
		if _, err := l3.Admit(context.Background(), free("alpha")); apperr.KindOf(err) != apperr.QuotaExceeded {
			t.Fatalf("Admit() = %v, want the rate's refusal", err)
		}
	}
	admit(t, l3, fairshare.Request{Class: fairshare.Call, Tenant: "alpha", Upstream: "garant", Credential: "g"})
}

// TestRateWithoutRedis: while Redis does not answer, a tenant's rate is
// counted in process; it never fails open.
func TestRateWithoutRedis(t *testing.T) {
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	rs.Stop()
	l, reg := newLimiter(t, rdb, fairshare.Config{Timeout: 50 * time.Millisecond,
		Default: fairshare.Limits{Rates: map[string]fairshare.Rate{"fips": {PerSecond: 1, Burst: 2}}}})
	free := fairshare.Request{Class: fairshare.FreeCall, Tenant: "alpha", Upstream: "fips", Credential: "f"}
	admit(t, l, free)
	admit(t, l, free)
	_, err := l.Admit(context.Background(), free)
	refused(t, err, apperr.QuotaExceeded, fairshare.LimitRate+".fips")
	want := `
# HELP gateway_fair_rate_fallbacks_total Fair-share rate checks counted in process because Redis did not answer.
# TYPE gateway_fair_rate_fallbacks_total counter
gateway_fair_rate_fallbacks_total{upstream="fips"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gateway_fair_rate_fallbacks_total"); err != nil {
		t.Error(err)
	}
}

func TestNilLimiterAdmitsEverything(t *testing.T) {
	var l *fairshare.Limiter
	release, err := l.Admit(context.Background(), fairshare.Request{Class: fairshare.LongPoll, Tenant: "a"})
	if err != nil || release == nil {
		t.Fatalf("(*Limiter)(nil).Admit() = release %t, %v; want a no-op release", release != nil, err)
	}
	release()
}

func TestMetricsLint(t *testing.T) {
	l, reg := newLimiter(t, nil, fairshare.Config{Default: fairshare.Limits{LongPolls: 1, UpstreamCalls: 1}})
	admit(t, l, fairshare.Request{Class: fairshare.LongPoll, Tenant: "a"})
	admit(t, l, fairshare.Request{Class: fairshare.Call, Tenant: "a", Upstream: "garant", Credential: "g"})
	_, _ = l.Admit(context.Background(), fairshare.Request{Class: fairshare.LongPoll, Tenant: "a"})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := promlint.NewWithMetricFamilies(mfs).Lint(); err != nil || len(problems) > 0 {
		t.Errorf("promlint = %v, %v", problems, err)
	}
}

// TestSetConfig: a reload lowers a cap below what is held: the requests
// admitted keep their slots, new ones are refused until enough are
// answered; raising it admits again at once.
func TestSetConfig(t *testing.T) {
	l, _ := newLimiter(t, nil, fairshare.Config{Default: fairshare.Limits{UpstreamCalls: 3}})
	call := fairshare.Request{Class: fairshare.Call, Tenant: "alpha", Upstream: "garant", Credential: "g1"}
	first := admit(t, l, call)
	admit(t, l, call)
	l.SetConfig(fairshare.Config{Default: fairshare.Limits{UpstreamCalls: 1}})
	_, err := l.Admit(context.Background(), call)
	refused(t, err, apperr.QuotaExceeded, fairshare.LimitCallsPerTenant)
	first()
	_, err = l.Admit(context.Background(), call)
	refused(t, err, apperr.QuotaExceeded, fairshare.LimitCallsPerTenant) // one still held, the cap is 1
	l.SetConfig(fairshare.Config{Default: fairshare.Limits{UpstreamCalls: 2}})
	admit(t, l, call)
}
