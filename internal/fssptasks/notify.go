package fssptasks

import (
	"context"
	"time"
)

// NotifyFunc receives the outcome of a Notify: the task when it became
// final or the wait ran out, or the error reading it (as Get's: NotFound,
// Gone, Unavailable). Both are nil when the engine released its waiters
// (Release, or Run ending): answer from the state already at hand. It may
// return work that can wait (bookkeeping after an answer is written): that
// runs once every waiter woken with it has been called.
type NotifyFunc func(t *Task, err error) (then func())

// Notify is Wait without a goroutine: it returns at once and calls fn once
// later, with the task when it becomes final (at once when it already is),
// with its state after d (capped at MaxWait), or with nil, nil when the
// engine releases its waiters. A server uses it to park thousands of long
// polls at the cost of a callback each.
//
// The caller must have seen the task as tenantID's (Get, GetShared) before.
// fn runs on one of a few goroutines shared by the waiters of a task: it
// must not block for long. ctx bounds only the read made before Notify
// returns.
func (e *Engine) Notify(ctx context.Context, tenantID, taskID string, d time.Duration, fn NotifyFunc) {
	d = min(max(d, 0), e.cfg.MaxWait)
	n := &notifier{fn: fn}
	// The timer is armed before the notifier is visible to a wake-up, so
	// that whichever claims it first can stop the other.
	n.timer = time.AfterFunc(d, func() {
		// Counted before the claim: Run waits for a callback that claimed
		// its notifier before Release, and any later one finds it claimed.
		e.hub.begin()
		defer e.hub.end()
		if !n.claimByTimer() {
			return
		}
		e.hub.unsubscribe(taskID, n)
		run(fn(e.GetShared(context.Background(), tenantID, taskID)))
	})
	if !e.hub.subscribe(taskID, n) {
		if n.claimByTimer() {
			n.timer.Stop()
			run(fn(nil, nil))
		}
		return
	}
	if n.fired.Load() {
		// The timer claimed it before it was subscribed (a very short wait
		// or a stalled goroutine): its unsubscribe found nothing to remove.
		e.hub.unsubscribe(taskID, n)
		return
	}
	// Watch before reading, so a wake-up between the two cannot be missed.
	t, err := e.GetShared(ctx, tenantID, taskID)
	if err != nil || t.Status.Final() {
		if n.claim() {
			e.hub.unsubscribe(taskID, n)
			run(fn(t, err))
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
