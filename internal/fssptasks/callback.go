package fssptasks

import (
	"context"
	"log/slog"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
)

// Callbacks sends the webhook of a task submitted with a callback URL;
// cmd/gateway adapts internal/webhooks to it.
type Callbacks interface {
	// Check refuses a callback URL the tenant may not use: an Invalid
	// error naming field.
	Check(tenantID, field, url string) error
	// Finished queues the signed delivery of a final task's summary to
	// url, once per task (a second call for the same task queues nothing).
	Finished(ctx context.Context, tenantID, url string, s Summary) error
}

// EventFinished is the webhook type of a finished task.
const EventFinished = "fssp.task.finished"

// Summary is a finished task's webhook payload data: its state, counts and
// where to read the results.
type Summary struct {
	ID         string     `json:"id"`
	Status     Status     `json:"status"`
	Progress   Progress   `json:"progress"`
	CreatedAt  time.Time  `json:"createdAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	Error      *Problem   `json:"error,omitempty"`
	Result     string     `json:"result"` // the gateway path of the task: GET it for the results
}

// checkCallback validates a submission's callback URL before anything is
// spent.
func (e *Engine) checkCallback(s Submission) error {
	if s.Callback == "" {
		return nil
	}
	if e.cfg.Callbacks == nil {
		return apperr.InvalidField("body.callback_url", "callbacks are not available on this gateway")
	}
	return e.cfg.Callbacks.Check(s.Tenant, "body.callback_url", s.Callback)
}

// notifyFinished queues the webhook of a final task with a callback. It is
// called after the final save and again when the task is retired, so a
// replica stopping in between loses nothing; Callbacks.Finished queues one
// delivery per task.
func (e *Engine) notifyFinished(ctx context.Context, r *record) error {
	if r.Callback == "" || e.cfg.Callbacks == nil {
		return nil
	}
	s := Summary{ID: r.Task.ID, Status: r.Task.Status, Progress: r.Task.Progress, CreatedAt: r.Task.CreatedAt,
		FinishedAt: r.Task.FinishedAt, Error: r.Task.Error, Result: e.cfg.TaskPath + r.Task.ID}
	err := e.cfg.Callbacks.Finished(ctx, r.Tenant, r.Callback, s)
	if err != nil && ctx.Err() == nil {
		e.log.WarnContext(ctx, "fssp task webhook not queued", slog.String("task", r.Task.ID),
			slog.String("tenant", r.Tenant), slog.String("error", err.Error()))
	}
	return err
}
