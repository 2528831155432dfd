package handlers_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/quota"
)

// quotaGate holds the first Redis command naming match until release is
// closed, and closes entered when it does.
type quotaGate struct {
	match   string
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *quotaGate) DialHook(next redis.DialHook) redis.DialHook { return next }
func (g *quotaGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		for _, a := range cmd.Args() {
			if s, ok := a.(string); ok && strings.Contains(s, g.match) {
				g.once.Do(func() { close(g.entered); <-g.release })
				break
			}
		}
		return next(ctx, cmd)
	}
}
func (g *quotaGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestGarantCoalescedQuotaRejectionNotShared: tenants garant-beta (a tenant
// export limit of 0) and alpha (room) ask for the same uncached export at
// once. The two coalesce on beta's fill, which beta's quota refuses; alpha
// still gets the file, from its own fill.
func TestGarantCoalescedQuotaRejectionNotShared(t *testing.T) {
	gate := &quotaGate{match: ":q:tenant:garant-beta:", entered: make(chan struct{}), release: make(chan struct{})}
	env := newGarantEnv(t, simConfig(), func(d *handlers.Deps) {
		rdb := redis.NewClient(d.Redis.(*redis.Client).Options())
		t.Cleanup(func() { rdb.Close() })
		rdb.AddHook(gate)
		rules := []quota.Rule{
			{Scope: quota.ScopeCredential, Upstream: "garant", Family: quota.FamilyExport, Period: quota.PeriodMonth, Limit: 30},
			{Scope: quota.ScopeTenant, Owner: "garant-beta", Upstream: "garant", Family: quota.FamilyExport, Period: quota.PeriodMonth, Limit: 0},
		}
		q, err := quota.New(rdb, quota.Config{Rules: rules, Timeout: 5 * time.Second}, prometheus.NewRegistry())
		must(t, err)
		d.Quota = q
	})
	path := "/v1/garant/topics/10900200/export/pdf"
	type answer struct {
		status int
		body   []byte
	}
	beta, alpha := make(chan answer, 1), make(chan answer, 1)
	go func() {
		status, _, body := env.send(t, "GET", path, keyGarantBeta, nil)
		beta <- answer{status, body}
	}()
	<-gate.entered // beta's fill is reserving
	go func() {
		status, _, body := env.send(t, "GET", path, keyAlpha, nil)
		alpha <- answer{status, body}
	}()
	time.Sleep(300 * time.Millisecond) // alpha joins beta's fill (if it is late, the test passes without checking)
	close(gate.release)
	if a := <-beta; a.status != 429 {
		t.Errorf("export by the tenant without room = %d %s, want 429", a.status, a.body)
	}
	if a := <-alpha; a.status != 200 || !bytes.HasPrefix(a.body, []byte("%PDF")) {
		t.Errorf("export by the tenant with room = %d %.200s, want 200 with the PDF", a.status, a.body)
	}
	if n := env.sim.Kit.Calls.Get("GET /v2/topic/{topic}/download-pdf"); n != 1 {
		t.Errorf("simulator export calls = %d, want 1", n)
	}
}
