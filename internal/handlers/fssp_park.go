package handlers

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/legalgate/legalgate/internal/fssptasks"
)

// fsspParked is the answer of a long poll on a task that is not final yet:
// on HTTP/1.x the connection is parked (park.go) and answered by the task
// engine's wake-up, holding no goroutine meanwhile (taking the connection
// over clears its deadlines; the answer sets its own); otherwise the request
// waits the usual way, its write deadline moved past the wait.
type fsspParked struct {
	h        fsspHandlers
	ctx      context.Context
	tenantID string
	snapshot *fssptasks.Task // the state before waiting, answered when the waiters are released
	wait     time.Duration
	release  func() // the poll's fair-share slot, released once it is answered
}

func (a *fsspParked) VisitFsspGetTaskResponse(w http.ResponseWriter) error {
	p, ok := a.h.lot.park(a.ctx, w)
	if !ok {
		defer a.release()
		awaitDeadline(w, a.wait, a.h.deps.Limits)
		task, err := a.h.tasks.Wait(a.ctx, a.tenantID, a.snapshot.ID, a.wait)
		if err != nil {
			return err
		}
		answer, err := a.h.taskAnswer(a.tenantID, task)
		if err != nil {
			return err
		}
		return answer.VisitFsspGetTaskResponse(w)
	}
	snapshot, h, tenantID, release := a.snapshot, a.h, a.tenantID, a.release
	a.h.tasks.Notify(a.ctx, a.tenantID, a.snapshot.ID, a.wait, func(t *fssptasks.Task, err error) (then func()) {
		release()
		return p.guard(func() func() {
			switch {
			case err != nil:
				return p.answerError(err)
			case t == nil: // released: the gateway is shutting down
				t = snapshot
			}
			body, err := h.bodies.get(tenantID, t)
			if err != nil {
				return p.answerError(err)
			}
			if t.Status.Final() {
				return p.answer(http.StatusOK, "application/json", body.body)
			}
			return p.answer(http.StatusOK, "application/json", body.body, "Retry-After", strconv.Itoa(h.retryAfter()))
		})
	})
	return nil
}
