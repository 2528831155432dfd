// Package fssptasks runs FSSP searches as gateway tasks. FSSP answers a
// search with a task id that must be polled (/status) until done and then
// read (/result); the engine does that once, politely, for every client, and
// lets any number of clients wait for a task without calling FSSP themselves.
//
// Task state lives in Redis (store.go), so a task survives a gateway restart
// and any replica answers for any task. Each unfinished task has one poller
// across all replicas: the replica holding the task's Redis lease polls
// /status with backoff (PollInitial growing to PollMax), reads /result once
// per upstream task and saves the state. The lease is renewed every
// LeaseTTL/3, during upstream calls too; a poller that loses it cancels its
// calls and stops at once. When a holder dies its lease lapses (LeaseTTL) and
// another replica's scan (ScanInterval; one Redis call returning only the
// tasks whose lease lapsed) takes the task over. A task not finished by
// Deadline fails with an upstream-timeout problem; a finished task answers
// Gone (Type "expired", 410) after Retention. Group submissions larger than
// GroupLimit are split into several upstream group tasks and merged back in
// request order; once one of them was accepted, the submission no longer
// fails: the parts FSSP refused are failed results of a partial task.
//
// Waiting requests never call FSSP: every save publishes "ID STATUS" on one
// pub/sub channel; each replica holds one subscription and a map of waiters
// per task, reads a finished task once and wakes all its waiters. The upstream
// calls depend on the number of tasks, never on the number of waiters.
//
// API:
//
//	e := fssptasks.New(rdb, client, quotaEngine.Reserve, cfg, reg, log)
//	go e.Run(ctx)                          // scan, pollers and the pub/sub listener
//	sub, err := e.Submit(ctx, Submission)  // validate, claim the Idempotency-Key, reserve quota, submit upstream, store
//	t, err := e.Get(ctx, tenantID, taskID) // 404 for another tenant, 410 after Retention
//	t, err := e.Wait(ctx, tenantID, taskID, d)
//	e.Notify(ctx, tenantID, taskID, d, fn) // Wait without a goroutine: fn(task) later
//	e.Release()                            // answer every waiter now (shutdown)
//
// Idempotency-Keys are kept by the project's generic store
// (internal/idempotency, Config.Idempotency), scoped to the tenant; the
// recorded answer of a submission is its task id.
//
// Errors are *apperr.Error: Invalid naming the field, Unprocessable for an
// Idempotency-Key reused with another body, Conflict while the key's first
// submission runs, QuotaExceeded (gateway quota or upstream 429, refunded),
// UpstreamFailed/UpstreamTimeout for a failed submission, NotFound, Gone
// (Type "expired"), Unavailable for Redis.
package fssptasks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
)

// Engine runs FSSP tasks. It is safe for concurrent use.
type Engine struct {
	rdb      redis.UniversalClient
	client   *fssp.Client
	reserve  Reserve
	idem     *idempotency.Store
	cfg      Config
	log      *slog.Logger
	m        *engineMetrics
	instance string // lease owner id of this replica
	hub      *hub
	tokens   sync.Map           // credential → tenant.Secret seen by Submit
	reads    singleflight.Group // loadShared
	kick     chan string
	ready    chan struct{}

	mu      sync.Mutex
	driving map[string]bool // tasks whose poller runs here
}

// New returns an engine; call Run to start its pollers and listener.
func New(rdb redis.UniversalClient, client *fssp.Client, reserve Reserve, cfg Config, reg prometheus.Registerer, log *slog.Logger) *Engine {
	var b [8]byte
	_, _ = rand.Read(b[:])
	cfg = cfg.withDefaults()
	idem := cfg.Idempotency
	if idem == nil {
		idem = idempotency.New(rdb, idempotency.Options{Prefix: "fssp:idem", Timeout: cfg.RedisTimeout, Log: log})
	}
	e := &Engine{
		rdb: rdb, client: client, reserve: reserve, idem: idem, cfg: cfg, log: log,
		m:        newMetrics(reg),
		instance: hex.EncodeToString(b[:]),
		kick:     make(chan string, 256),
		ready:    make(chan struct{}),
		driving:  map[string]bool{},
	}
	e.hub = newHub(e.m, cfg.Now)
	return e
}

// Ready is closed once Run's pub/sub subscription is confirmed.
func (e *Engine) Ready() <-chan struct{} { return e.ready }

// MaxWait is the cap applied to waits.
func (e *Engine) MaxWait() time.Duration { return e.cfg.MaxWait }

// RetryAfter is how long a client should wait before polling a task that is
// not finished.
func (e *Engine) RetryAfter() time.Duration { return e.cfg.PollInitial }

// Get returns a task of tenantID: NotFound when it does not exist or belongs
// to another tenant, Gone (Type "expired") after Retention.
func (e *Engine) Get(ctx context.Context, tenantID, taskID string) (*Task, error) {
	r, err := e.load(ctx, taskID)
	if err != nil {
		return nil, err
	}
	return e.visible(r, tenantID, taskID)
}

