package fssptasks

import (
	"context"
	"sync"
)

// InstanceOf exposes an engine's lease owner id to the tests.
func InstanceOf(e *Engine) string { return e.instance }

// Acquire exposes an engine's taking of a task's lease to the tests.
func Acquire(ctx context.Context, e *Engine, id string) (bool, error) { return e.acquire(ctx, id) }

// Adopt exposes an engine's adoption of a task (what its kick loop and scan
// do) to the tests.
func Adopt(ctx context.Context, e *Engine, wg *sync.WaitGroup, id string) { e.adopt(ctx, wg, id) }

// LeaseKey exposes the Redis key of a task's lease to the tests.
func LeaseKey(id string) string { return leaseKey(id) }

// WaitersOf returns how many requests wait on e (blocked or notifiers).
func WaitersOf(e *Engine) int {
	e.hub.mu.Lock()
	defer e.hub.mu.Unlock()
	n := 0
	for _, w := range e.hub.tasks {
		n += w.n + len(w.subs)
	}
	return n
}

// Driving reports whether e runs a poller for task id.
func Driving(e *Engine, id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.driving[id]
}

// Due returns what e's scan would adopt now.
func Due(ctx context.Context, e *Engine) ([]string, error) { return e.due(ctx) }
