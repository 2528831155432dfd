package quota

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/legalgate/legalgate/internal/redistest"
)

// TestScrapesShareOneUsageRead: however many scrapers, and however often,
// the quota gauges cost Redis one usage read (one script per credential)
// per UsageRefresh; a scrape after it reads again and shows what changed.
func TestScrapesShareOneUsageRead(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	trips := &roundTrips{}
	rdb.AddHook(trips)
	clk := newClock(feb1())
	accounts := []Account{
		{Tenant: "alpha", Credential: "main", Upstream: "garant"},
		{Tenant: "beta", Credential: "other", Upstream: "garant"},
	}
	reg := prometheus.NewRegistry()
	e, err := New(rdb, Config{Rules: sharedRules(), Now: clk.Now, Accounts: accounts, UsageRefresh: 5 * time.Second}, reg)
	if err != nil {
		t.Fatalf("New() = %v, want nil", err)
	}
	const credentials = 2 // one usage script each

	// Warm the scripts (a first EVALSHA may answer NOSCRIPT and load it).
	gather(t, reg)
	trips.n.Store(0)
	clk.Set(feb1().Add(10 * time.Second))

	// 20 scrapers at once, then 20 more one after another, within 5 s.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := reg.Gather(); err != nil {
				t.Errorf("Gather() = %v", err)
			}
		})
	}
	wg.Wait()
	for i := range 20 {
		clk.Set(feb1().Add(10*time.Second + time.Duration(i)*200*time.Millisecond))
		gather(t, reg)
	}
	if n := trips.n.Load(); n != credentials {
		t.Errorf("Redis round trips for 40 scrapes within UsageRefresh = %d, want %d (one read)", n, credentials)
	}

	// Past UsageRefresh, a scrape reads again and sees the new count.
	mustReserve(t, e, alphaExport, 3)
	trips.n.Store(0)
	clk.Set(feb1().Add(16 * time.Second))
	got := gather(t, reg)["gateway_quota_used family=export owner=alpha period=month scope=tenant upstream=garant"]
	if n := trips.n.Load(); n != credentials || got != 3 {
		t.Errorf("scrape after UsageRefresh: %d round trips, alpha's used export = %v; want %d and 3", n, got, credentials)
	}
}
