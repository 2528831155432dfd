package quota

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/redistest"
)

// ledgerRules: credential main has 30 exports and 300 topic infos a month;
// alpha gets 10 of the exports; beta has no allocation.
func ledgerRules() []Rule {
	return []Rule{
		credRule("garant", FamilyExport, PeriodMonth, 30),
		credRule("garant", FamilyTopicInfo, PeriodMonth, 300),
		tenantRule("alpha", "garant", FamilyExport, PeriodMonth, 10),
	}
}

func readLedger(t *testing.T, e *Engine, q LedgerQuery) []Spending {
	t.Helper()
	l, err := e.Ledger(ctxT(t), q)
	if err != nil {
		t.Fatalf("Ledger(%+v) = %v, want nil", q, err)
	}
	return l.Rows
}

func TestLedger(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	feb10 := feb1().AddDate(0, 0, 9).Add(12 * time.Hour)
	clk := newClock(feb10)
	reg := prometheus.NewRegistry()
	accounts := []Account{{Tenant: "alpha", Credential: "main", Upstream: "garant"}, {Tenant: "beta", Credential: "main", Upstream: "garant"}}
	e, err := New(rdb, Config{Rules: ledgerRules(), Accounts: accounts, Now: clk.Now, Jitter: -1}, reg)
	if err != nil {
		t.Fatal(err)
	}
	betaTopic := Request{Tenant: "beta", Credential: "main", Upstream: "garant", Operation: "garantGetTopic"}

	res := mustReserve(t, e, alphaExport, 10)
	if err := res[0].Refund(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	mustReserve(t, e, alphaExport, 1)
	for i := range 2 { // the first is rejected by the script, the second from memory
		if _, err := e.Reserve(ctxT(t), alphaExport); err == nil {
			t.Fatalf("Reserve(alpha #%d over its allocation) = nil, want a rejection", i+1)
		}
	}
	mustReserve(t, e, betaExport, 2)
	mustReserve(t, e, betaTopic, 3)
	if err := e.flushLedger(ctxT(t)); err != nil {
		t.Fatalf("flushLedger() = %v, want nil", err)
	}

	alphaRow := Spending{Credential: "main", Tenant: "alpha", Upstream: "garant", Family: FamilyExport,
		Operation: "garantExportTopic", Reserved: 11, Refunded: 1, Rejected: 2}
	betaExportRow := Spending{Credential: "main", Tenant: "beta", Upstream: "garant", Family: FamilyExport,
		Operation: "garantExportTopic", Reserved: 2}
	betaTopicRow := Spending{Credential: "main", Tenant: "beta", Upstream: "garant", Family: FamilyTopicInfo,
		Operation: "garantGetTopic", Reserved: 3}
	for _, tc := range []struct {
		name string
		q    LedgerQuery
		want []Spending
	}{
		{"month", LedgerQuery{Credentials: []string{"main"}}, []Spending{alphaRow, betaExportRow, betaTopicRow}},
		{"day", LedgerQuery{Period: PeriodDay, Credentials: []string{"main"}}, []Spending{alphaRow, betaExportRow, betaTopicRow}},
		{"tenant beta", LedgerQuery{Credentials: []string{"main"}, Tenant: "beta"}, []Spending{betaExportRow, betaTopicRow}},
		{"family export", LedgerQuery{Credentials: []string{"main", "main"}, Family: FamilyExport}, []Spending{alphaRow, betaExportRow}},
		{"another credential", LedgerQuery{Credentials: []string{"other"}}, []Spending{}},
		{"no credential", LedgerQuery{}, []Spending{}},
		{"the day before", LedgerQuery{Period: PeriodDay, At: feb10.AddDate(0, 0, -1), Credentials: []string{"main"}}, []Spending{}},
	} {
		if diff := cmp.Diff(tc.want, readLedger(t, e, tc.q)); diff != "" {
			t.Errorf("Ledger(%s) mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
	if got := alphaRow.Spent(); got != 10 {
		t.Errorf("Spent() = %d, want 10", got)
	}
	if _, err := e.Ledger(ctxT(t), LedgerQuery{Period: PeriodHour, Credentials: []string{"main"}}); !errors.Is(err, ErrLedgerPeriod) {
		t.Errorf("Ledger(hour) = %v, want ErrLedgerPeriod", err)
	}

	// The counters say the same, once per request, beta (no allocation)
	// included.
	got := gather(t, reg)
	checkMetrics(t, "after the calls", got, map[string]float64{
		"gateway_quota_reserved_total credential=main family=export operation=garantExportTopic tenant=alpha upstream=garant":                  11,
		"gateway_quota_refunded_total credential=main family=export operation=garantExportTopic tenant=alpha upstream=garant":                  1,
		"gateway_quota_rejected_total credential=main family=export operation=garantExportTopic scope=tenant tenant=alpha upstream=garant":     2,
		"gateway_quota_reserved_total credential=main family=topic_info operation=garantGetTopic tenant=beta upstream=garant":                  3,
		"gateway_quota_rejected_total credential=main family=topic_info operation=garantGetTopic scope=credential tenant=beta upstream=garant": 0,
	})
	if _, ok := got["gateway_quota_rejected_total credential=main family=topic_info operation=garantGetTopic scope=tenant tenant=beta upstream=garant"]; ok {
		t.Errorf("a tenant-scope rejection series of beta's topic infos exists; beta has no allocation there")
	}

	// Next month February is the previous period: still kept, until the end
	// of March; January is gone.
	monthKey := ledgerKey("main", PeriodMonth, feb1())
	ttl, err := rdb.PTTL(ctxT(t), monthKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	keptUntil := feb10.Add(ttl)
	if want := feb1().AddDate(0, 2, 0).Add(time.Hour); keptUntil.Before(want.Add(-time.Minute)) || keptUntil.After(want) {
		t.Errorf("TTL of %s = %v: kept until %v, want %v", monthKey, ttl, keptUntil, want)
	}
	clk.Set(feb1().AddDate(0, 1, 4))
	mustReserve(t, e, betaTopic, 1)
	if diff := cmp.Diff([]Spending{alphaRow, betaExportRow, betaTopicRow},
		readLedger(t, e, LedgerQuery{At: feb10, Credentials: []string{"main"}})); diff != "" {
		t.Errorf("Ledger(February, in March) mismatch (-want +got):\n%s", diff)
	}
	march := betaTopicRow
	march.Reserved = 1
	if diff := cmp.Diff([]Spending{march}, readLedger(t, e, LedgerQuery{Credentials: []string{"main"}})); diff != "" {
		t.Errorf("Ledger(March) mismatch (-want +got):\n%s", diff)
	}
}

// TestLedgerRateRejections: a rejection by the per-second rate alone is
// counted once, when the engine gives up; one it waited out is not a
// rejection.
func TestLedgerRateRejections(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	rules := []Rule{credRule("garant", FamilyRate, PeriodSecond, 2)}
	search := Request{Tenant: "alpha", Credential: "main", Upstream: "garant", Operation: "garantSearch"}
	e := newEngine(t, rdb, Config{Rules: rules, RateWait: -1, Jitter: -1, Now: newClock(feb1()).Now})
	mustReserve(t, e, search, 2)
	if _, err := e.Reserve(ctxT(t), search); err == nil {
		t.Fatal("Reserve(third in a second, no wait) = nil, want a rejection")
	}
	if err := e.flushLedger(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	want := []Spending{{Credential: "main", Tenant: "alpha", Upstream: "garant", Family: FamilyRate,
		Operation: "garantSearch", Reserved: 2, Rejected: 1}}
	if diff := cmp.Diff(want, readLedger(t, e, LedgerQuery{Credentials: []string{"main"}})); diff != "" {
		t.Errorf("Ledger() mismatch (-want +got):\n%s", diff)
	}

	start, base := time.Now(), feb1().AddDate(0, 0, 1)
	waits := newEngine(t, rdb, Config{Rules: rules, RateWait: 5 * time.Second, Now: func() time.Time { return base.Add(time.Since(start)) }})
	mustReserve(t, waits, search, 3)
	if err := waits.flushLedger(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	want = []Spending{{Credential: "main", Tenant: "alpha", Upstream: "garant", Family: FamilyRate, Operation: "garantSearch", Reserved: 3}}
	if diff := cmp.Diff(want, readLedger(t, waits, LedgerQuery{Period: PeriodDay, At: base, Credentials: []string{"main"}})); diff != "" {
		t.Errorf("Ledger(the day of the waited call) mismatch (-want +got):\n%s", diff)
	}
}

// TestLedgerRetriedScriptsCountOnce: a reservation, a rejection, a refund
// and a queued batch whose answers are lost and sent again by go-redis are
// in the ledger once.
func TestLedgerRetriedScriptsCountOnce(t *testing.T) {
	srv := redistest.Start(t)
	direct := srv.Client(t)
	proxy := redistest.NewCutProxy(t, srv.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), Protocol: 2})
	t.Cleanup(func() { _ = rdb.Close() })
	e := newEngine(t, rdb, Config{Rules: sharedRules(), Now: newClock(feb1()).Now, Jitter: -1})
	for _, src := range []string{reserveLua, refundLua, ledgerAddLua} {
		if err := direct.ScriptLoad(ctxT(t), src).Err(); err != nil {
			t.Fatal(err)
		}
	}
	cut := func(what string, f func() error) {
		t.Helper()
		before := proxy.Cuts()
		proxy.Arm("evalsha")
		if err := f(); err != nil {
			t.Fatalf("%s with its first answer lost = %v", what, err)
		}
		if proxy.Cuts() != before+1 {
			t.Fatalf("%s: the proxy cut %d answers, want 1", what, proxy.Cuts()-before)
		}
	}
	var res *Reservation
	cut("Reserve()", func() (err error) { res, err = e.Reserve(ctxT(t), alphaExport); return err })
	cut("Refund()", func() error { return res.Refund(ctxT(t)) })
	mustReserve(t, e, alphaExport, 10)
	cut("Reserve(rejected)", func() error {
		if _, err := e.Reserve(ctxT(t), alphaExport); err == nil {
			return errors.New("not rejected")
		}
		return nil
	})
	if _, err := e.Reserve(ctxT(t), alphaExport); err == nil { // from memory: queued
		t.Fatal("Reserve(rejected from memory) = nil, want a rejection")
	}
	cut("flushLedger()", func() error { return e.flushLedger(ctxT(t)) })

	want := []Spending{{Credential: "main", Tenant: "alpha", Upstream: "garant", Family: FamilyExport,
		Operation: "garantExportTopic", Reserved: 11, Refunded: 1, Rejected: 2}}
	if diff := cmp.Diff(want, readLedger(t, e, LedgerQuery{Credentials: []string{"main"}})); diff != "" {
		t.Errorf("Ledger() mismatch (-want +got):\n%s", diff)
	}
}

// TestLedgerQueueKeptWhileRedisIsDown: queued rejections that cannot be
// added stay queued, and are added once (with the same batch) when Redis
// is back.
func TestLedgerQueueKeptWhileRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	e := newEngine(t, srv.Client(t), Config{Rules: sharedRules(), Now: newClock(feb1()).Now, Jitter: -1})
	mustReserve(t, e, alphaExport, 10)
	for range 3 {
		if _, err := e.Reserve(ctxT(t), alphaExport); err == nil {
			t.Fatal("Reserve(over the allocation) = nil, want a rejection")
		}
	}
	gone := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = gone.Close() })
	down := newEngine(t, gone, Config{Rules: sharedRules(), Now: newClock(feb1()).Now})
	down.ledger, e.ledger = e.ledger, newLedgerQueue()
	if err := down.flushLedger(ctxT(t)); err == nil {
		t.Fatal("flushLedger(Redis down) = nil, want an error")
	}
	e.ledger = down.ledger
	for range 2 { // the second finds nothing left to add
		if err := e.flushLedger(ctxT(t)); err != nil {
			t.Fatalf("flushLedger(Redis back) = %v, want nil", err)
		}
	}
	rows := readLedger(t, e, LedgerQuery{Credentials: []string{"main"}})
	if len(rows) != 1 || rows[0].Rejected != 3 || rows[0].Reserved != 10 {
		t.Errorf("Ledger() = %+v, want 10 reserved and 3 rejected", rows)
	}
}

// TestRunFlushesLedger: Run adds queued rejections within a second, and
// once more when it stops.
func TestRunFlushesLedger(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	e := newEngine(t, rdb, Config{Rules: sharedRules(), Now: newClock(feb1()).Now, Jitter: -1})
	ctx, cancel := context.WithCancel(ctxT(t))
	var wg sync.WaitGroup
	wg.Go(func() { _ = e.Run(ctx) })
	mustReserve(t, e, alphaExport, 10)
	rejectedN := func() int64 {
		rows := readLedger(t, e, LedgerQuery{Credentials: []string{"main"}})
		if len(rows) == 0 {
			return 0
		}
		return rows[0].Rejected
	}
	_, _ = e.Reserve(ctxT(t), alphaExport)
	_, _ = e.Reserve(ctxT(t), alphaExport) // from memory
	deadline := time.Now().Add(5 * time.Second)
	for rejectedN() != 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := rejectedN(); got != 2 {
		t.Fatalf("rejected in the ledger while Run runs = %d, want 2", got)
	}
	_, _ = e.Reserve(ctxT(t), alphaExport)
	cancel()
	wg.Wait()
	if got := rejectedN(); got != 3 {
		t.Errorf("rejected in the ledger after Run returned = %d, want 3 (flushed on the way out)", got)
	}
}
