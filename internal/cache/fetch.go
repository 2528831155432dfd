package cache

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/telemetry"
)

// Fetch answers k under p: from the cache, or by calling fill at most once
// per key at a time across every process sharing the Redis. When fill fails
// and serveStale(err) is true, an expired entry within the grace period is
// served instead of the error. A traced request shows it as a "cache.fetch"
// span, with "cache.lookup", "cache.fill" and "cache.stale" under it (tracing.go).
func (s *Store) Fetch(ctx context.Context, k Key, p Policy, fill FillFunc, serveStale func(error) bool) (*Result, error) {
	ctx, span := telemetry.Start(ctx, "cache.fetch")
	if !span.IsRecording() {
		return s.fetch(ctx, k, p, fill, serveStale)
	}
	res, err := s.fetch(ctx, k, p, fill, serveStale)
	endFetch(span, k, res, err)
	return res, err
}

func (s *Store) fetch(ctx context.Context, k Key, p Policy, fill FillFunc, serveStale func(error) bool) (*Result, error) {
	op := k.Operation
	if p.TTL <= 0 {
		s.m.result(s.cfg.Upstream, op, "bypass")
		e, err := s.run(ctx, op, fill)
		if err != nil {
			return nil, err
		}
		return &Result{Entry: e, Filled: true}, nil
	}
	now := s.cfg.Now()
	if !p.NoCache {
		if e := s.l1.get(k, now); e != nil {
			s.m.result(s.cfg.Upstream, op, "hit")
			s.m.localHits.WithLabelValues(s.cfg.Upstream, op).Inc()
			return s.hit(e, StatusHit, now), nil
		}
	}
	rkey := s.key(k)
	if p.NoCache {
		s.m.result(s.cfg.Upstream, op, "bypass")
		res, err := s.fillAndStore(ctx, k, rkey, p, fill, "")
		if err != nil {
			if p.MaxStale == 0 {
				// no-cache asked for a fresh answer; a stale one only
				// when max-stale says so too (RFC 9111 §5.2.1.4).
				return nil, err
			}
			return s.staleInstead(ctx, op, rkey, nil, false, p, err, serveStale)
		}
		if res.Status == StatusStored {
			res.Status = StatusRefreshed
		} else {
			res.Status = StatusBypass
		}
		return res, nil
	}
	var cached *Entry
	looked := false
	if p.MaxStale != 0 {
		// A stale entry would do: read first, fill only when none is acceptable.
		var err error
		cached, err = s.get(ctx, rkey)
		looked = true
		switch {
		case err != nil:
			s.m.result(s.cfg.Upstream, op, "error")
		case cached != nil && now.Before(cached.Expires):
			s.m.result(s.cfg.Upstream, op, "hit")
			s.l1.put(rkey, k, cached, now)
			return s.hit(cached, StatusHit, now), nil
		case cached != nil && (p.MaxStale < 0 || now.Before(cached.Expires.Add(p.MaxStale))):
			s.m.result(s.cfg.Upstream, op, "stale")
			return s.hit(cached, StatusStale, now), nil
		default:
			s.m.result(s.cfg.Upstream, op, "miss")
		}
	}
	o, err := s.coalesced(ctx, k, rkey, p, fill, !looked)
	if o != nil && o.stale != nil {
		cached, looked = o.stale, true
	}
	if err != nil {
		return s.staleInstead(ctx, op, rkey, cached, looked, p, err, serveStale)
	}
	return o.res, nil
}

// staleInstead serves an expired entry within grace in place of err, when
// serveStale allows it, and no further past its expiry than the client's
// max-stale=N when it sent one.
func (s *Store) staleInstead(ctx context.Context, op, rkey string, cached *Entry, looked bool, p Policy, err error, serveStale func(error) bool) (*Result, error) {
	if serveStale == nil || !serveStale(err) {
		return nil, err
	}
	ctx, span := telemetry.Start(ctx, "cache.stale")
	defer span.End()
	telemetry.Fail(span, err)
	if !looked {
		cached, _ = s.get(ctx, rkey)
	}
	if cached == nil || (p.MaxStale > 0 && !s.cfg.Now().Before(cached.Expires.Add(p.MaxStale))) {
		return nil, err
	}
	s.m.result(s.cfg.Upstream, op, "stale")
	return s.hit(cached, StatusStale, s.cfg.Now()), nil
}

func (s *Store) hit(e *Entry, status string, now time.Time) *Result {
	return &Result{Entry: e, Status: status, Age: max(0, int(now.Sub(e.StoredAt)/time.Second)), Hit: true}
}