func (e *Engine) visible(r *record, tenantID, taskID string) (*Task, error) {
	if r == nil || r.Tenant != tenantID {
		return nil, apperr.Errorf(apperr.NotFound, "no FSSP task %s", taskID)
	}
	since := r.Task.CreatedAt
	if r.Task.FinishedAt != nil {
		since = *r.Task.FinishedAt
	}
	if !e.cfg.Now().Before(since.Add(e.cfg.Retention)) {
		return nil, &apperr.Error{Kind: apperr.Gone, Type: "expired", Upstream: fssp.Upstream,
			Detail: fmt.Sprintf("the results of FSSP task %s have expired (they are kept %s)", taskID, e.cfg.Retention)}
	}
	return &r.Task, nil
}

// Wait returns the task once it is final or d (capped at MaxWait) has
// passed, whichever comes first; a final task answers at once. It reads
// Redis, never FSSP. The returned task may be shared with other waiters:
// treat it as read-only.
func (e *Engine) Wait(ctx context.Context, tenantID, taskID string, d time.Duration) (*Task, error) {
	if d <= 0 {
		return e.Get(ctx, tenantID, taskID)
	}
	d = min(d, e.cfg.MaxWait)
	// Watch before reading, so a wake-up between the two cannot be missed.
	w := e.hub.watch(taskID)
	defer e.hub.unwatch(taskID, w)
	r, err := e.loadShared(ctx, taskID)
	if err != nil {
		return nil, err
	}
	t, err := e.visible(r, tenantID, taskID)
	if err != nil || t.Status.Final() {
		return t, err
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-w.done:
		if w.task != nil {
			e.m.wokeUp(w.task, e.cfg.Now())
			return w.task, nil
		}
		return e.Get(ctx, tenantID, taskID)
	case <-timer.C:
		return e.Get(ctx, tenantID, taskID)
	case <-ctx.Done():
		return t, nil
	}
}

// loadShared is load for waiters: concurrent reads of one task on this
// replica share one Redis round trip (and one decoded record).
func (e *Engine) loadShared(ctx context.Context, id string) (*record, error) {
	ch := e.reads.DoChan(id, func() (any, error) { return e.load(context.WithoutCancel(ctx), id) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*record), nil
	case <-ctx.Done():
		return nil, apperr.Wrap(apperr.Unavailable, "the request ended while reading the task", ctx.Err())
	}
}

// Run scans for tasks without a poller, runs pollers and listens for task
// changes until ctx ends; it then waits for its pollers to stop. Their
// leases are left to lapse, so another replica takes over after LeaseTTL.
// New tasks of this replica are adopted as they are submitted; the scan runs
// beside that loop, so a slow scan never delays them.
func (e *Engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { e.listen(ctx) })
	wg.Go(func() { e.recheck(ctx) })
	wg.Go(func() { e.scanLoop(ctx, &wg) })
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			e.hub.release()
			e.hub.wait()
			return nil
		case id := <-e.kick:
			e.adopt(ctx, &wg, id)
		}
	}
}

// scanLoop adopts, every ScanInterval, the active tasks whose lease lapsed:
// new tasks no replica adopted yet, and tasks whose poller died.
func (e *Engine) scanLoop(ctx context.Context, wg *sync.WaitGroup) {
	t := time.NewTicker(e.cfg.ScanInterval)
	defer t.Stop()
	for {
		e.scan(ctx, wg)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scan adopts active tasks without a live lease. One Redis call returns only
// those (usually none), whatever the number of active tasks.
func (e *Engine) scan(ctx context.Context, wg *sync.WaitGroup) {
	ids, err := e.due(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.log.WarnContext(ctx, "fssp task scan failed", slog.String("error", err.Error()))
		}
		return
	}
	for _, id := range ids {
		e.adopt(ctx, wg, id)
	}
}

// adopt starts a poller for id if no replica has one. It may run from the
// kick loop and the scan at once: driving admits one of them in this
// replica (claimed before the lease is asked for, since the lease script
// counts a lease this instance already holds as taken), the lease one
// replica.
func (e *Engine) adopt(ctx context.Context, wg *sync.WaitGroup, id string) {
	e.mu.Lock()
	busy := e.driving[id]
	if !busy {
		e.driving[id] = true
	}
	e.mu.Unlock()
	if busy {
		return
	}
	ok, err := false, ctx.Err()
	if err == nil {
		ok, err = e.acquire(ctx, id)
	}
	if err != nil || !ok {
		e.mu.Lock()
		delete(e.driving, id)
		e.mu.Unlock()
		return
	}
	wg.Go(func() {
		defer func() {
			e.mu.Lock()
			delete(e.driving, id)
			e.mu.Unlock()
		}()
		e.drive(ctx, id)
	})
}

// token returns the FSSP token of a credential.
func (e *Engine) token(credential string) (tenant.Secret, bool) {
	if e.cfg.Tokens != nil {
		if s, ok := e.cfg.Tokens(credential); ok {
			return s, true
		}
	}
	v, ok := e.tokens.Load(credential)
	if !ok {
		return tenant.Secret{}, false
	}
	return v.(tenant.Secret), true
}
