package cache

import (
	"context"
	"sync"
)

// writeback tracks the stores written to Redis after their answer was
// handed back (see Store.fillAndStore): at most max at once; Store.Wait and
// Store.Close wait for them. Each runs in a goroutine of the Store's own
// that ends within two Redis timeouts (the store, and an unlock when the
// store fails).
type writeback struct {
	max int // <= 0: none; every store is written before its answer

	mu      sync.Mutex
	closed  bool
	pending int
	idle    chan struct{} // closed while pending == 0
}

func newWriteback(max int) *writeback {
	idle := make(chan struct{})
	close(idle)
	return &writeback{max: max, idle: idle}
}

// begin takes a slot for one store; false when the store is closed or max
// stores are pending (the caller then stores before answering, which also
// slows a burst down to what Redis takes).
func (w *writeback) begin() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.pending >= w.max {
		return false
	}
	if w.pending == 0 {
		w.idle = make(chan struct{})
	}
	w.pending++
	return true
}

// end gives back the slot of a finished store.
func (w *writeback) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending--; w.pending == 0 {
		close(w.idle)
	}
}

// wait returns once no store is pending, or with ctx's error.
func (w *writeback) wait(ctx context.Context) error {
	w.mu.Lock()
	idle := w.idle
	w.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run runs store in a goroutine of its own when a slot is free, and reports
// whether it did.
func (w *writeback) run(ctx context.Context, store func(context.Context)) bool {
	if !w.begin() {
		return false
	}
	go func() {
		defer w.end()
		store(context.WithoutCancel(ctx))
	}()
	return true
}

// Wait returns once every store that was pending when it was called (and
// any started meanwhile) has been written to Redis or has failed, or with
// ctx's error. Tests and Purge use it to see Redis as the answers describe it.
func (s *Store) Wait(ctx context.Context) error {
	return s.wb.wait(ctx)
}

// Close makes every later store happen before its answer again and waits,
// up to ctx, for the stores still being written behind their answers. Call
// it after the HTTP server has drained and before the Redis client closes.
func (s *Store) Close(ctx context.Context) error {
	s.wb.mu.Lock()
	s.wb.closed = true
	s.wb.mu.Unlock()
	return s.wb.wait(ctx)
}
