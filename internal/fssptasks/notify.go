package fssptasks

import (
	"context"
	"time"
)

// Notify is Wait without a goroutine: it returns at once and calls fn once
// later, with the task when it becomes final (at once when it already is),
// with its state after d (capped at MaxWait), or with nil when the task
// cannot be read any more or the engine releases its waiters (Release, or
// Run ending); fn then answers from the state it already has. A server uses
// it to park thousands of long polls at the cost of a callback each.
//
// The caller must have seen the task as tenantID's (Get, GetShared)
// before. fn runs on
// one of a few goroutines shared by the waiters of a task: it must not block
// for long. It may return work that can wait (bookkeeping after an answer
// is written): that runs once the waiters woken with it have been called.
// ctx bounds only the read made before Notify returns.
func (e *Engine) Notify(ctx context.Context, tenantID, taskID string, d time.Duration, fn func(*Task) (then func())) {
	d = min(max(d, 0), e.cfg.MaxWait)
	n := &notifier{fn: fn}
	// The timer is armed before the notifier is visible to a wake-up, so
	// that whichever claims it first can stop the other.
	n.timer = time.AfterFunc(d, func() {
		if !n.claim() {
			return
		}
		e.hub.unsubscribe(taskID, n)
		t, err := e.GetShared(context.Background(), tenantID, taskID)
		if err != nil {
			t = nil
		}
		run(fn(t))
	})
	if !e.hub.subscribe(taskID, n) {
		if n.claim() {
			run(fn(nil))
		}
		return
	}
	// Watch before reading, so a wake-up between the two cannot be missed.
	t, err := e.GetShared(ctx, tenantID, taskID)
	if err != nil || t.Status.Final() {
		if n.claim() {
			e.hub.unsubscribe(taskID, n)
			run(fn(t))
		}
	}
}

func run(f func()) {
	if f != nil {
		f()
	}
}

// GetShared is Get for long polls: concurrent reads of one task on this
// replica share one Redis round trip. The task may be shared: read-only.
func (e *Engine) GetShared(ctx context.Context, tenantID, taskID string) (*Task, error) {
	r, err := e.loadShared(ctx, taskID)
	if err != nil {
		return nil, err
	}
	return e.visible(r, tenantID, taskID)
}

// Release answers every waiter of this replica now, each with the state it
// has, and makes later waits answer at once: a server calls it when it
// starts shutting down, so long polls do not hold up the drain. Run ending
// releases the waiters too.
func (e *Engine) Release() { e.hub.release() }
