package quota

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
)

// clock is an injectable Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// roundTrips counts Redis round trips (commands and pipelines) of a client.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

func newEngine(tb testing.TB, rdb redis.UniversalClient, cfg Config) *Engine {
	tb.Helper()
	e, err := New(rdb, cfg, prometheus.NewRegistry())
	if err != nil {
		tb.Fatalf("New() = %v, want nil", err)
	}
	return e
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

var (
	alphaExport = Request{Tenant: "alpha", Credential: "main", Upstream: "garant", Operation: "garantExportTopic"}
	betaExport  = Request{Tenant: "beta", Credential: "main", Upstream: "garant", Operation: "garantExportTopic"}
)

func credRule(upstream, family string, p Period, limit int64) Rule {
	return Rule{Scope: ScopeCredential, Upstream: upstream, Family: family, Period: p, Limit: limit}
}

func tenantRule(owner, upstream, family string, p Period, limit int64) Rule {
	return Rule{Scope: ScopeTenant, Owner: owner, Upstream: upstream, Family: family, Period: p, Limit: limit}
}

// mustReserve reserves r n times and fails on any error.
func mustReserve(tb testing.TB, e *Engine, r Request, n int) []*Reservation {
	tb.Helper()
	var out []*Reservation
	for i := range n {
		res, err := e.Reserve(ctxT(tb), r)
		if err != nil {
			tb.Fatalf("Reserve(%+v) #%d = %v, want nil", r, i+1, err)
		}
		out = append(out, res)
	}
	return out
}

// rejected asserts err is a QuotaExceeded rejection and returns it.
func rejected(tb testing.TB, op string, err error) *apperr.Error {
	tb.Helper()
	ae, ok := apperr.As(err)
	if !ok || ae.Kind != apperr.QuotaExceeded {
		tb.Fatalf("%s = %v, want a quota_exceeded error", op, err)
	}
	return ae
}
