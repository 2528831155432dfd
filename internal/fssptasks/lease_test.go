package fssptasks_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

// countingTransport counts one engine's upstream calls by path.
type countingTransport struct {
	status, result atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/status":
		c.status.Add(1)
	case "/result":
		c.result.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestLeaseHeldDuringSlowPoll has FSSP answer /status slower than the lease
// lasts: the poller renews its lease during the call, so the other engine,
// scanning all the while, never takes the task over and never polls.
func TestLeaseHeldDuringSlowPoll(t *testing.T) {
	cfg := simConfig()
	cfg.QueueFor, cfg.RunFor = 0, 0
	v := newEnv(t, cfg, nil)
	v.stop()
	const lease = time.Second
	engines := make([]*fssptasks.Engine, 2)
	counts := make([]*countingTransport, 2)
	for i := range engines {
		counts[i] = &countingTransport{}
		client, err := fssp.New(fssp.Config{BaseURL: v.url, Transport: counts[i], Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ecfg := fastConfig(v.clock)
		ecfg.LeaseTTL = lease
		engines[i], _ = v.run(fssptasks.New(v.rdb, client, nil, ecfg, nil, quiet()))
	}
	v.sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/status", Latency: simkit.Duration(lease + lease/2)})
	task := submit(t, engines[0], submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП")))
	got, err := engines[1].Wait(context.Background(), tenantA, task.ID, 10*time.Second)
	if err != nil || got.Status != fssptasks.Succeeded {
		t.Fatalf("Wait(%s) = %+v, %v; want succeeded", task.ID, got, err)
	}
	a, b := counts[0].status.Load(), counts[1].status.Load()
	if (a == 0) == (b == 0) {
		t.Errorf("status polls by engine = %d and %d, want one engine to poll and the other none", a, b)
	}
	if n := counts[0].result.Load() + counts[1].result.Load(); n != 1 {
		t.Errorf("result calls = %d, want 1", n)
	}
}

// TestLeaseLostStopsPolling takes a task's lease away from its poller in the
// middle of a /status call that would last a minute: the poller cancels the
// call and gives the task up without saving; the thief's lease stays.
func TestLeaseLostStopsPolling(t *testing.T) {
	cfg := simConfig()
	cfg.QueueFor = time.Hour
	entered := make(chan struct{}, 1)
	v := newEnv(t, cfg, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/status" {
				select {
				case entered <- struct{}{}:
				default:
				}
				<-r.Context().Done() // no answer until the poller gives up
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	v.stop()
	// A client that would wait far longer than the test for the answer.
	client, err := fssp.New(fssp.Config{BaseURL: v.url, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ecfg := fastConfig(v.clock)
	ecfg.LeaseTTL = 300 * time.Millisecond // renewed every 100ms: the theft is seen within that
	e, _ := v.run(fssptasks.New(v.rdb, client, nil, ecfg, nil, quiet()))
	task := submit(t, e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП")))
	<-entered
	if err := v.rdb.Set(context.Background(), fssptasks.LeaseKey(task.ID), "thief", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for deadline := start.Add(10 * time.Second); fssptasks.Driving(e, task.ID); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the poller still waits for /status 10s after its lease was taken")
		}
	}
	if lease := v.rdb.Get(context.Background(), fssptasks.LeaseKey(task.ID)).Val(); lease != "thief" {
		t.Errorf("lease = %q, want the thief's", lease)
	}
	got, err := e.Get(context.Background(), tenantA, task.ID)
	if err != nil || got.Status != fssptasks.Queued || got.UpdatedAt != got.CreatedAt {
		t.Errorf("Get(%s) = %+v, %v; want the task as submitted (nothing saved by the old poller)", task.ID, got, err)
	}
}

// TestScanReadsOnlyDueTasks keeps many tasks leased by one engine while
// another scans: the scan's one Redis call returns none of them.
func TestScanReadsOnlyDueTasks(t *testing.T) {
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor = time.Hour
	v := newEnv(t, cfg, nil)
	for range 20 {
		submit(t, v.e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП")))
	}
	// Once the engine holds every lease, nothing is due.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		due, err := fssptasks.Due(context.Background(), v.e)
		if err != nil {
			t.Fatalf("Due() = %v", err)
		}
		if len(due) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Due() = %d tasks 5s after submission, want none while their poller lives", len(due))
		}
	}
	// Its poller dies: each task becomes due once its lease lapses.
	v.stop()
	due := 0
	for deadline := time.Now().Add(5 * time.Second); due < 20 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ids, err := fssptasks.Due(context.Background(), v.e)
		if err != nil {
			t.Fatalf("Due() = %v", err)
		}
		due = len(ids)
	}
	if due != 20 {
		t.Errorf("Due() after the poller stopped = %d tasks, want 20", due)
	}
}

// TestLeaseAcquireRetried: go-redis sends a command again when the
// connection breaks before its answer, though Redis may have run it. The
// lease the first run took is this instance's: it must not take it for
// another's and leave the task unpolled until the lease lapses.
func TestLeaseAcquireRetried(t *testing.T) {
	rs := redistest.Start(t)
	proxy := redistest.NewCutProxy(t, rs.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), Protocol: 2}) // go-redis's default retries
	t.Cleanup(func() { _ = rdb.Close() })
	e := fssptasks.New(rdb, nil, nil, fastConfig(&clock{}), nil, quiet())
	ctx := context.Background()
	// Load the scripts first: the lost answer must be to a command Redis
	// ran (a first EVALSHA only answers NOSCRIPT).
	if ok, err := fssptasks.Acquire(ctx, e, "warm"); !ok || err != nil {
		t.Fatalf("Acquire(warm) = %v, %v", ok, err)
	}
	proxy.Arm(fssptasks.LeaseKey("t1")) // the command that takes the lease, whatever it is
	if ok, err := fssptasks.Acquire(ctx, e, "t1"); !ok || err != nil {
		t.Fatalf("Acquire() with its answer lost = %v, %v; want the lease", ok, err)
	}
	if proxy.Cuts() != 1 {
		t.Fatalf("the proxy lost %d answers, want 1: the test did not exercise the retry", proxy.Cuts())
	}
	if got, err := rs.Client(t).Get(ctx, fssptasks.LeaseKey("t1")).Result(); err != nil || got != fssptasks.InstanceOf(e) {
		t.Errorf("lease holder = %q (%v), want this engine %q", got, err, fssptasks.InstanceOf(e))
	}
}

// TestAdoptOnePollerPerReplica: the kick loop and the scan may adopt a task
// at once, and the lease script counts a lease this instance already holds
// as taken; still only one poller runs.
func TestAdoptOnePollerPerReplica(t *testing.T) {
	cfg := simConfig()
	cfg.QueueFor = time.Hour
	var inFlight atomic.Int32
	release := make(chan struct{})
	v := newEnv(t, cfg, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/status" {
				inFlight.Add(1)
				select { // hold the poll: a second poller would show as a second call in flight
				case <-release:
				case <-r.Context().Done():
				}
				inFlight.Add(-1)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	v.stop()
	defer close(release)
	e, _ := v.run(fssptasks.New(v.rdb, v.client, nil, fastConfig(v.clock), nil, quiet()))
	task := submit(t, e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП")))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	var start sync.WaitGroup
	start.Add(1)
	var callers sync.WaitGroup
	for range 16 {
		callers.Go(func() { start.Wait(); fssptasks.Adopt(ctx, e, &wg, task.ID) })
	}
	start.Done()
	callers.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for inFlight.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // time for any second poller to reach /status
	if n := inFlight.Load(); n != 1 {
		t.Fatalf("/status calls in flight for one task = %d, want 1 poller", n)
	}
}
