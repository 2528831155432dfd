package quota

import (
	"maps"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/redistest"
)

// raceLastUnits has 3 engines, each with its own client, race 200 requests
// for the last 30 of 100 units: exactly 30 must pass.
func raceLastUnits(t *testing.T, clients [3]redis.UniversalClient) {
	t.Helper()
	clk := newClock(feb1())
	cfg := Config{Now: clk.Now, Rules: []Rule{credRule("garant", FamilyExport, PeriodMonth, 100),
		tenantRule("", "garant", FamilyExport, PeriodMonth, 1000)}}
	var engines [3]*Engine
	for i, c := range clients {
		engines[i] = newEngine(t, c, cfg)
	}
	mustReserve(t, engines[0], alphaExport, 70)

	var (
		wg                   sync.WaitGroup
		mu                   sync.Mutex
		passed, quota, other int
		byTenant             = map[string][2]int64{} // reserved, rejected
	)
	for i := range 200 {
		wg.Go(func() {
			r := alphaExport
			if i%2 == 1 {
				r = betaExport
			}
			_, err := engines[i%3].Reserve(ctxT(t), r)
			mu.Lock()
			defer mu.Unlock()
			n := byTenant[r.Tenant]
			switch {
			case err == nil:
				passed++
				n[0]++
			case apperr.KindOf(err) == apperr.QuotaExceeded:
				quota++
				n[1]++
			default:
				other++
				t.Errorf("Reserve() = %v, want nil or quota_exceeded", err)
			}
			byTenant[r.Tenant] = n
		})
	}
	wg.Wait()
	// The ledger is exact across the engines: what each answered, once the
	// rejections they answered from memory are added.
	for _, e := range engines {
		if err := e.flushLedger(ctxT(t)); err != nil {
			t.Fatalf("flushLedger() = %v, want nil", err)
		}
	}
	rows, err := engines[2].Ledger(ctxT(t), LedgerQuery{Credentials: []string{"main"}})
	if err != nil {
		t.Fatalf("Ledger() = %v, want nil", err)
	}
	byLedger := map[string][2]int64{}
	for _, r := range rows.Rows {
		byLedger[r.Tenant] = [2]int64{r.Reserved, r.Rejected}
	}
	a := byTenant["alpha"]
	a[0] += 70
	if want := map[string][2]int64{"alpha": a, "beta": byTenant["beta"]}; !maps.Equal(byLedger, want) {
		t.Errorf("Ledger() reserved, rejected by tenant = %v, want %v", byLedger, want)
	}
	if passed != 30 || quota != 170 {
		t.Errorf("200 racing Reserve() = %d passed, %d rejected, %d failed; want 30, 170, 0", passed, quota, other)
	}
	got, err := engines[1].Usage(ctxT(t), "alpha", map[string]string{"garant": "main"})
	if err != nil {
		t.Fatalf("Usage() = %v, want nil", err)
	}
	if got[0].Used != 100 {
		t.Errorf("Usage()[credential].Used = %d, want 100", got[0].Used)
	}
}

func TestRaceLastUnits(t *testing.T) {
	srv := redistest.Start(t)
	raceLastUnits(t, [3]redis.UniversalClient{srv.Client(t), srv.Client(t), srv.Client(t)})
}

func TestRaceLastUnitsCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	raceLastUnits(t, [3]redis.UniversalClient{c.Client(t), c.Client(t), c.Client(t)})

	// The keys of one credential, tenant scope included, live in one slot.
	rdb := c.Client(t)
	e := newEngine(t, rdb, Config{Now: newClock(feb1()).Now, Rules: sharedRules()})
	p, err := e.plan(alphaExport, feb1())
	if err != nil {
		t.Fatalf("plan() = %v, want nil", err)
	}
	keys := []string{p.marks[0].key, attemptKey("main", "x", "")}
	for _, ch := range p.checks {
		keys = append(keys, ch.key)
	}
	lk := e.ledgerSpot("main", feb1()).keys()
	keys = append(keys, lk[:]...)
	want, _ := rdb.ClusterKeySlot(ctxT(t), keys[0]).Result()
	for _, k := range keys[1:] {
		if got, _ := rdb.ClusterKeySlot(ctxT(t), k).Result(); got != want {
			t.Errorf("CLUSTER KEYSLOT %s = %d, want %d (the slot of %s)", k, got, want, keys[0])
		}
	}
}
