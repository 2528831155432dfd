package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/usage"
)

// redisGate holds the first Redis command whose arguments match until
// release is closed, and closes entered when it arrives.
type redisGate struct {
	match   func(args []any) bool
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func newRedisGate(match func(args []any) bool) *redisGate {
	return &redisGate{match: match, entered: make(chan struct{}), release: make(chan struct{})}
}

// naming matches a command with a string argument containing sub.
func naming(sub string) func([]any) bool {
	return func(args []any) bool {
		for _, a := range args {
			if s, ok := a.(string); ok && strings.Contains(s, sub) {
				return true
			}
		}
		return false
	}
}

func (g *redisGate) DialHook(next redis.DialHook) redis.DialHook { return next }
func (g *redisGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if g.match(cmd.Args()) {
			g.once.Do(func() { close(g.entered); <-g.release })
		}
		return next(ctx, cmd)
	}
}
func (g *redisGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestGarantCoalescedQuotaRejectionNotShared: tenants garant-beta (a tenant
// export limit of 0) and alpha (room) ask for the same uncached export at
// once. The two coalesce on beta's fill, which beta's quota refuses; alpha
// still gets the file, from its own fill.
func TestGarantCoalescedQuotaRejectionNotShared(t *testing.T) {
	gate := newRedisGate(naming(":q:tenant:garant-beta:"))
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
		d.Quotas = &usage.Reports{Quota: q}
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

// TestGarantMonitoringCachedWhenConfigured: with a TTL configured for the
// monitoring operations their answers carry Cache-Status and Age and honour
// the client's Cache-Control, like the other cached operations; by default
// they are not cached.
func TestGarantMonitoringCachedWhenConfigured(t *testing.T) {
	ops := []struct {
		path, route string
		body        any
	}{
		{"/v1/garant/monitoring/documents", "POST /v2/find-modified", map[string]any{"topics": []int{10103000}, "modDate": "2018-01-01"}},
		{"/v1/garant/monitoring/fragments", "POST /v2/block-on-control/changed",
			map[string]any{"fromDate": "2018-01-01", "urlArray": []string{"https://internet.garant.ru/#/document/10900200/entry/1"}}},
	}
	env := newGarantEnv(t, simConfig(), func(d *handlers.Deps) {
		d.Garant.TTL = map[string]time.Duration{"garantFindModified": time.Minute, "garantBlocksChanged": time.Minute}
	})
	plain := newGarantEnv(t, simConfig(), nil)
	for _, op := range ops {
		steps := []struct {
			hdr    []string
			status string
			calls  int
		}{
			{nil, cache.StatusStored, 1},
			{nil, cache.StatusHit, 1},
			{[]string{"Cache-Control", "no-cache"}, cache.StatusRefreshed, 2},
		}
		for i, st := range steps {
			status, h, body := env.send(t, "POST", op.path, keyAlpha, op.body, st.hdr...)
			if status != 200 || h.Get("Cache-Status") != st.status || (st.status == cache.StatusHit) != (h.Get("Age") != "") ||
				env.sim.Kit.Calls.Get(op.route) != st.calls {
				t.Errorf("%s #%d = %d Cache-Status %q Age %q after %d calls, want 200 %q after %d; %.200s", op.path, i, status,
					h.Get("Cache-Status"), h.Get("Age"), env.sim.Kit.Calls.Get(op.route), st.status, st.calls, body)
			}
		}
		for range 2 {
			if status, h, _ := plain.send(t, "POST", op.path, keyAlpha, op.body); status != 200 || h.Get("Cache-Status") != "" || h.Get("Age") != "" {
				t.Errorf("%s by default = %d Cache-Status %q Age %q, want 200 uncached", op.path, status, h.Get("Cache-Status"), h.Get("Age"))
			}
		}
		if n := plain.sim.Kit.Calls.Get(op.route); n != 2 {
			t.Errorf("%s by default: %d upstream calls for 2 requests, want 2", op.path, n)
		}
	}
}

// TestGarantFilesStreamedWhenNotStored: a binary answer that will not be
// stored (TTL 0, or Cache-Control: no-cache, no-store) is streamed from
// Garant with its type and length, and leaves no entry.
func TestGarantFilesStreamedWhenNotStored(t *testing.T) {
	env := newGarantEnv(t, simConfig(), func(d *handlers.Deps) {
		d.Garant.TTL = map[string]time.Duration{"garantExportTopic": 0}
	})
	for _, tc := range []struct {
		name, path, ct, prefix, status string
		hdr                            []string
	}{
		{"export, TTL 0", "/v1/garant/topics/10900200/export/pdf", "application/pdf", "%PDF", "", nil},
		{"image, no-cache no-store", fmt.Sprintf("/v1/garant/images/%d", garantsim.ImageExample), "image/png", "\x89PNG", cache.StatusBypass,
			[]string{"Cache-Control", "no-cache, no-store"}},
	} {
		for i := range 2 {
			status, h, body := env.send(t, "GET", tc.path, keyAlpha, nil, tc.hdr...)
			if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), tc.ct) || !bytes.HasPrefix(body, []byte(tc.prefix)) ||
				h.Get("Content-Length") != strconv.Itoa(len(body)) || h.Get("Cache-Status") != tc.status || h.Get("Age") != "" {
				t.Errorf("%s #%d = %d %q Content-Length %q of %d bytes, Cache-Status %q Age %q; want 200 %s streamed, Cache-Status %q",
					tc.name, i, status, h.Get("Content-Type"), h.Get("Content-Length"), len(body), h.Get("Cache-Status"), h.Get("Age"), tc.ct, tc.status)
			}
		}
	}
	if keys, _ := env.Redis.Client(t).Keys(context.Background(), "lg:gc:*").Result(); len(keys) != 0 {
		t.Errorf("entries after streamed answers = %v, want none", keys)
	}
	if n := env.sim.Kit.Calls.Get("GET /v2/topic/{topic}/download-pdf") + env.sim.Kit.Calls.Get("GET /v2/image/{object_id}"); n != 4 {
		t.Errorf("simulator calls = %d, want 4", n)
	}
}
