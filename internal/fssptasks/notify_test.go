package fssptasks_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/fssptasks"
)

// notified collects the calls of Notify callbacks.
type notified struct {
	mu    sync.Mutex
	got   []*fssptasks.Task
	errs  []error
	calls atomic.Int64
	all   chan struct{}
	want  int64
}

func newNotified(want int) *notified {
	return &notified{all: make(chan struct{}), want: int64(want)}
}

func (n *notified) fn(t *fssptasks.Task, err error) func() {
	n.mu.Lock()
	n.got = append(n.got, t)
	n.errs = append(n.errs, err)
	n.mu.Unlock()
	if n.calls.Add(1) == n.want {
		close(n.all)
	}
	return nil
}

func (n *notified) wait(t *testing.T, within time.Duration) []*fssptasks.Task {
	t.Helper()
	select {
	case <-n.all:
	case <-time.After(within):
		t.Fatalf("%d of %d notifications after %v", n.calls.Load(), n.want, within)
	}
	time.Sleep(20 * time.Millisecond) // a second call of one callback would show now
	n.mu.Lock()
	defer n.mu.Unlock()
	if int64(len(n.got)) != n.want {
		t.Fatalf("%d notifications, want exactly %d (one per Notify)", len(n.got), n.want)
	}
	return n.got
}

// stalledTask submits a task that stays running until st.release().
func stalledTask(t *testing.T) (*env, *stalling, string) {
	t.Helper()
	st := &stalling{}
	st.running.Store(1 << 30)
	v := newEnv(t, simConfig(), st.wrap)
	return v, st, submit(t, v.e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП"))).ID
}

// TestNotifyHoldsNoGoroutine parks 2000 notifiers on a running task: the
// process gains no goroutine per waiter, and each is called once with the
// final task.
func TestNotifyHoldsNoGoroutine(t *testing.T) {
	st := &stalling{}
	st.running.Store(1 << 30) // running until released
	v := newEnv(t, simConfig(), st.wrap)
	id := submit(t, v.e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП"))).ID
	const n = 2000
	got := newNotified(n)
	before := runtime.NumGoroutine()
	for range n {
		v.e.Notify(context.Background(), tenantA, id, 10*time.Second, got.fn)
	}
	if grew := runtime.NumGoroutine() - before; grew > 20 {
		t.Errorf("%d notifiers added %d goroutines, want none per waiter", n, grew)
	}
	if c := got.calls.Load(); c != 0 {
		t.Fatalf("%d notifications before the task finished, want 0", c)
	}
	st.release()
	for i, task := range got.wait(t, 10*time.Second) {
		if task == nil || task.Status != fssptasks.Succeeded {
			t.Fatalf("notification %d = %v, want the succeeded task", i, task)
		}
	}
}

// TestNotifyFinalAtOnce: a task already final is notified before Notify
// returns.
func TestNotifyFinalAtOnce(t *testing.T) {
	v := newEnv(t, simConfig(), nil)
	id := submit(t, v.e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП"))).ID
	waitFinal(t, v.e, tenantA, id)
	got := newNotified(1)
	v.e.Notify(context.Background(), tenantA, id, 10*time.Second, got.fn)
	if got.calls.Load() != 1 {
		t.Fatal("Notify on a final task did not call back before returning")
	}
	if task := got.wait(t, time.Second)[0]; task == nil || !task.Status.Final() {
		t.Errorf("Notify on a final task = %v, want the final task", task)
	}
}

// TestNotifyTimesOut: after d the callback gets the task's current,
// unfinished state.
func TestNotifyTimesOut(t *testing.T) {
	v, _, id := stalledTask(t)
	got := newNotified(1)
	start := time.Now()
	v.e.Notify(context.Background(), tenantA, id, time.Second, got.fn)
	task := got.wait(t, 5*time.Second)[0]
	if d := time.Since(start); d < time.Second {
		t.Errorf("notified after %v, want the full 1s wait", d)
	}
	if task == nil || task.Status.Final() || task.ID != id {
		t.Errorf("timed-out notification = %+v, want the unfinished task %s", task, id)
	}
}

// TestRelease answers every notifier and blocked waiter at once, and later
// waits do not wait.
func TestRelease(t *testing.T) {
	v, _, id := stalledTask(t)
	got := newNotified(11)
	for range 10 {
		v.e.Notify(context.Background(), tenantA, id, 10*time.Second, got.fn)
	}
	blocked := make(chan *fssptasks.Task, 1)
	go func() {
		task, _ := v.e.Wait(context.Background(), tenantA, id, 10*time.Second)
		blocked <- task
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	v.e.Release()
	select {
	case task := <-blocked:
		if task == nil || task.Status.Final() {
			t.Errorf("released Wait = %v, want the unfinished task", task)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a blocked Wait was not released")
	}
	v.e.Notify(context.Background(), tenantA, id, 10*time.Second, got.fn) // after Release: at once
	for i, task := range got.wait(t, 2*time.Second) {
		if task != nil {
			t.Errorf("released notification %d = %v, want nil (answer with the state you have)", i, task)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("release took %v, want at once", d)
	}
}

// TestNotifyOtherTenant: a task of another tenant is never handed over:
// the callback gets Get's NotFound.
func TestNotifyOtherTenant(t *testing.T) {
	v := newEnv(t, simConfig(), nil)
	id := submit(t, v.e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП"))).ID
	got := newNotified(1)
	v.e.Notify(context.Background(), "someone-else", id, 10*time.Second, got.fn)
	task := got.wait(t, time.Second)[0]
	if err := got.errs[0]; task != nil || apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("Notify for another tenant = %+v, %v; want nil and NotFound", task, err)
	}
}

// TestNotifyTimerBeforeSubscribe: waits too short to be subscribed in time
// leave nothing registered behind.
func TestNotifyTimerBeforeSubscribe(t *testing.T) {
	v, _, id := stalledTask(t)
	const n = 2000
	got := newNotified(n)
	for range n {
		v.e.Notify(context.Background(), tenantA, id, time.Nanosecond, got.fn)
	}
	got.wait(t, 10*time.Second)
	if w := fssptasks.WaitersOf(v.e); w != 0 {
		t.Errorf("%d notifiers still registered after all %d were answered, want 0", w, n)
	}
}

// TestNotifyThenRunsAfterTheBatch: the work a callback leaves for later
// runs after every waiter of its batch was called.
func TestNotifyThenRunsAfterTheBatch(t *testing.T) {
	v, st, id := stalledTask(t)
	const n = 100 // one batch
	var called, thens atomic.Int64
	var early atomic.Bool
	var wg sync.WaitGroup
	wg.Add(n)
	for range n {
		v.e.Notify(context.Background(), tenantA, id, 10*time.Second, func(*fssptasks.Task, error) func() {
			called.Add(1)
			return func() {
				if called.Load() != n {
					early.Store(true)
				}
				thens.Add(1)
				wg.Done()
			}
		})
	}
	st.release()
	wg.Wait()
	if early.Load() || thens.Load() != n {
		t.Errorf("later work: %d runs, early %v; want %d, each after all %d callbacks", thens.Load(), early.Load(), n, n)
	}
}
