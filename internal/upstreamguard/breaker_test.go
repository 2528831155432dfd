package upstreamguard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
	"github.com/legalgate/legalgate/internal/upstreamguard"
)

// The credential every test guards.
const cred = "garant-main"

// rig is a Garant simulator over real HTTP behind a guarded client.
type rig struct {
	sim    *garantsim.Server
	url    string
	guard  *upstreamguard.Guard
	client *garant.Client
	reg    *prometheus.Registry
	sent   *sends // the requests the guard let go
}

// newRig guards credential cred (rate 20, Garant's 429s retried) with cfg
// over Redis rdb (nil: no pacing), and calls simCfg's simulator with
// timeout per call.
func newRig(t *testing.T, rdb redis.UniversalClient, cfg upstreamguard.Config, simCfg garantsim.Config, timeout time.Duration) *rig {
	t.Helper()
	sim := garantsim.New(simCfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return newRigAt(t, rdb, cfg, sim, srv.URL, timeout)
}

func newRigAt(t *testing.T, rdb redis.UniversalClient, cfg upstreamguard.Config, sim *garantsim.Server, url string, timeout time.Duration) *rig {
	t.Helper()
	cfg.Credentials = []upstreamguard.Credential{{Upstream: "garant", Name: cred, Rate: 20}}
	cfg.RetryTooManyRequests = []string{"garant"}
	if cfg.RedisTimeout == 0 {
		// Under -race on a loaded machine a Redis call may take long; a
		// replica pacing alone is TestPaceWithoutRedis's subject.
		cfg.RedisTimeout = 2 * time.Second
	}
	reg := prometheus.NewRegistry()
	g, err := upstreamguard.New(rdb, cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	sent := &sends{next: tr}
	c, err := garant.New(garant.Config{BaseURL: url, Timeout: timeout, Transport: g.Transport("garant", sent)})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{sim: sim, url: url, guard: g, client: c, reg: reg, sent: sent}
}

// prime calls a free method with the guarded credential.
func (r *rig) prime(ctx context.Context) error {
	_, err := r.client.PrimeCategories(tenant.WithCredential(ctx, cred), tenant.NewSecret(garantsim.DemoToken))
	return err
}

// state is the value of gateway_upstream_breaker_state.
func (r *rig) state(t *testing.T) float64 {
	t.Helper()
	for _, mf := range mustGather(t, r.reg) {
		if mf.GetName() == "gateway_upstream_breaker_state" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no gateway_upstream_breaker_state")
	return 0
}

// refusedOpen checks err is the open breaker's 503: Unavailable, ErrOpen in
// its chain, a Retry-After.
func refusedOpen(t *testing.T, what string, err error) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Unavailable || !errors.Is(err, upstreamguard.ErrOpen) || e.RetryAfter < time.Second || e.Upstream != "garant" {
		t.Fatalf("%s = %v, want an Unavailable refusal with ErrOpen and a Retry-After", what, err)
	}
}

// TestBreakerOpensOn503: with Garant answering 503, 40 calls (4 at a time)
// reach it at most 15 times; the others are refused with a 503 and
// Retry-After, Check refuses before anything is reserved, and the state
// metric says open.
func TestBreakerOpensOn503(t *testing.T) {
	r := newRig(t, nil, upstreamguard.Config{}, garantsim.DefaultConfig(), 5*time.Second)
	r.sim.Kit.SetFault(&simkit.Fault{Status: 503})
	ctx := redistest.Ctx(t, 30*time.Second)
	var mu sync.Mutex
	var refused []error
	var wg sync.WaitGroup
	next := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for range next {
				err := r.prime(ctx)
				if errors.Is(err, upstreamguard.ErrOpen) {
					mu.Lock()
					refused = append(refused, err)
					mu.Unlock()
				} else if apperr.KindOf(err) != apperr.UpstreamFailed {
					t.Errorf("a call reaching the failing Garant = %v, want UpstreamFailed", err)
				}
			}
		})
	}
	for range 40 {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	calls := r.sim.Kit.Calls.Total()
	t.Logf("40 calls, Garant answering 503: %d reached it, %d refused", calls, len(refused))
	if calls > 15 || calls < 5 {
		t.Errorf("Garant saw %d calls, want between 5 (the breaker's threshold) and 15", calls)
	}
	if len(refused) != 40-calls {
		t.Errorf("%d calls refused, want the %d that did not reach Garant", len(refused), 40-calls)
	}
	refusedOpen(t, "a call while open", refused[0])
	refusedOpen(t, "Check while open", r.guard.Check("garant", cred))
	if err := r.guard.Check("fssp", cred); err != nil {
		t.Errorf("Check(fssp, %s) = %v, want nil: the credential is Garant's", cred, err)
	}
	if got := r.state(t); got != 2 {
		t.Errorf("gateway_upstream_breaker_state = %v, want 2 (open)", got)
	}
	if got := r.guard.Breakers(); len(got) != 1 || got[0].State != upstreamguard.Open || got[0].Credential != cred {
		t.Errorf("Breakers() = %+v, want %s open", got, cred)
	}
	if problems, err := promlint.NewWithMetricFamilies(mustGather(t, r.reg)).Lint(); err != nil || len(problems) > 0 {
		t.Errorf("promlint = %v, %v", problems, err)
	}
}

