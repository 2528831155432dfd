package fssptasks_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
)

// stalling is a wrapper in front of the simulator that answers the first
// runningPolls /status calls of every task with "running", so that a task
// takes exactly runningPolls+1 status polls whatever the timing. It counts
// the calls it sees.
type stalling struct {
	running    atomic.Int64 // status polls answered "running" per task
	mu         sync.Mutex
	perTask    map[string]int
	status     atomic.Int64
	result     atomic.Int64
	lastResult atomic.Int64 // unix ns when the last /result was answered
}

// release makes every later status poll reach the simulator.
func (s *stalling) release() { s.running.Store(0) }

func (s *stalling) wrap(next http.Handler) http.Handler {
	s.perTask = map[string]int{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimSuffix(r.URL.Path, "/") {
		case "/status":
			s.status.Add(1)
			s.mu.Lock()
			id := r.URL.Query().Get("task")
			s.perTask[id]++
			n := s.perTask[id]
			s.mu.Unlock()
			if n <= int(s.running.Load()) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"status":"success","code":0,"exception":"","response":{"status":1,"progress":"0 of 1"}}`))
				return
			}
		case "/result":
			s.result.Add(1)
			next.ServeHTTP(w, r)
			s.lastResult.Store(time.Now().UnixNano())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// runWaiters submits tasks and has waitersPerTask requests wait on each; it
// returns the upstream status and result calls.
func runWaiters(t *testing.T, tasks, waitersPerTask int) (status, result int64) {
	t.Helper()
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor, cfg.RunFor = 0, 0
	st := &stalling{}
	st.running.Store(3)
	v := newEnv(t, cfg, st.wrap)
	ecfg := fastConfig(v.clock)
	ecfg.PollInitial, ecfg.PollMax = 60*time.Millisecond, 60*time.Millisecond
	e, _ := v.engine(ecfg, nil)
	ids := make([]string, tasks)
	for i := range ids {
		ids[i] = submit(t, e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП"))).ID
	}
	var wg sync.WaitGroup
	var bad atomic.Int64
	for _, id := range ids {
		for range waitersPerTask {
			wg.Go(func() {
				got, err := e.Wait(context.Background(), tenantA, id, 10*time.Second)
				if err != nil || got.Status != fssptasks.Succeeded {
					bad.Add(1)
				}
			})
		}
	}
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Fatalf("%d of %d waiters did not see a succeeded task", n, tasks*waitersPerTask)
	}
	v.stop() // the unused default engine
	return st.status.Load(), st.result.Load()
}

func TestWaitersDoNotPoll(t *testing.T) {
	s1, r1 := runWaiters(t, 10, 1)
	s1000, r1000 := runWaiters(t, 10, 100)
	if s1 != 40 || r1 != 10 {
		t.Errorf("1 waiter per task: %d status and %d result calls, want 40 and 10", s1, r1)
	}
	if s1000 != s1 || r1000 != r1 {
		t.Errorf("1000 waiters on 10 tasks: %d status and %d result calls, want the same as with 1 waiter (%d and %d)", s1000, r1000, s1, r1)
	}
}

func TestTakeover(t *testing.T) {
	cfg := simConfig()
	cfg.QueueFor, cfg.RunFor = 300*time.Millisecond, 300*time.Millisecond
	v := newEnv(t, cfg, nil)
	a, stopA := v.e, v.stop
	b, stopB := v.engine(fastConfig(v.clock), nil)
	task := submit(t, a, submission(tenantA, fssptasks.KindGroup, ip("1/21/77001-ИП"), physical(77, fsspsim.ManySurname, "И")))

	// Find the holder of the lease.
	var holder string
	deadline := time.Now().Add(2 * time.Second)
	for holder == "" && time.Now().Before(deadline) {
		holder, _ = v.rdb.Get(context.Background(), fssptasks.LeaseKey(task.ID)).Result()
		time.Sleep(5 * time.Millisecond)
	}
	survivor, stop := b, stopA
	switch holder {
	case fssptasks.InstanceOf(a):
	case fssptasks.InstanceOf(b):
		survivor, stop = a, stopB
	default:
		t.Fatalf("lease of %s = %q, want one of the engines", task.ID, holder)
	}
	// Waiters on the survivor, then the holder dies mid-task.
	var wg sync.WaitGroup
	results := make([]*fssptasks.Task, 20)
	for i := range results {
		wg.Go(func() { results[i], _ = survivor.Wait(context.Background(), tenantA, task.ID, 10*time.Second) })
	}
	time.Sleep(50 * time.Millisecond)
	if got, _ := survivor.Get(context.Background(), tenantA, task.ID); got.Status.Final() {
		t.Fatalf("task finished before the holder stopped: %s", got.Status)
	}
	stop()
	wg.Wait()
	for i, got := range results {
		if got == nil || got.Status != fssptasks.Succeeded || len(got.Results) != 2 {
			t.Fatalf("waiter %d on the survivor got %+v, want the succeeded task with 2 results", i, got)
		}
	}
	if lease, _ := v.rdb.Get(context.Background(), fssptasks.LeaseKey(task.ID)).Result(); lease != "" {
		t.Errorf("lease after the task finished = %q, want none", lease)
	}
	if n := v.sim.Kit.Calls.Get("GET /result"); n != 1 {
		t.Errorf("result calls = %d, want 1", n)
	}
}