// outcome is what the one lookup-and-fill of a key in this process found,
// shared by every request that waited for it.
type outcome struct {
	res    *Result
	cached bool   // the lookup found the entry fresh in Redis
	stale  *Entry // an expired entry the lookup saw
}

// coalesced looks k up in Redis and fills it on a miss, once in this process
// however many requests want it; the others wait for that one. count says
// whether this request's hit or miss is still to be counted.
func (s *Store) coalesced(ctx context.Context, k Key, rkey string, p Policy, fill FillFunc, count bool) (*outcome, error) {
	led := false
	ch := s.sf.DoChan(rkey, func() (any, error) {
		led = true
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.FillTimeout)
		defer cancel()
		return s.lookupAndFill(fctx, k, rkey, p, fill, count)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		o, _ := r.Val.(*outcome)
		if led {
			return o, r.Err
		}
		if (r.Err != nil && callersOwn(r.Err)) || (r.Err == nil && o != nil && o.res.Entry.Stream != nil) {
			// The leader failed for a reason of its own tenant (its quota,
			// or the quota store), or got an answer too large to keep that
			// streams to it alone: this request tries once under its own.
			fctx, cancel := context.WithTimeout(ctx, s.cfg.FillTimeout)
			defer cancel()
			return s.lookupAndFill(fctx, k, rkey, p, fill, count)
		}
		if o == nil {
			return nil, r.Err
		}
		shared := *o
		if r.Err != nil {
			s.countOnce(count, k.Operation, "miss")
			return &shared, r.Err
		}
		res := *o.res
		res.Filled, res.Hit = false, true
		if o.cached {
			s.countOnce(count, k.Operation, "hit")
		} else {
			s.countOnce(count, k.Operation, "miss")
			s.m.coalesced.WithLabelValues(s.cfg.Upstream, k.Operation).Inc()
			res.Status = StatusCollapsed
		}
		shared.res = &res
		return &shared, nil
	}
}

// callersOwn says whether a fill's failure belongs to the request that
// filled rather than to the key: a quota rejection (the leader's tenant may
// be out of units while another's are not) or a failure of the quota store.
// Such a failure is not shared with the requests that waited for the fill.
func callersOwn(err error) bool {
	switch apperr.KindOf(err) {
	case apperr.QuotaExceeded, apperr.Unavailable:
		return true
	}
	return false
}

func (s *Store) countOnce(count bool, op, result string) {
	if count {
		s.m.result(s.cfg.Upstream, op, result)
	}
}

// lookupAndFill reads k or takes its cross-process fill lock (one round
// trip), then fills it, or waits for the process holding the lock to store
// the answer.
func (s *Store) lookupAndFill(ctx context.Context, k Key, rkey string, p Policy, fill FillFunc, count bool) (*outcome, error) {
	now := s.cfg.Now()
	e, side, token, err := s.getOrLock(ctx, k, rkey, p.Side, now)
	if side != nil {
		ctx = context.WithValue(ctx, sideKey{}, side)
	}
	if err != nil { // Redis failed: fill without it
		s.countOnce(count, k.Operation, "error")
		res, err := s.fillAndStore(ctx, k, rkey, p, fill, "")
		return &outcome{res: res}, err
	}
	if e != nil && now.Before(e.Expires) {
		s.countOnce(count, k.Operation, "hit")
		s.l1.put(rkey, k, e, now)
		return &outcome{res: s.hit(e, StatusHit, now), cached: true}, nil
	}
	s.countOnce(count, k.Operation, "miss")
	o := &outcome{stale: e}
	if token != "" {
		o.res, err = s.fillAndStore(ctx, k, rkey, p, fill, token)
		return o, err
	}
	if pe := s.awaitPeer(ctx, k, rkey); pe != nil {
		s.m.coalesced.WithLabelValues(s.cfg.Upstream, k.Operation).Inc()
		s.l1.put(rkey, k, pe, s.cfg.Now())
		o.res = s.hit(pe, StatusCollapsed, s.cfg.Now())
		return o, nil
	}
	if ctx.Err() != nil {
		return o, ctx.Err()
	}
	o.res, err = s.fillLocked(ctx, k, rkey, p, fill)
	return o, err
}

