package fssptasks

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// hub holds this replica's waiters: one watch per task, shared by all its
// waiters and closed once when the task becomes final.
type hub struct {
	m     *engineMetrics
	mu    sync.Mutex
	tasks map[string]*watch
}

// watch is a broadcast: done is closed after task is set.
type watch struct {
	done chan struct{}
	task *Task
	n    int // waiters, guarded by hub.mu
}

func newHub(m *engineMetrics) *hub { return &hub{m: m, tasks: map[string]*watch{}} }

func (h *hub) watch(id string) *watch {
	h.mu.Lock()
	w := h.tasks[id]
	if w == nil {
		w = &watch{done: make(chan struct{})}
		h.tasks[id] = w
	}
	w.n++
	h.mu.Unlock()
	h.m.waiters.Inc()
	return w
}

func (h *hub) unwatch(id string, w *watch) {
	h.mu.Lock()
	w.n--
	if w.n == 0 && h.tasks[id] == w {
		delete(h.tasks, id)
	}
	h.mu.Unlock()
	h.m.waiters.Dec()
}

// watched reports whether id has waiters here.
func (h *hub) watched(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tasks[id] != nil
}

// ids lists the tasks with waiters here.
func (h *hub) ids() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.tasks))
	for id := range h.tasks {
		out = append(out, id)
	}
	return out
}

// wake hands a final task to every waiter of its id.
func (h *hub) wake(t *Task) {
	h.mu.Lock()
	w := h.tasks[t.ID]
	delete(h.tasks, t.ID)
	h.mu.Unlock()
	if w != nil {
		w.task = t
		close(w.done)
	}
}

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