func mustGather(t *testing.T, reg *prometheus.Registry) []*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// TestBreakerFailsFastWhileHanging: with Garant hanging, the calls after
// the breaker opened answer in a small fraction of the upstream timeout.
func TestBreakerFailsFastWhileHanging(t *testing.T) {
	const timeout = 2 * time.Second
	r := newRig(t, nil, upstreamguard.Config{Failures: 2}, garantsim.DefaultConfig(), timeout)
	r.sim.Kit.SetFault(&simkit.Fault{Hang: true})
	ctx := redistest.Ctx(t, 30*time.Second)
	for i := range 2 {
		if err := r.prime(ctx); apperr.KindOf(err) != apperr.UpstreamTimeout {
			t.Fatalf("call %d to a hanging Garant = %v, want UpstreamTimeout", i, err)
		}
	}
	var slowest time.Duration
	for i := range 20 {
		start := time.Now()
		err := r.prime(ctx)
		slowest = max(slowest, time.Since(start))
		refusedOpen(t, fmt.Sprintf("call %d after the breaker opened", i), err)
	}
	t.Logf("after the breaker opened, the slowest of 20 calls took %v (upstream timeout %v)", slowest, timeout)
	if slowest > timeout/4 { // about 0.1 ms on an idle machine; room for -race on a busy one
		t.Errorf("a call after the breaker opened took %v, want well under the %v upstream timeout", slowest, timeout)
	}
	if n := r.sim.Kit.Calls.Total(); n != 2 {
		t.Errorf("Garant saw %d calls, want the 2 that opened the breaker", n)
	}
}

// TestBreakerFailures: which answers open the breaker.
func TestBreakerFailures(t *testing.T) {
	tests := []struct {
		name  string
		fault simkit.Fault
		opens bool
	}{
		{"connection reset", simkit.Fault{Reset: true}, true},
		{"500", simkit.Fault{Status: 500}, true},
		{"504", simkit.Fault{Status: 504}, true},
		{"404 is an answer", simkit.Fault{Status: 404}, false},
		{"429 is an answer", simkit.Fault{Status: 429}, false},
		{"400 is an answer", simkit.Fault{Status: 400, Body: `{"error":"bad"}`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, nil, upstreamguard.Config{Failures: 3}, garantsim.DefaultConfig(), 2*time.Second)
			r.sim.Kit.SetFault(&tt.fault)
			ctx := redistest.Ctx(t, 30*time.Second)
			for range 10 {
				_ = r.prime(ctx)
			}
			want := 10
			if tt.opens {
				want = 3
			}
			if n := r.sim.Kit.Calls.Total(); n != want {
				t.Errorf("10 calls reached Garant %d times, want %d", n, want)
			}
		})
	}
}

// TestBreakerIgnoresCancelledCalls: callers that give up do not open it.
func TestBreakerIgnoresCancelledCalls(t *testing.T) {
	r := newRig(t, nil, upstreamguard.Config{Failures: 2}, garantsim.DefaultConfig(), 5*time.Second)
	r.sim.Kit.SetFault(&simkit.Fault{Hang: true})
	for range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		_ = r.prime(ctx)
	}
	if err := r.guard.Check("garant", cred); err != nil {
		t.Errorf("Check after 5 cancelled calls = %v, want the breaker closed", err)
	}
}

// TestBreakerHalfOpen: after OpenFor one probe goes through; its success
// closes the breaker, its failure opens it again.
func TestBreakerHalfOpen(t *testing.T) {
	const openFor = 300 * time.Millisecond
	r := newRig(t, nil, upstreamguard.Config{Failures: 2, OpenFor: openFor}, garantsim.DefaultConfig(), 2*time.Second)
	ctx := redistest.Ctx(t, 30*time.Second)
	open := func() {
		r.sim.Kit.SetFault(&simkit.Fault{Status: 503})
		for range 2 {
			_ = r.prime(ctx)
		}
		refusedOpen(t, "a call after two 503s", r.prime(ctx))
	}
	open()
	time.Sleep(openFor + 50*time.Millisecond)
	before := r.sim.Kit.Calls.Total()
	if err := r.prime(ctx); apperr.KindOf(err) != apperr.UpstreamFailed || r.sim.Kit.Calls.Total() != before+1 {
		t.Fatalf("the probe = %v (%d calls), want it sent and failing", err, r.sim.Kit.Calls.Total()-before)
	}
	refusedOpen(t, "a call after a failed probe", r.prime(ctx))

	time.Sleep(openFor + 50*time.Millisecond)
	r.sim.Kit.SetFault(nil)
	if err := r.prime(ctx); err != nil {
		t.Fatalf("the probe to a recovered Garant = %v, want success", err)
	}
	if got := r.state(t); got != 0 {
		t.Errorf("gateway_upstream_breaker_state after a good probe = %v, want 0 (closed)", got)
	}
	for range 3 {
		if err := r.prime(ctx); err != nil {
			t.Errorf("a call after the breaker closed = %v", err)
		}
	}
	open()
}