// fillLocked takes the cross-process fill lock of k, or waits for the
// process holding it to store the answer; after two rounds it fills anyway.
func (s *Store) fillLocked(ctx context.Context, k Key, rkey string, p Policy, fill FillFunc) (*Result, error) {
	for range 2 {
		token, ok := s.lock(ctx, k)
		if ok {
			return s.fillAndStore(ctx, k, rkey, p, fill, token)
		}
		if e := s.awaitPeer(ctx, k, rkey); e != nil {
			s.m.coalesced.WithLabelValues(s.cfg.Upstream, k.Operation).Inc()
			s.l1.put(rkey, k, e, s.cfg.Now())
			return s.hit(e, StatusCollapsed, s.cfg.Now()), nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return s.fillAndStore(ctx, k, rkey, p, fill, "")
}

// fillAndStore calls fill and stores a successful answer in Redis (releasing
// the fill lock token, if any, in the same round trip) and then in the L1,
// before the answer goes back.
func (s *Store) fillAndStore(ctx context.Context, k Key, rkey string, p Policy, fill FillFunc, token string) (*Result, error) {
	stop := s.keepLock(k, token)
	e, err := s.run(ctx, k.Operation, fill)
	stop()
	if err != nil {
		s.unlock(k, token)
		return nil, err
	}
	now := s.cfg.Now()
	e.StoredAt, e.Expires = now, now.Add(p.TTL)
	side := e.Side
	e.Side = nil // written beside e, never kept with it (the L1 counts e's bytes alone)
	res := &Result{Entry: e, Status: StatusMiss, Filled: true}
	if e.Stream != nil || p.NoStore || int64(len(e.Body)) > s.cfg.MaxEntryBytes {
		if side != nil && !p.NoStore && p.Side != "" && side.Stream == nil && int64(len(side.Body)) <= s.cfg.MaxEntryBytes {
			// The side entry is kept on its own: another operation serves it,
			// and this one converts it without calling the upstream again.
			side.StoredAt, side.Expires = e.StoredAt, e.Expires
			_ = s.store(ctx, k, s.sideKey(k, p.Side), "", side, nil, p.TTL, token)
			return res, nil
		}
		s.unlock(k, token)
		return res, nil
	}
	if s.store(ctx, k, rkey, p.Side, e, side, p.TTL, token) != nil {
		return res, nil
	}
	res.Status = StatusStored
	s.l1.put(rkey, k, e, now)
	return res, nil
}

// run calls fill, turning a panic into an Internal error: a fill runs in a
// goroutine of its own under singleflight, where a panic would end the
// process (and leave the fill lock held until it expires).
func (s *Store) run(ctx context.Context, op string, fill FillFunc) (e *Entry, err error) {
	ctx, span := telemetry.Start(ctx, "cache.fill")
	defer func() {
		telemetry.Fail(span, err)
		span.End()
	}()
	defer func() {
		if v := recover(); v != nil {
			e, err = nil, apperr.Wrap(apperr.Internal, "", fmt.Errorf("cache: fill of %s panicked: %v\n%s", op, v, debug.Stack()))
		}
	}()
	e, err = fill(ctx)
	if err == nil && e == nil {
		err = apperr.Wrap(apperr.Internal, "", fmt.Errorf("cache: fill of %s returned no entry", op))
	}
	return e, err
}

// keepLock renews k's fill lock every LockTTL/3 while the fill runs (up to
// FillTimeout), so that a fill slower than LockTTL keeps other processes
// waiting rather than calling the upstream again. stop ends the renewal and
// returns once it has ended. A fill quicker than LockTTL/3 (most) costs one
// timer and no goroutine.
func (s *Store) keepLock(k Key, token string) (stop func()) {
	if token == "" {
		return func() {}
	}
	var mu sync.Mutex // held by a renewal: stop waits for it
	stopped := false
	limit := time.Now().Add(s.cfg.FillTimeout)
	every := s.cfg.LockTTL / 3
	var t *time.Timer
	mu.Lock() // the callback reads t
	t = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped && s.renew(k, token) && time.Now().Add(every).Before(limit) {
			t.Reset(every)
		}
	})
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}

// awaitPeer polls for the entry another process is filling until it is
// stored fresh, the lock goes away (the filler failed or died: a live
// filler renews it), or FillTimeout passes.
func (s *Store) awaitPeer(ctx context.Context, k Key, rkey string) *Entry {
	deadline := time.Now().Add(s.cfg.FillTimeout)
	wait := 5 * time.Millisecond
	for time.Now().Before(deadline) {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(wait*2, 50*time.Millisecond)
		e, locked, err := s.peek(ctx, k, rkey)
		if err != nil {
			return nil
		}
		if e != nil && s.cfg.Now().Before(e.Expires) {
			return e
		}
		if !locked {
			return nil
		}
	}
	return nil
}
