package quota

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/legalgate/legalgate/internal/redistest"
)

// TestCalendarBoundaries exhausts a calendar quota in the last instant of
// its period and checks that the rejection names the exact reset, and that
// the first instant of the next period has room again.
func TestCalendarBoundaries(t *testing.T) {
	msk := moscow()
	rdb := redistest.Start(t).Client(t)
	tests := []struct {
		name       string
		period     Period
		last       time.Time // the last second of a period
		wantReset  string
		wantRetry  time.Duration
		wantPolicy string
	}{
		{"month Moscow", PeriodMonth, time.Date(2026, 1, 31, 20, 59, 59, 0, time.UTC),
			"2026-02-01T00:00:00+03:00", time.Second, "garant.export.month.credential"},
		{"day", PeriodDay, time.Date(2026, 3, 10, 23, 59, 59, 500e6, msk),
			"2026-03-11T00:00:00+03:00", time.Second, "garant.export.day.credential"},
		{"hour", PeriodHour, time.Date(2026, 3, 10, 14, 59, 58, 0, msk),
			"2026-03-10T15:00:00+03:00", 2 * time.Second, "garant.export.hour.credential"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(tt.last)
			cred := "c" + string(rune('a'+i))
			e := newEngine(t, rdb, Config{Rules: []Rule{credRule("garant", FamilyExport, tt.period, 2)},
				Now: clk.Now, Jitter: -1})
			r := Request{Tenant: "alpha", Credential: cred, Upstream: "garant", Operation: "garantExportTopic"}
			mustReserve(t, e, r, 2)
			_, err := e.Reserve(ctxT(t), r)
			ae := rejected(t, "Reserve(third)", err)
			if ae.RetryAfter != tt.wantRetry {
				t.Errorf("Reserve(third).RetryAfter = %v, want %v", ae.RetryAfter, tt.wantRetry)
			}
			want := map[string]any{"violated-policies": []string{tt.wantPolicy}, "scope": "credential",
				"family": FamilyExport, "resets_at": tt.wantReset}
			if diff := cmp.Diff(want, ae.Extensions); diff != "" {
				t.Errorf("Reserve(third).Extensions mismatch (-want +got):\n%s", diff)
			}
			if ae.Type != "quota-exceeded" {
				t.Errorf("Reserve(third).Type = %q, want %q", ae.Type, "quota-exceeded")
			}
			reset, _ := time.Parse(time.RFC3339, tt.wantReset)
			clk.Set(reset.Add(-time.Millisecond))
			if _, err := e.Reserve(ctxT(t), r); err == nil {
				t.Errorf("Reserve(1ms before reset) = nil, want a rejection")
			}
			clk.Set(reset)
			if _, err := e.Reserve(ctxT(t), r); err != nil {
				t.Errorf("Reserve(at reset %s) = %v, want nil", tt.wantReset, err)
			}
		})
	}
}

// TestMonthUsesConfiguredZone checks that the month resets on the 1st in
// Moscow, not in UTC: 21:00 UTC on 31 January is already February.
func TestMonthUsesConfiguredZone(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	clk := newClock(time.Date(2026, 1, 31, 20, 0, 0, 0, time.UTC))
	e := newEngine(t, rdb, Config{Rules: []Rule{credRule("garant", FamilyExport, PeriodMonth, 1)}, Now: clk.Now})
	mustReserve(t, e, alphaExport, 1)
	clk.Set(time.Date(2026, 1, 31, 21, 0, 0, 0, time.UTC))
	if _, err := e.Reserve(ctxT(t), alphaExport); err != nil {
		t.Errorf("Reserve(21:00 UTC 31 Jan = 00:00 MSK 1 Feb) = %v, want nil", err)
	}
}

// TestSlidingWindow checks FSSP's "last hour": a unit leaves exactly one
// hour after it was reserved.
func TestSlidingWindow(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	t0 := time.Date(2026, 5, 5, 10, 17, 3, 0, moscow())
	clk := newClock(t0)
	e := newEngine(t, rdb, Config{Now: clk.Now, Jitter: -1, Rules: []Rule{
		credRule("fssp", FamilySingle, PeriodSlidingHour, 2),
		credRule("fssp", FamilySingle, PeriodSlidingDay, 1000),
	}})
	r := Request{Tenant: "alpha", Credential: "fssp1", Upstream: "fssp", Operation: "fsspSearchPhysical"}
	mustReserve(t, e, r, 1)
	clk.Set(t0.Add(10 * time.Minute))
	mustReserve(t, e, r, 1)
	clk.Set(t0.Add(20 * time.Minute))
	_, err := e.Reserve(ctxT(t), r)
	ae := rejected(t, "Reserve(t0+20m)", err)
	if got, want := ae.Extensions["resets_at"], t0.Add(time.Hour).Format(time.RFC3339); got != want {
		t.Errorf("Reserve(t0+20m) resets_at = %v, want %v", got, want)
	}
	if got, want := ae.RetryAfter, 40*time.Minute; got != want {
		t.Errorf("Reserve(t0+20m).RetryAfter = %v, want %v", got, want)
	}
	clk.Set(t0.Add(time.Hour - time.Millisecond))
	if _, err := e.Reserve(ctxT(t), r); err == nil {
		t.Errorf("Reserve(t0+1h-1ms) = nil, want a rejection")
	}
	clk.Set(t0.Add(time.Hour))
	mustReserve(t, e, r, 1)
	if _, err := e.Reserve(ctxT(t), r); err == nil {
		t.Errorf("Reserve(t0+1h, second) = nil, want a rejection (t0+10m still counts)")
	}
	clk.Set(t0.Add(70 * time.Minute))
	mustReserve(t, e, r, 1)

	got, err := e.Usage(ctxT(t), "alpha", map[string]string{"fssp": "fssp1"})
	if err != nil {
		t.Fatalf("Usage() = %v, want nil", err)
	}
	now := t0.Add(70 * time.Minute)
	// A sliding window's burn rate is what it holds over its length; at a
	// steady rate it never holds more.
	want := []Usage{
		{Upstream: "fssp", Family: FamilySingle, Scope: ScopeCredential, Owner: "fssp1", Credential: "fssp1", Period: PeriodSlidingDay,
			Limit: 1000, Used: 4, Remaining: 996, PeriodStart: now.Add(-24 * time.Hour), ResetsAt: t0.Add(24 * time.Hour),
			Source: SourceConfig, Forecast: Forecast{BurnRate: 4.0 / 24, Exhaustion: NotBeforeReset}},
		{Upstream: "fssp", Family: FamilySingle, Scope: ScopeCredential, Owner: "fssp1", Credential: "fssp1", Period: PeriodSlidingHour,
			Limit: 2, Used: 2, Remaining: 0, PeriodStart: now.Add(-time.Hour), ResetsAt: t0.Add(2 * time.Hour),
			Source: SourceConfig, Forecast: Forecast{BurnRate: 2, Exhaustion: Spent}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Usage() mismatch (-want +got):\n%s", diff)
	}
}
