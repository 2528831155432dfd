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
	v.stop() // one engine polls: no takeover can add polls
	ecfg := fastConfig(v.clock)
	ecfg.PollInitial, ecfg.PollMax = 60*time.Millisecond, 60*time.Millisecond
	e, stop := v.engine(ecfg, nil)
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
	stop() // no poll after the count
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

// TestTakeover stops the engine holding a task's lease mid-task (it dies as
// far as the other is concerned: its lease is left to lapse); the other
// engine takes the task over, finishes it and wakes its waiters. FSSP keeps
// the task running until the holder is gone, so the holder never read
// /result and exactly one /result is expected.
func TestTakeover(t *testing.T) {
	cfg := simConfig()
	cfg.QueueFor, cfg.RunFor = 0, 0
	st := &stalling{}
	st.running.Store(1 << 30) // running until released below
	v := newEnv(t, cfg, st.wrap)
	a, stopA := v.e, v.stop
	b, stopB := v.engine(fastConfig(v.clock), nil)
	task := submit(t, a, submission(tenantA, fssptasks.KindGroup, ip("1/21/77001-ИП"), physical(77, fsspsim.ManySurname, "И")))

	// Find the holder of the lease, once it has polled.
	var holder string
	for deadline := time.Now().Add(5 * time.Second); holder == "" || st.status.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("lease of %s = %q and %d status polls after 5s, want a holder that polled", task.ID, holder, st.status.Load())
		}
		holder, _ = v.rdb.Get(context.Background(), fssptasks.LeaseKey(task.ID)).Result()
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
	errs := make([]error, len(results))
	for i := range results {
		wg.Go(func() { results[i], errs[i] = survivor.Wait(context.Background(), tenantA, task.ID, 20*time.Second) })
	}
	got, err := survivor.Get(context.Background(), tenantA, task.ID)
	if err != nil {
		t.Fatalf("Get(%s) = %v", task.ID, err)
	}
	if got.Status.Final() {
		t.Fatalf("task finished before the holder stopped: %s", got.Status)
	}
	stop()
	st.release()
	wg.Wait()
	for i, got := range results {
		if errs[i] != nil || got == nil || got.Status != fssptasks.Succeeded || len(got.Results) != 2 {
			t.Fatalf("waiter %d on the survivor got %+v, %v; want the succeeded task with 2 results", i, got, errs[i])
		}
	}
	// The poller releases its lease after it has stored the final state (and
	// so after the waiters woke): give it a moment.
	lease := "unread"
	for deadline := time.Now().Add(5 * time.Second); lease != "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		lease, _ = v.rdb.Get(context.Background(), fssptasks.LeaseKey(task.ID)).Result()
	}
	if lease != "" {
		t.Errorf("lease 5s after the task finished = %q, want none", lease)
	}
	if n := st.result.Load(); n != 1 {
		t.Errorf("result calls = %d, want 1", n)
	}
}
