package fssptasks

import (
	"sync"
	"sync/atomic"
	"time"
)

// hub holds this replica's waiters: one watch per task, shared by all its
// waiters and closed once when the task becomes final. A waiter is either a
// goroutine blocked on the watch's channel (Wait) or a notifier (Notify): a
// callback that holds no goroutine while it waits.
type hub struct {
	m        *engineMetrics
	now      func() time.Time // the engine's clock, for the wake-up metric
	mu       sync.Mutex
	tasks    map[string]*watch
	released bool // Release ran: nobody waits any more
	busy     int  // goroutines calling notifiers, guarded by mu
	idle     sync.Cond
}

// watch is a broadcast: done is closed after task is set (task stays nil
// when the waiters are released rather than woken).
type watch struct {
	done chan struct{}
	task *Task
	n    int                    // blocked waiters, guarded by hub.mu
	subs map[*notifier]struct{} // notifiers, guarded by hub.mu
}

// notifier is one Notify: fn is called exactly once, by whichever of the
// wake-up, its timer or a release claims it first.
type notifier struct {
	fn    NotifyFunc
	timer *time.Timer
	fired atomic.Bool
}

// claim reports whether the caller is the one to call n.fn, and stops the
// timer. Only a caller that saw n subscribed (or made it) may call it: n.timer
// is set before that.
func (n *notifier) claim() bool {
	if !n.fired.CompareAndSwap(false, true) {
		return false
	}
	n.timer.Stop()
	return true
}

// claimByTimer is claim for n's own timer, which may fire before n.timer
// is even set.
func (n *notifier) claimByTimer() bool { return n.fired.CompareAndSwap(false, true) }

func newHub(m *engineMetrics, now func() time.Time) *hub {
	h := &hub{m: m, now: now, tasks: map[string]*watch{}}
	h.idle.L = &h.mu
	return h
}

// begin and end count a goroutine calling notifiers; wait returns when
// none is left.
func (h *hub) begin() {
	h.mu.Lock()
	h.busy++
	h.mu.Unlock()
}

func (h *hub) end() {
	h.mu.Lock()
	if h.busy--; h.busy == 0 {
		h.idle.Broadcast()
	}
	h.mu.Unlock()
}

func (h *hub) wait() {
	h.mu.Lock()
	for h.busy > 0 {
		h.idle.Wait()
	}
	h.mu.Unlock()
}

// watchLocked returns id's watch, creating it.
func (h *hub) watchLocked(id string) *watch {
	w := h.tasks[id]
	if w == nil {
		w = &watch{done: make(chan struct{})}
		h.tasks[id] = w
	}
	return w
}

// dropLocked forgets w once nobody waits on it.
func (h *hub) dropLocked(id string, w *watch) {
	if w.n == 0 && len(w.subs) == 0 && h.tasks[id] == w {
		delete(h.tasks, id)
	}
}

// watch registers a blocked waiter of id. After Release the watch returned
// is already closed.
func (h *hub) watch(id string) *watch {
	h.mu.Lock()
	if h.released {
		h.mu.Unlock()
		w := &watch{done: make(chan struct{})}
		close(w.done)
		h.m.waiters.Inc()
		return w
	}
	w := h.watchLocked(id)
	w.n++
	h.mu.Unlock()
	h.m.waiters.Inc()
	return w
}

func (h *hub) unwatch(id string, w *watch) {
	h.mu.Lock()
	w.n--
	h.dropLocked(id, w)
	h.mu.Unlock()
	h.m.waiters.Dec()
}

// subscribe registers n as a waiter of id; false after Release.
func (h *hub) subscribe(id string, n *notifier) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return false
	}
	w := h.watchLocked(id)
	if w.subs == nil {
		w.subs = map[*notifier]struct{}{}
	}
	w.subs[n] = struct{}{}
	h.m.waiters.Inc()
	return true
}

// unsubscribe removes n (claimed by its timer or its own read) from id.
func (h *hub) unsubscribe(id string, n *notifier) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.tasks[id]
	if w == nil {
		return
	}
	if _, ok := w.subs[n]; ok {
		delete(w.subs, n)
		h.m.waiters.Dec()
	}
	h.dropLocked(id, w)
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
	var start func()
	if w != nil {
		start = h.notifyLocked(h.takeSubsLocked(w), t)
	}
	h.mu.Unlock()
	if w != nil {
		w.task = t
		close(w.done)
		start()
	}
}

// release wakes every waiter without a task (the engine is stopping: each
// answers with the state it has) and makes later waits return at once.
func (h *hub) release() {
	h.mu.Lock()
	h.released = true
	var subs []*notifier
	for id, w := range h.tasks {
		subs = append(subs, h.takeSubsLocked(w)...)
		close(w.done)
		delete(h.tasks, id)
	}
	start := h.notifyLocked(subs, nil)
	h.mu.Unlock()
	start()
}

func (h *hub) takeSubsLocked(w *watch) []*notifier {
	subs := make([]*notifier, 0, len(w.subs))
	for n := range w.subs {
		subs = append(subs, n)
	}
	h.m.waiters.Sub(float64(len(w.subs)))
	w.subs = nil
	return subs
}

// notifyChunk is how many notifiers one fan-out goroutine calls: each call
// writes one answer to a socket, so thousands of them are spread over the
// CPUs rather than made one after another.
const notifyChunk = 256

// notifyLocked prepares calling every notifier's fn with t in the
// background, from len(subs)/notifyChunk+1 goroutines at most, which start
// calls once h.mu is released. The goroutines are counted under h.mu, so
// that Run, which releases the hub before it waits for them, never misses
// one.
func (h *hub) notifyLocked(subs []*notifier, t *Task) (start func()) {
	var chunks [][]*notifier
	for len(subs) > 0 {
		chunk := subs[:min(notifyChunk, len(subs))]
		subs = subs[len(chunk):]
		chunks = append(chunks, chunk)
	}
	h.busy += len(chunks)
	return func() {
		for _, chunk := range chunks {
			go func() {
				defer h.end()
				var later []func()
				for _, n := range chunk {
					if n.claim() {
						if then := n.fn(t, nil); then != nil {
							later = append(later, then)
						}
						h.m.wokeUp(t, h.now())
					}
				}
				for _, f := range later {
					f()
				}
			}()
		}
	}
}
