package cache

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// writeback holds the stores written to Redis after their answers were
// handed back (see Store.fillAndStore): at most max at once, queued and
// written by one writer goroutine of the Store's, which runs while the queue
// is not empty and ends when it is. Under load the writer sends what queued
// up meanwhile as one pipeline (one write and one read for many stores);
// alone, a store is one script call as before. Every batch has its own
// Redis timeout. Store.Wait and Store.Close wait for the queue to empty.
type writeback struct {
	max int // <= 0: none; every store is written before its answer

	mu      sync.Mutex
	closed  bool
	pending int // queued or being written
	queue   []pendingStore
	writing bool          // the writer goroutine runs
	idle    chan struct{} // closed while pending == 0
}

// pendingStore is one entry to store under rkey for ttl plus the grace
// period, releasing k's fill lock token (if any) in the same script.
type pendingStore struct {
	k     Key
	rkey  string
	e     *Entry
	ttl   time.Duration
	token string
}

// A batch is at most this many stores, and stops growing past this many
// body bytes, so that one batch fits its Redis timeout.
const (
	batchStores = 64
	batchBytes  = 1 << 20
)

func newWriteback(max int) *writeback {
	idle := make(chan struct{})
	close(idle)
	return &writeback{max: max, idle: idle}
}

// later queues ps to be written behind its answer and reports whether it
// did: not when the store is closed or max stores are pending (the caller
// then stores before answering, which also slows a burst down to what Redis
// takes).
func (s *Store) later(ps pendingStore) bool {
	w := s.wb
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.pending >= w.max {
		return false
	}
	if w.pending == 0 {
		w.idle = make(chan struct{})
	}
	w.pending++
	w.queue = append(w.queue, ps)
	if !w.writing {
		w.writing = true
		go s.writeQueued()
	}
	return true
}

// writeQueued is the writer: it writes the queue in batches until it is
// empty, then ends.
func (s *Store) writeQueued() {
	w := s.wb
	for {
		w.mu.Lock()
		n, bytes := 0, 0
		for n < len(w.queue) && n < batchStores && (n == 0 || bytes < batchBytes) {
			bytes += len(w.queue[n].e.Body)
			n++
		}
		if n == 0 {
			w.writing = false
			w.queue = nil
			w.mu.Unlock()
			return
		}
		batch := w.queue[:n:n]
		w.queue = w.queue[n:]
		w.mu.Unlock()

		s.storeBatch(batch)
		clear(batch) // the queue's array keeps no written entry alive

		w.mu.Lock()
		if w.pending -= n; w.pending == 0 {
			close(w.idle)
		}
		w.mu.Unlock()
	}
}

// storeBatch writes the stores of batch: one script call for one, one
// pipeline for more. A store that fails is counted and releases its fill
// lock, as a store made before its answer does.
func (s *Store) storeBatch(batch []pendingStore) {
	ctx := context.Background()
	if len(batch) == 1 {
		ps := batch[0]
		_ = s.store(ctx, ps.k, ps.rkey, ps.e, ps.ttl, ps.token)
		return
	}
	cmds := make([]*redis.Cmd, len(batch))
	rctx, cancel := s.rctx(ctx)
	_, _ = s.rdb.Pipelined(rctx, func(p redis.Pipeliner) error {
		for i, ps := range batch {
			head, body, err := s.encode(ps.e)
			if err != nil {
				_ = s.redisErr("encode", err)
				continue
			}
			px := (ps.ttl + s.cfg.Grace).Milliseconds()
			cmds[i] = storeScript.EvalSha(rctx, p, []string{ps.rkey, s.lockKey(ps.k)}, head, px, ps.token, body)
		}
		return nil
	})
	cancel()
	for i, ps := range batch {
		switch err := cmdErr(cmds[i]); {
		case err == nil:
		case redis.HasErrorPrefix(err, "NOSCRIPT"): // Redis lost its scripts: this loads it again
			_ = s.store(ctx, ps.k, ps.rkey, ps.e, ps.ttl, ps.token)
		default:
			if cmds[i] != nil {
				_ = s.redisErr("set", err)
			}
			s.unlock(ps.k, ps.token) // leave no lock for peers to wait on
		}
	}
}

// cmdErr is the error of a pipelined command, or a placeholder for one that
// was never queued (its entry did not encode).
func cmdErr(c *redis.Cmd) error {
	if c == nil {
		return errNotQueued
	}
	return c.Err()
}

type cacheError string

func (e cacheError) Error() string { return string(e) }

const errNotQueued = cacheError("cache: store not queued")

// Wait returns once every store that was pending when it was called (and
// any started meanwhile) has been written to Redis or has failed, or with
// ctx's error. Tests and Purge use it to see Redis as the answers describe it.
func (s *Store) Wait(ctx context.Context) error {
	w := s.wb
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

// Close makes every later store happen before its answer again and waits,
// up to ctx, for the stores still being written behind their answers. Call
// it after the HTTP server has drained and before the Redis client closes.
func (s *Store) Close(ctx context.Context) error {
	s.wb.mu.Lock()
	s.wb.closed = true
	s.wb.mu.Unlock()
	return s.Wait(ctx)
}
