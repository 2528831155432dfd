package quota

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/redistest"
)

// feb1 is the first instant of February 2026 in Moscow; the month has 28 days.
func feb1() time.Time { return time.Date(2026, 2, 1, 0, 0, 0, 0, moscow()) }

// sharedRules: credential main has 30 exports a month; alpha gets 10 of
// them, every other tenant 25.
func sharedRules() []Rule {
	return []Rule{
		credRule("garant", FamilyExport, PeriodMonth, 30),
		tenantRule("alpha", "garant", FamilyExport, PeriodMonth, 10),
		tenantRule("", "garant", FamilyExport, PeriodMonth, 25),
	}
}

func TestSharedCredentialTwoTenants(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	e := newEngine(t, rdb, Config{Rules: sharedRules(), Now: newClock(feb1()).Now, Jitter: -1})

	mustReserve(t, e, alphaExport, 10)
	_, err := e.Reserve(ctxT(t), alphaExport)
	ae := rejected(t, "Reserve(alpha #11)", err)
	want := map[string]any{"violated-policies": []string{"garant.export.month.tenant"}, "scope": "tenant",
		"family": "export", "resets_at": "2026-03-01T00:00:00+03:00"}
	if diff := cmp.Diff(want, ae.Extensions); diff != "" {
		t.Errorf("Reserve(alpha #11).Extensions mismatch (-want +got):\n%s", diff)
	}
	if got, want := ae.RetryAfter, 28*24*time.Hour; got != want {
		t.Errorf("Reserve(alpha #11).RetryAfter = %v, want %v", got, want)
	}

	mustReserve(t, e, betaExport, 20)
	_, err = e.Reserve(ctxT(t), betaExport)
	ae = rejected(t, "Reserve(beta #21)", err)
	if got, want := ae.Extensions["scope"], "credential"; got != want {
		t.Errorf("Reserve(beta #21) scope = %v, want %v (beta's 25 are not used up, the account's 30 are)", got, want)
	}

	got, err := e.Usage(ctxT(t), "beta", map[string]string{"garant": "main"})
	if err != nil {
		t.Fatalf("Usage(beta) = %v, want nil", err)
	}
	reset := time.Date(2026, 3, 1, 0, 0, 0, 0, moscow())
	// At the very start of the month the burn rate is averaged over a
	// tenth of it (2.8 days, 67.2 h): beta's 20 units are 20/67.2 an hour,
	// so its 5 left last 16.8 h more.
	wantUsage := []Usage{
		{Upstream: "garant", Family: "export", Scope: ScopeCredential, Owner: "main", Credential: "main", Period: PeriodMonth,
			Limit: 30, Used: 30, Remaining: 0, PeriodStart: feb1(), ResetsAt: reset, Source: SourceConfig,
			Forecast: Forecast{BurnRate: 30 / 67.2, Exhaustion: Spent}},
		{Upstream: "garant", Family: "export", Scope: ScopeTenant, Owner: "beta", Credential: "main", Period: PeriodMonth,
			Limit: 25, Used: 20, Remaining: 5, PeriodStart: feb1(), ResetsAt: reset, Source: SourceConfig,
			Forecast: Forecast{BurnRate: 20 / 67.2, Exhaustion: BeforeReset, ExhaustsAt: feb1().Add(16*time.Hour + 48*time.Minute)}},
	}
	if diff := cmp.Diff(wantUsage, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("Usage(beta) mismatch (-want +got):\n%s", diff)
	}
}

func TestRefund(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	e := newEngine(t, rdb, Config{Rules: sharedRules(), Now: newClock(feb1()).Now})
	res := mustReserve(t, e, alphaExport, 10)
	if _, err := e.Reserve(ctxT(t), alphaExport); err == nil {
		t.Fatalf("Reserve(alpha #11) = nil, want a rejection")
	}
	// The rejection is now cached locally; the refund must clear it.
	for range 2 { // idempotent
		if err := res[0].Refund(ctxT(t)); err != nil {
			t.Fatalf("Refund() = %v, want nil", err)
		}
	}
	mustReserve(t, e, alphaExport, 1)
	if _, err := e.Reserve(ctxT(t), alphaExport); err == nil {
		t.Errorf("Reserve(after one refund, twice) = nil, want a rejection: a double refund must not return two units")
	}
	got, err := e.Usage(ctxT(t), "alpha", map[string]string{"garant": "main"})
	if err != nil {
		t.Fatalf("Usage(alpha) = %v, want nil", err)
	}
	if got[0].Used != 10 || got[1].Used != 10 {
		t.Errorf("Usage(alpha) used = %d (credential), %d (tenant), want 10, 10", got[0].Used, got[1].Used)
	}
}

