package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/park"
)

// fsspParked is the answer of a long poll on a task that is not final yet:
// when internal/park takes its connection over, the task engine's wake-up
// answers it, holding no goroutine meanwhile (taking the connection over
// clears its deadlines; the answer sets its own); otherwise the request
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
	info := infoFrom(a.ctx)
	p, ok := a.h.lot.Park(w, exchangeFrom(a.ctx).r, info.detach)
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
	snapshot, h, tenantID, release, log := a.snapshot, a.h, a.tenantID, a.release, a.h.deps.Log
	a.h.tasks.Notify(a.ctx, a.tenantID, a.snapshot.ID, a.wait, func(t *fssptasks.Task, err error) (then func()) {
		release()
		// The engine's goroutine answers, outside every middleware: a panic
		// is recovered and logged here as the recover middleware would.
		defer func() {
			if v := recover(); v != nil {
				then = answerParkedError(p, log, info, recovered(log, info.id, v))
			}
		}()
		switch {
		case err != nil:
			return answerParkedError(p, log, info, err)
		case t == nil: // released: the gateway is shutting down
			t = snapshot
		}
		body, err := h.bodies.get(tenantID, t)
		if err != nil {
			return answerParkedError(p, log, info, err)
		}
		if t.Status.Final() {
			return p.Answer(http.StatusOK, "application/json", body.body)
		}
		return p.Answer(http.StatusOK, "application/json", body.body, "Retry-After", strconv.Itoa(h.retryAfter()))
	})
	return nil
}

// answerParkedError answers err on a parked request as writeError answers
// one the server still holds: the same problem, log line and header fields.
func answerParkedError(p *park.Conn, log *slog.Logger, info *reqInfo, err error) (then func()) {
	prob, e := problemOf(err, info)
	info.errKind = e.Kind.String()
	logFailure(context.Background(), log, info, prob.Status, e, err)
	b, mErr := json.Marshal(prob)
	if mErr != nil {
		b = []byte(`{"title":"Internal Server Error","status":500}`)
		prob.Status = http.StatusInternalServerError
	}
	h := http.Header{}
	errorHeader(h, e)
	var extra []string
	for k, vs := range h {
		for _, v := range vs {
			extra = append(extra, k, v)
		}
	}
	return p.Answer(prob.Status, "application/problem+json", b, extra...)
}
