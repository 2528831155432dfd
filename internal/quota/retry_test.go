package quota

import (
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/redistest"
)

// counters returns the values of the quota counters of credential main.
func counters(t *testing.T, rdb *redis.Client) map[string]string {
	t.Helper()
	keys, err := rdb.Keys(ctxT(t), "{cred:main}:q:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		if strings.Contains(k, ":q:attempt:") || strings.Contains(k, ":q:ledger:") {
			continue
		}
		v, err := rdb.Get(ctxT(t), k).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		out[k] = v
	}
	if len(out) == 0 {
		t.Fatal("no quota counters of credential main in Redis")
	}
	return out
}

// wantCounters checks that every quota counter of credential main is want.
func wantCounters(t *testing.T, rdb *redis.Client, want, when string) {
	t.Helper()
	for k, v := range counters(t, rdb) {
		if v != want {
			t.Errorf("%s: %s = %s, want %s", when, k, v, want)
		}
	}
}

// TestRetriedScriptsCountOnce: go-redis sends a command again when the
// connection breaks before its answer (it retries by default), but Redis may
// already have run it. A reservation or refund run twice must change the
// counters once.
func TestRetriedScriptsCountOnce(t *testing.T) {
	srv := redistest.Start(t)
	direct := srv.Client(t)
	proxy := redistest.NewCutProxy(t, srv.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), Protocol: 2}) // go-redis's default retries
	t.Cleanup(func() { _ = rdb.Close() })
	e := newEngine(t, rdb, Config{Rules: sharedRules(), Now: newClock(feb1()).Now, Jitter: -1})
	for _, src := range []string{reserveLua, refundLua} {
		if err := direct.ScriptLoad(ctxT(t), src).Err(); err != nil { // so that the cut EVALSHA is one Redis runs
			t.Fatal(err)
		}
	}

	mustReserve(t, e, alphaExport, 1)
	proxy.Arm("evalsha")
	second, err := e.Reserve(ctxT(t), alphaExport)
	if err != nil {
		t.Fatalf("Reserve() with its first answer lost = %v, want the retry to succeed", err)
	}
	if proxy.Cuts() != 1 {
		t.Fatalf("the proxy cut %d answers, want 1: the test did not lose the reserve's answer", proxy.Cuts())
	}
	wantCounters(t, direct, "2", "after 2 reservations, one retried")

	proxy.Arm("evalsha")
	if err := second.Refund(ctxT(t)); err != nil {
		t.Fatalf("Refund() with its first answer lost = %v, want the retry to succeed", err)
	}
	if proxy.Cuts() != 2 {
		t.Fatalf("the proxy cut %d answers, want 2: the test did not lose the refund's answer", proxy.Cuts())
	}
	wantCounters(t, direct, "1", "after 2 reservations and 1 refund, retried")
}