func TestMarkExhausted(t *testing.T) {
	srv := redistest.Start(t)
	hook := &roundTrips{}
	rdb := srv.Client(t)
	rdb.AddHook(hook)
	clk := newClock(feb1().Add(36 * time.Hour))
	cfg := Config{Rules: sharedRules(), Now: clk.Now, Jitter: -1}
	e := newEngine(t, rdb, cfg)
	other := newEngine(t, srv.Client(t), cfg) // another gateway instance: no local knowledge

	mustReserve(t, e, alphaExport, 1)
	if fam, err := e.MarkExhausted(ctxT(t), alphaExport); err != nil || fam != FamilyExport {
		t.Fatalf("MarkExhausted() = %q, %v; want %q, nil", fam, err, FamilyExport)
	}
	want := map[string]any{"violated-policies": []string{"garant.export.month.credential"}, "scope": "credential",
		"family": "export", "resets_at": "2026-03-01T00:00:00+03:00"}
	before := hook.n.Load()
	for _, tc := range []struct {
		name string
		e    *Engine
		r    Request
	}{{"alpha, local", e, alphaExport}, {"beta, local", e, betaExport}, {"beta, other instance", other, betaExport}} {
		_, err := tc.e.Reserve(ctxT(t), tc.r)
		ae := rejected(t, "Reserve("+tc.name+")", err)
		if diff := cmp.Diff(want, ae.Extensions); diff != "" {
			t.Errorf("Reserve(%s).Extensions mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
	if got := hook.n.Load() - before; got != 0 {
		t.Errorf("Redis round trips of locally rejected reserves = %d, want 0", got)
	}
	got, err := other.Usage(ctxT(t), "alpha", map[string]string{"garant": "main"})
	if err != nil {
		t.Fatalf("Usage() = %v, want nil", err)
	}
	if got[0].Remaining != 0 || got[0].Source != SourceUpstream {
		t.Errorf("Usage()[credential] = remaining %d, source %q; want 0, %q", got[0].Remaining, got[0].Source, SourceUpstream)
	}
	clk.Set(time.Date(2026, 3, 1, 0, 0, 0, 0, moscow()))
	mustReserve(t, e, alphaExport, 1)
	mustReserve(t, other, betaExport, 1)
}

func TestSyncRemaining(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	e := newEngine(t, rdb, Config{Rules: sharedRules(), Now: newClock(feb1()).Now})
	mustReserve(t, e, betaExport, 2)
	usage := func(op string) Usage {
		t.Helper()
		got, err := e.Usage(ctxT(t), "beta", map[string]string{"garant": "main"})
		if err != nil {
			t.Fatalf("%s: Usage() = %v, want nil", op, err)
		}
		return got[0]
	}
	steps := []struct {
		remaining     int64
		wantRemaining int64
		wantSource    string
	}{
		{Unlimited, 28, SourceConfig}, // 32767: effectively unlimited, ignored
		{29, 28, SourceConfig},        // the upstream has more left: ours stays lower
		{5, 5, SourceUpstream},        // the upstream has less: lowered
		{7, 5, SourceUpstream},        // never raised again
	}
	for _, s := range steps {
		if err := e.SyncRemaining(ctxT(t), "main", "garant", FamilyExport, s.remaining); err != nil {
			t.Fatalf("SyncRemaining(%d) = %v, want nil", s.remaining, err)
		}
		if u := usage("sync"); u.Remaining != s.wantRemaining || u.Source != s.wantSource {
			t.Errorf("SyncRemaining(%d): Usage = remaining %d, source %q; want %d, %q",
				s.remaining, u.Remaining, u.Source, s.wantRemaining, s.wantSource)
		}
	}
	mustReserve(t, e, betaExport, 5)
	if _, err := e.Reserve(ctxT(t), betaExport); err == nil {
		t.Errorf("Reserve(after the synced 5) = nil, want a rejection")
	}
	// Zero left upstream spends even a family without a configured rule.
	if err := e.SyncRemaining(ctxT(t), "main", "garant", FamilyTopicInfo, 0); err != nil {
		t.Fatalf("SyncRemaining(topic_info, 0) = %v, want nil", err)
	}
	topic := Request{Tenant: "beta", Credential: "main", Upstream: "garant", Operation: "garantGetTopic"}
	if _, err := e.Reserve(ctxT(t), topic); err == nil {
		t.Errorf("Reserve(topic_info after sync 0) = nil, want a rejection")
	}
}

func TestHeaders(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	e := newEngine(t, rdb, Config{Rules: sharedRules(), Now: newClock(feb1()).Now})
	res := mustReserve(t, e, alphaExport, 1)[0]
	got := res.Headers()
	want := map[string][]string{
		"Ratelimit-Policy": {`"garant.export.month.tenant";q=10;w=2419200`},
		"Ratelimit":        {`"garant.export.month.tenant";r=9;t=2419200`},
	}
	if diff := cmp.Diff(want, map[string][]string(got)); diff != "" {
		t.Errorf("Headers() mismatch (-want +got):\n%s", diff)
	}
	mustReserve(t, e, alphaExport, 9)
	_, err := e.Reserve(ctxT(t), alphaExport)
	want["Ratelimit"] = []string{`"garant.export.month.tenant";r=0;t=2419200`}
	e2, ok := apperr.As(err)
	if !ok {
		t.Fatalf("Reserve(exhausted) = %v, want an *apperr.Error", err)
	}
	if diff := cmp.Diff(want, map[string][]string(e2.Header)); diff != "" {
		t.Errorf("Reserve(exhausted).Header mismatch (-want +got):\n%s", diff)
	}
}
