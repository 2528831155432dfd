package fssptasks

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// listen holds this replica's one subscription to task changes and wakes the
// waiters of tasks that became final, reading each such task once.
func (e *Engine) listen(ctx context.Context) {
	sub := e.rdb.Subscribe(ctx, eventsChannel)
	defer sub.Close()
	for {
		rctx, cancel := e.rctx(ctx)
		_, err := sub.Receive(rctx) // the subscription confirmation
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		e.log.WarnContext(ctx, "fssp task subscription failed; retrying", slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	close(e.ready)
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			id, status, _ := strings.Cut(msg.Payload, " ")
			if Status(status).Final() && e.hub.watched(id) {
				e.wakeFromStore(ctx, id)
			}
		}
	}
}

// recheck is the safety net for lost messages (a resubscription gap): now
// and then it reads each watched task once and wakes its waiters if final.
func (e *Engine) recheck(ctx context.Context) {
	t := time.NewTicker(e.cfg.Recheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, id := range e.hub.ids() {
				e.wakeFromStore(ctx, id)
			}
		}
	}
}

func (e *Engine) wakeFromStore(ctx context.Context, id string) {
	r, err := e.load(ctx, id)
	if err != nil {
		e.log.WarnContext(ctx, "reading a finished fssp task failed", slog.String("task", id), slog.String("error", err.Error()))
		return
	}
	if r != nil && r.Task.Status.Final() {
		e.hub.wake(&r.Task)
	}
}
