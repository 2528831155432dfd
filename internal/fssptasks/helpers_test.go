package fssptasks_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
)

const (
	tenantA = "acme"
	tenantB = "globex"
	cred    = "fssp-main"
)

var token = tenant.NewSecret(fsspsim.DemoToken)

// clock is an engine clock that tests can move forward.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time           { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration)  { c.offset.Add(int64(d)) }
func ptr[T any](v T) *T                   { return &v }
func quiet() *slog.Logger                 { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func tokens(string) (tenant.Secret, bool) { return token, true }

// env is one test's Redis, simulator and engine.
type env struct {
	t      testing.TB
	rdb    *redis.Client
	sim    *fsspsim.Server
	url    string
	client *fssp.Client
	clock  *clock
	e      *fssptasks.Engine
	stop   context.CancelFunc
}

// fastConfig polls every few milliseconds.
func fastConfig(c *clock) fssptasks.Config {
	return fssptasks.Config{
		PollInitial: 15 * time.Millisecond, PollMax: 40 * time.Millisecond,
		ScanInterval: 20 * time.Millisecond, LeaseTTL: 2 * time.Second, Recheck: 200 * time.Millisecond,
		MaxWait: 10 * time.Second, Tokens: tokens, Now: c.Now,
	}
}

// simConfig is a simulator whose tasks queue and run for a few ms.
func simConfig() fsspsim.Config {
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor, cfg.RunFor = 20*time.Millisecond, 60*time.Millisecond
	return cfg
}

// newEnv starts Redis, the simulator (behind wrap, if any) and one engine.
func newEnv(t testing.TB, simCfg fsspsim.Config, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	srv := redistest.Start(t)
	sim := fsspsim.New(simCfg)
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	client, err := fssp.New(fssp.Config{BaseURL: ts.URL, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	v := &env{t: t, rdb: srv.Client(t), sim: sim, url: ts.URL, client: client, clock: &clock{}}
	v.e, v.stop = v.engine(fastConfig(v.clock), nil)
	return v
}

// engine starts another engine on the environment's Redis and simulator.
func (v *env) engine(cfg fssptasks.Config, reserve fssptasks.Reserve) (*fssptasks.Engine, context.CancelFunc) {
	v.t.Helper()
	return v.run(fssptasks.New(v.rdb, v.client, reserve, cfg, prometheus.NewRegistry(), quiet()))
}

// run runs e until the test ends or the returned stop is called.
func (v *env) run(e *fssptasks.Engine) (*fssptasks.Engine, context.CancelFunc) {
	v.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = e.Run(ctx) })
	stop := sync.OnceFunc(func() { cancel(); wg.Wait() })
	v.t.Cleanup(stop)
	select {
	case <-e.Ready():
	case <-time.After(5 * time.Second):
		v.t.Fatal("engine did not subscribe within 5s")
	}
	return e, stop
}

func physical(region int, last, first string) fssptasks.Query {
	return fssptasks.Query{Type: fssptasks.KindPhysical, Params: fssptasks.Params{Region: &region, Lastname: &last, Firstname: &first}}
}

func legal(region int, name string, address *string) fssptasks.Query {
	return fssptasks.Query{Type: fssptasks.KindLegal, Params: fssptasks.Params{Region: &region, Name: &name, Address: address}}
}

func ip(number string) fssptasks.Query {
	return fssptasks.Query{Type: fssptasks.KindIP, Params: fssptasks.Params{Number: &number}}
}

func submission(tenantID, kind string, qs ...fssptasks.Query) fssptasks.Submission {
	return fssptasks.Submission{Tenant: tenantID, Credential: cred, Token: token, Kind: kind, Requests: qs}
}

// submit submits s on e and fails the test on error.
func submit(t testing.TB, e *fssptasks.Engine, s fssptasks.Submission) *fssptasks.Task {
	t.Helper()
	sub, err := e.Submit(context.Background(), s)
	if err != nil {
		t.Fatalf("Submit(%s %d requests) = %v", s.Kind, len(s.Requests), err)
	}
	return sub.Task
}

// waitFinal waits for a final task.
func waitFinal(t *testing.T, e *fssptasks.Engine, tenantID, id string) *fssptasks.Task {
	t.Helper()
	task, err := e.Wait(context.Background(), tenantID, id, 10*time.Second)
	if err != nil {
		t.Fatalf("Wait(%s) = %v", id, err)
	}
	if !task.Status.Final() {
		t.Fatalf("Wait(%s) = status %s after 10s, want a final status", id, task.Status)
	}
	return task
}
