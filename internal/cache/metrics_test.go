package cache_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/redistest"
)

// value is the value of the counter name with labels in reg, 0 when absent.
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestMetrics: lookups by result, answers from another process's fill and
// ignored Redis failures are counted.
func TestMetrics(t *testing.T) {
	rs := redistest.Start(t)
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	cfg := cache.Config{Grace: time.Hour}
	a, b := storeWith(t, rs, cfg, regA), storeWith(t, rs, cfg, regB)
	ctx := context.Background()
	p := cache.Policy{TTL: time.Hour}
	k := key(t, "garantGetTopic", 1, 1)
	var calls atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	slow := func(context.Context) (*cache.Entry, error) {
		close(started)
		<-release
		return &cache.Entry{Body: []byte("x")}, nil
	}
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = a.Fetch(ctx, k, p, slow, nil) })
	<-started // a holds the fill lock: b waits for a's answer
	wg.Go(func() { _, _ = b.Fetch(ctx, k, p, filler(&calls, "y", nil), nil) })
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	_, _ = a.Fetch(ctx, k, p, filler(&calls, "y", nil), nil)                                           // hit (L1)
	_, _ = a.Fetch(ctx, k, cache.Policy{TTL: time.Hour, NoCache: true}, filler(&calls, "y", nil), nil) // bypass
	// The bypass's store is not one of the failures counted below.
	rs.Stop()
	_, _ = a.Fetch(ctx, key(t, "garantGetTopic", 2, 2), p, filler(&calls, "y", nil), nil) // Redis gone: error

	req := "gateway_cache_requests_total"
	op := func(result string) map[string]string {
		return map[string]string{"upstream": "garant", "operation": "garantGetTopic", "result": result}
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"a miss", value(t, regA, req, op("miss")), 1},
		{"a hit", value(t, regA, req, op("hit")), 1},
		{"a bypass", value(t, regA, req, op("bypass")), 1},
		{"a error", value(t, regA, req, op("error")), 1},
		{"a coalesced", value(t, regA, "gateway_cache_coalesced_total", nil), 0},
		{"a get_or_lock errors", value(t, regA, "gateway_cache_redis_errors_total", map[string]string{"command": "get_or_lock"}), 1},
		{"b miss", value(t, regB, req, op("miss")), 1},
		{"b coalesced", value(t, regB, "gateway_cache_coalesced_total", map[string]string{"upstream": "garant", "operation": "garantGetTopic"}), 1},
		{"b errors", value(t, regB, "gateway_cache_redis_errors_total", nil), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if calls.Load() != 2 { // the no-cache refresh and the fill without Redis
		t.Errorf("fills = %d, want 2", calls.Load())
	}
}
