package fssptasks

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/telemetry"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
	"github.com/legalgate/legalgate/internal/upstreamguard"
)

// backoff is the pause after the attempt-th poll: PollInitial × 1.5^attempt,
// capped at PollMax, with ±10 % jitter so replicas do not poll in step.
func (e *Engine) backoff(attempt int) time.Duration {
	d := float64(e.cfg.PollInitial)
	for range attempt {
		d *= 1.5
		if d >= float64(e.cfg.PollMax) {
			d = float64(e.cfg.PollMax)
			break
		}
	}
	return time.Duration(d * (0.9 + 0.2*rand.Float64()))
}

// drive polls task id while this replica holds its lease: until the task is
// final, the lease is lost or ctx ends.
func (e *Engine) drive(ctx context.Context, id string) {
	log := e.log.With(slog.String("task", id), slog.String("upstream", fssp.Upstream))
	r, err := e.load(ctx, id)
	if err != nil || r == nil || r.Task.Status.Final() {
		if err == nil {
			e.retire(ctx, id)
		}
		e.release(ctx, id)
		return
	}
	tok, ok := e.token(r.Credential)
	if !ok {
		log.WarnContext(ctx, "no token for the task's credential on this replica", slog.String("credential", r.Credential))
		e.release(ctx, id)
		return
	}
	status := r.Task.Status // as counted by the gauge: queued or running
	e.m.tasks.WithLabelValues(string(status)).Inc()
	defer func() { e.m.tasks.WithLabelValues(string(status)).Dec() }()
	renewEvery := e.cfg.LeaseTTL / 3
	for {
		// Sleep until the next poll, renewing the lease meanwhile.
		for {
			wait := min(r.NextPoll.Sub(e.cfg.Now()), e.cfg.PollMax)
			if wait <= 0 {
				break
			}
			t := time.NewTimer(min(wait, renewEvery))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if wait > renewEvery {
				if held, err := e.renew(ctx, id); err != nil || !held {
					return
				}
				continue
			}
			break
		}
		if held, err := e.renew(ctx, id); err != nil || !held {
			return
		}
		if !e.stepHeld(ctx, id, r, tok) {
			return // stopping or the lease was lost: leave the task to the next holder
		}
		saved, err := e.save(ctx, r)
		if err != nil {
			log.WarnContext(ctx, "saving fssp task failed", slog.String("error", err.Error()))
		}
		if !saved && err == nil {
			return // another replica holds the lease now
		}
		if r.Task.Status != status && !r.Task.Status.Final() {
			e.m.tasks.WithLabelValues(string(status)).Dec()
			status = r.Task.Status
			e.m.tasks.WithLabelValues(string(status)).Inc()
		}
		if r.Task.Status.Final() {
			e.m.finished(r)
			log.InfoContext(ctx, "fssp task finished", slog.String("tenant", r.Tenant), slog.String("status", string(r.Task.Status)),
				slog.Duration("duration", r.Task.FinishedAt.Sub(r.Task.CreatedAt)))
			e.release(ctx, id)
			return
		}
	}
}

// errLeaseLost ends a step whose lease another replica took or that could
// not be renewed in time.
var errLeaseLost = errors.New("fssptasks: lease lost")

// stepHeld runs one step while keeping the lease of id alive: a renewal every
// LeaseTTL/3 for as long as the step's upstream calls take. If the lease is
// lost, or cannot be renewed before it would lapse, the step's calls are
// cancelled at once and stepHeld reports false, as it does when ctx ends;
// r must then be dropped.
func (e *Engine) stepHeld(ctx context.Context, id string, r *record, tok tenant.Secret) bool {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { e.keepLease(sctx, cancel, id, done) })
	e.step(sctx, r, tok)
	close(done)
	wg.Wait()
	if context.Cause(sctx) == errLeaseLost {
		e.log.WarnContext(ctx, "fssp task lease lost during a poll; another replica polls it now",
			slog.String("task", id), slog.String("upstream", fssp.Upstream))
		return false
	}
	return ctx.Err() == nil
}

// keepLease renews the lease of id every LeaseTTL/3 until done is closed or
// ctx ends, and cancels ctx with errLeaseLost when the lease is held by
// another or has gone unrenewed for LeaseTTL - LeaseTTL/3 (Redis errors):
// the step then stops before another replica could take the task over.
func (e *Engine) keepLease(ctx context.Context, cancel context.CancelCauseFunc, id string, done <-chan struct{}) {
	every := e.cfg.LeaseTTL / 3
	renewed := time.Now() // the caller renewed just before the step
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		held, err := e.renew(ctx, id)
		switch {
		case err == nil && held:
			renewed = time.Now()
		case err == nil || time.Since(renewed) >= e.cfg.LeaseTTL-every:
			cancel(errLeaseLost)
			return
		}
	}
}

// retire removes a finished or vanished task from the active set.
func (e *Engine) retire(ctx context.Context, id string) {
	ctx, cancel := e.rctx(ctx)
	defer cancel()
	_ = e.rdb.ZRem(ctx, activeKey, id).Err()
}

