package quota

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/redistest"
)

// run runs e.Run until the test ends and waits until e is subscribed.
func run(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
		if e.local.isLive() {
			t.Errorf("engine still subscribed after Run returned")
		}
	})
	waitLive(t, e, true)
}

func waitLive(t *testing.T, e *Engine, live bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.local.isLive() != live {
		if time.Now().After(deadline) {
			t.Fatalf("engine subscribed = %v after 10s, want %v", !live, live)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reserveWithin retries r until it passes, for at most d: a rejection
// answered from memory has no side effect.
func reserveWithin(t *testing.T, e *Engine, r Request, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		_, err := e.Reserve(ctxT(t), r)
		if err == nil {
			return
		}
		if apperr.KindOf(err) != apperr.QuotaExceeded || time.Now().After(deadline) {
			t.Fatalf("Reserve(%+v) = %v for %v, want it to pass", r, err, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestInvalidationAcrossEngines: B caches alpha's exhaustion until the end
// of the month (no Redis call, even an hour later on B's clock); a refund on
// A reaches B over pub/sub and B admits alpha's next request at once, long
// before the one-minute cap of an unsubscribed engine could have expired.
func TestInvalidationAcrossEngines(t *testing.T) {
	srv := redistest.Start(t)
	hook := &roundTrips{}
	rdbB := srv.Client(t)
	rdbB.AddHook(hook)
	clk := newClock(feb1())
	cfg := Config{Rules: sharedRules(), Now: clk.Now, LocalCacheMax: time.Minute}
	a, b := newEngine(t, srv.Client(t), cfg), newEngine(t, rdbB, cfg)
	run(t, a)
	run(t, b)

	res := mustReserve(t, a, alphaExport, 10)
	_, err := b.Reserve(ctxT(t), alphaExport)
	rejected(t, "Reserve(alpha #11 on B)", err)
	clk.Set(feb1().Add(time.Hour)) // past the cap: still cached, until March 1
	before := hook.n.Load()
	for i := range 3 {
		_, err := b.Reserve(ctxT(t), alphaExport)
		rejected(t, "Reserve(alpha, cached on B)", err)
		if got := hook.n.Load() - before; got != 0 {
			t.Fatalf("Reserve(alpha, cached on B) #%d: Redis round trips = %d, want 0", i+1, got)
		}
	}

	if err := res[0].Refund(ctxT(t)); err != nil {
		t.Fatalf("Refund() on A = %v, want nil", err)
	}
	reserveWithin(t, b, alphaExport, 5*time.Second)
	_, err = b.Reserve(ctxT(t), alphaExport)
	rejected(t, "Reserve(alpha, after the refunded unit was used)", err)

	// At the reset the cached entry expires and B asks Redis again.
	clk.Set(time.Date(2026, 3, 1, 0, 0, 0, 0, moscow()))
	mustReserve(t, b, alphaExport, 1)
}

// TestCachedRejectionWithoutRedis: with Redis gone, a known exhaustion is
// still answered from memory (cut to LocalCacheMax, since invalidations can
// no longer arrive), not as a store failure; after the cap Redis is asked.
func TestCachedRejectionWithoutRedis(t *testing.T) {
	srv := redistest.Start(t)
	clk := newClock(feb1())
	e := newEngine(t, srv.Client(t), Config{Rules: sharedRules(), Now: clk.Now, LocalCacheMax: time.Minute, Timeout: 200 * time.Millisecond})
	run(t, e)
	mustReserve(t, e, alphaExport, 10)
	_, err := e.Reserve(ctxT(t), alphaExport)
	rejected(t, "Reserve(alpha #11)", err)

	srv.Stop()
	waitLive(t, e, false)
	_, err = e.Reserve(ctxT(t), alphaExport)
	rejected(t, "Reserve(alpha, Redis stopped)", err)
	clk.Set(feb1().Add(2 * time.Minute))
	if _, err := e.Reserve(ctxT(t), alphaExport); apperr.KindOf(err) != apperr.Unavailable {
		t.Errorf("Reserve(alpha, Redis stopped, past the cap) = %v, want kind %v", err, apperr.Unavailable)
	}
}

// TestSubscriptionReconnects: a killed pub/sub connection is noticed, the
// cache falls back to the cap meanwhile, and the engine subscribes again.
func TestSubscriptionReconnects(t *testing.T) {
	srv := redistest.Start(t)
	hook := &roundTrips{}
	rdb := srv.Client(t)
	rdb.AddHook(hook)
	clk := newClock(feb1())
	e := newEngine(t, rdb, Config{Rules: sharedRules(), Now: clk.Now, LocalCacheMax: time.Minute})
	run(t, e)
	mustReserve(t, e, alphaExport, 10)
	_, err := e.Reserve(ctxT(t), alphaExport)
	rejected(t, "Reserve(alpha #11)", err)

	admin := srv.Client(t)
	if err := admin.Do(ctxT(t), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatalf("CLIENT KILL TYPE pubsub = %v, want nil", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.local.subscriptions() < 2 || !e.local.isLive() { // noticed, and subscribed again
		if time.Now().After(deadline) {
			t.Fatalf("engine not subscribed again 10s after its connection was killed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	clk.Set(feb1().Add(2 * time.Minute))
	before := hook.n.Load()
	_, err = e.Reserve(ctxT(t), alphaExport)
	rejected(t, "Reserve(alpha, after the reconnection)", err)
	if got := hook.n.Load() - before; got != 1 {
		t.Errorf("Reserve(alpha) past the cap after a lost subscription: Redis round trips = %d, want 1 (the entry cut to the cap)", got)
	}

	// Subscribed again: another engine's refund is seen. A unit freed behind
	// the engines' back is not (alpha is still answered from memory).
	if err := freeTenantUnit(ctxT(t), admin, e, alphaExport); err != nil {
		t.Fatal(err)
	}
	other := newEngine(t, srv.Client(t), Config{Rules: sharedRules(), Now: clk.Now})
	res, err := other.Reserve(ctxT(t), alphaExport)
	if err != nil {
		t.Fatalf("Reserve(alpha on another engine) = %v, want nil", err)
	}
	_, err = e.Reserve(ctxT(t), alphaExport)
	rejected(t, "Reserve(alpha, cached)", err)
	if err := res.Refund(ctxT(t)); err != nil {
		t.Fatalf("Refund() = %v, want nil", err)
	}
	reserveWithin(t, e, alphaExport, 5*time.Second)
}

// freeTenantUnit takes one unit off r's tenant counter behind the engines'
// back (no invalidation).
func freeTenantUnit(ctx context.Context, rdb *redis.Client, e *Engine, r Request) error {
	p, err := e.plan(r, e.now())
	if err != nil {
		return err
	}
	for _, c := range p.checks {
		if c.rule.Scope == ScopeTenant {
			return rdb.Decr(ctx, c.key).Err()
		}
	}
	return nil
}

// TestInvalidationCluster: PUBLISH from the refund script reaches an engine
// subscribed through another node of a Redis Cluster.
func TestInvalidationCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	clk := newClock(feb1())
	cfg := Config{Rules: sharedRules(), Now: clk.Now}
	a, b := newEngine(t, c.Client(t), cfg), newEngine(t, c.Client(t), cfg)
	run(t, a)
	run(t, b)
	res := mustReserve(t, a, alphaExport, 10)
	_, err := b.Reserve(ctxT(t), alphaExport)
	rejected(t, "Reserve(alpha #11 on B)", err)
	if err := res[0].Refund(ctxT(t)); err != nil {
		t.Fatalf("Refund() = %v, want nil", err)
	}
	reserveWithin(t, b, alphaExport, 5*time.Second)
}

// TestLatePutAfterInvalidation: an exhaustion learnt by a script that ran
// before an invalidation arrived is not cached (the invalidation may have
// overtaken the script's answer).
func TestLatePutAfterInvalidation(t *testing.T) {
	c := newExhaustedCache(time.Minute)
	c.setLive(true, feb1())
	k := localKey{ScopeTenant, "alpha", "garant", FamilyExport}
	p := &plan{req: alphaExport, checks: []check{{rule: Rule{Scope: ScopeTenant, Owner: "alpha", Upstream: "garant", Family: FamilyExport}}}}
	gen := c.generation()
	c.invalidate([]localKey{{ScopeTenant, "", "garant", FamilyExport}})
	c.put(k, feb1().Add(time.Hour), &Rejection{}, gen, feb1())
	if c.lookup(p, feb1()) != nil {
		t.Errorf("lookup() after a put older than an invalidation = a rejection, want none")
	}
	c.put(k, feb1().Add(time.Hour), &Rejection{}, c.generation(), feb1())
	if c.lookup(p, feb1().Add(30*time.Minute)) == nil {
		t.Errorf("lookup(30m later, subscribed) = none, want the rejection until its reset")
	}
	c.invalidate(decodeInvalidation("bad\ntenant::garant:" + FamilyExport))
	if c.lookup(p, feb1()) != nil {
		t.Errorf("lookup() after a wildcard invalidation = a rejection, want none")
	}
}