// step polls every unfinished upstream part once and updates r.
func (e *Engine) step(ctx context.Context, r *record, tok tenant.Secret) {
	now := e.cfg.Now()
	if !now.Before(r.Task.CreatedAt.Add(e.cfg.Deadline)) {
		e.finish(r, now, Failed, &Problem{Kind: apperr.UpstreamTimeout.String(), Type: "upstream-timeout", Upstream: fssp.Upstream,
			Detail: "FSSP did not finish the search within " + e.cfg.Deadline.String()})
		return
	}
	var pollErr error
	ctx = tenant.WithCredential(ctx, r.Credential) // for the upstream guard
	for i := range r.Parts {
		p := &r.Parts[i]
		if p.Done {
			continue
		}
		if err := e.tracedPoll(ctx, r, p, tok); err != nil {
			pollErr = err
			break
		}
	}
	if ctx.Err() != nil {
		return
	}
	now = e.cfg.Now()
	r.Task.UpdatedAt = now
	r.Attempt++
	r.NextPoll = now.Add(e.backoff(r.Attempt))
	switch k := apperr.KindOf(pollErr); {
	case pollErr == nil:
		r.PollErrors = 0
	case k == apperr.QuotaExceeded:
		// Polls are not metered upstream, but back off all the same.
	case errors.Is(pollErr, upstreamguard.ErrOpen):
		// Not sent: the credential's breaker is open. Its probes count as
		// polls; the task's deadline bounds the wait.
	case k == apperr.Gone:
		e.finish(r, now, Failed, &Problem{Kind: apperr.UpstreamFailed.String(), Upstream: fssp.Upstream,
			Detail: "FSSP no longer knows the upstream task"})
		return
	default:
		r.PollErrors++
		e.log.WarnContext(ctx, "fssp poll failed", slog.String("task", r.Task.ID), slog.Int("consecutive", r.PollErrors),
			slog.String("error", pollErr.Error()))
		if r.PollErrors >= e.cfg.MaxPollErrors {
			e.finish(r, now, Failed, problemOf(pollErr))
			return
		}
	}
	done, started, finished := 0, false, true
	for _, p := range r.Parts {
		started = started || p.Started
		finished = finished && p.Done
		if p.Done {
			done += p.Count
		} else {
			done += min(max(p.Progress, 0), p.Count)
		}
	}
	r.Task.Progress.Done = done
	if started && r.Task.Status == Queued {
		r.Task.Status = Running
	}
	if finished {
		e.complete(r, now)
	}
}

// pollPart reads one upstream task's status and, once it is done, its result.
func (e *Engine) pollPart(ctx context.Context, r *record, p *part, tok tenant.Secret) error {
	e.m.polls.WithLabelValues("status").Inc()
	sctx, span := telemetry.Start(ctx, "fssp.status")
	st, err := e.client.Status(sctx, tok, p.Upstream)
	telemetry.Fail(span, err)
	span.End()
	if err != nil {
		e.noteRejected(r.Credential, err)
		return err
	}
	p.Progress = st.Progress
	if st.Code != fssp.StatusQueued {
		p.Started = true
	}
	if !st.Done() {
		return nil
	}
	e.m.polls.WithLabelValues("result").Inc()
	rctx, span := telemetry.Start(ctx, "fssp.result")
	res, err := e.client.Result(rctx, tok, p.Upstream)
	telemetry.Fail(span, err)
	span.End()
	if err != nil {
		e.noteRejected(r.Credential, err)
		return err
	}
	for i := range p.Count {
		idx := p.Offset + i
		out := Result{Index: idx, Query: r.Requests[idx], Status: Succeeded, Records: []fssp.Record{}}
		switch {
		case i >= len(res.Results):
			out.Status = Failed
			out.Error = &Problem{Kind: apperr.UpstreamFailed.String(), Upstream: fssp.Upstream, Detail: "FSSP returned no result for this search"}
		case res.Results[i].Err != nil:
			out.Status = Failed
			out.Error = &Problem{Kind: apperr.UpstreamFailed.String(), Type: "fssp-search-failed", Upstream: fssp.Upstream,
				Detail:        "FSSP could not run this search: " + res.Results[i].Err.Message,
				UpstreamError: map[string]any{"code": res.Results[i].Err.Code, "message": res.Results[i].Err.Message}}
		default:
			for _, raw := range res.Results[i].Records {
				out.Records = append(out.Records, fssp.Normalize(raw))
			}
		}
		r.Task.Results = append(r.Task.Results, out)
	}
	slices.SortFunc(r.Task.Results, func(a, b Result) int { return a.Index - b.Index })
	p.Started, p.Done = true, true
	return nil
}

// complete settles a task whose parts are all done.
func (e *Engine) complete(r *record, now time.Time) {
	failed := 0
	for _, res := range r.Task.Results {
		if res.Status == Failed {
			failed++
		}
	}
	switch {
	case failed == 0:
		e.finish(r, now, Succeeded, nil)
	case failed < len(r.Task.Results):
		e.finish(r, now, Partial, nil)
	default:
		e.finish(r, now, Failed, &Problem{Kind: apperr.UpstreamFailed.String(), Type: "fssp-search-failed", Upstream: fssp.Upstream,
			Detail: "FSSP could not run any of the searches; see each result's error"})
	}
}

func (e *Engine) finish(r *record, now time.Time, s Status, p *Problem) {
	r.Task.Status, r.Task.Error, r.Task.UpdatedAt = s, p, now
	r.Task.FinishedAt = &now
	if s != Failed || len(r.Task.Results) == r.Task.Progress.Total {
		r.Task.Progress.Done = r.Task.Progress.Total
	}
}

// noteRejected tells Config.OnRejected when err says FSSP rejected the
// credential's token.
func (e *Engine) noteRejected(credential string, err error) {
	if e.cfg.OnRejected != nil && errors.Is(err, fssp.ErrCredentialRejected) {
		e.cfg.OnRejected(credential)
	}
}
