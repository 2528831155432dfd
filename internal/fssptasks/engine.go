// Package fssptasks runs FSSP searches as gateway tasks. FSSP answers a
// search with a task id that must be polled (/status) until done and then
// read (/result); the engine does that once, politely, for every client, and
// lets any number of clients wait for a task without calling FSSP themselves.
//
// Task state lives in Redis (store.go), so a task survives a gateway restart
// and any replica answers for any task. Each unfinished task has one poller
// across all replicas: the replica holding the task's Redis lease polls
// /status with backoff (PollInitial growing to PollMax), reads /result once
// per upstream task and saves the state; when a holder dies its lease lapses
// (LeaseTTL) and another replica's scan (ScanInterval) takes the task over.
// A task not finished by Deadline becomes Expired with an upstream-timeout
// problem. Group submissions larger than GroupLimit are split into several
// upstream group tasks and merged back in request order.
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
//	sub, err := e.Submit(ctx, Submission)  // validate, reserve quota, submit upstream, store
//	t, err := e.Get(ctx, tenantID, taskID) // 404 for another tenant, 410 after Retention
//	t, err := e.Wait(ctx, tenantID, taskID, d)
//
// Errors are *apperr.Error: Invalid naming the field, Unprocessable for an
// Idempotency-Key reused with another body, QuotaExceeded (gateway quota or
// upstream 429, refunded), UpstreamFailed/UpstreamTimeout for a failed
// submission, NotFound, Gone (Type "expired"), Unavailable for Redis.
package fssptasks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
)

// Reserve takes quota for one upstream call; (*quota.Engine).Reserve fits.
// A nil Reserve meters nothing.
type Reserve func(ctx context.Context, r quota.Request) (*quota.Reservation, error)

// Config tunes an Engine. Zero values take the defaults in brackets.
type Config struct {
	MaxWait        time.Duration // cap of a wait [25 s]; at most 60 s
	Deadline       time.Duration // a task not finished by then expires [10 min]
	PollInitial    time.Duration // first /status poll after submission [3 s]
	PollMax        time.Duration // largest interval between polls [20 s]
	Retention      time.Duration // a task answers 410 this long after it finished [24 h]
	GoneFor        time.Duration // how long Redis keeps a task past Retention to answer 410 [24 h]
	LeaseTTL       time.Duration // a dead poller's task is taken over after this [15 s]
	ScanInterval   time.Duration // how often a replica looks for tasks without a poller [1 s]
	Recheck        time.Duration // waiters' safety net against lost pub/sub messages [5 s]
	IdempotencyTTL time.Duration // unknown Idempotency-Keys expire after [24 h]
	RedisTimeout   time.Duration // per Redis call [2 s]
	GroupLimit     int           // sub-requests per upstream group task [50]
	MaxGroup       int           // searches per group submission [500]
	MaxPollErrors  int           // consecutive failed polls before the task fails [3]
	// Tokens returns the upstream token of a credential name, so any replica
	// can poll any task. Nil: only tokens seen by this replica's Submit.
	Tokens func(credential string) (tenant.Secret, bool)
	Now    func() time.Time // [time.Now]
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.MaxWait, 25*time.Second)
	c.MaxWait = min(c.MaxWait, 60*time.Second)
	def(&c.Deadline, 10*time.Minute)
	def(&c.PollInitial, 3*time.Second)
	def(&c.PollMax, 20*time.Second)
	c.PollMax = max(c.PollMax, c.PollInitial)
	def(&c.Retention, 24*time.Hour)
	def(&c.GoneFor, 24*time.Hour)
	def(&c.LeaseTTL, 15*time.Second)
	def(&c.ScanInterval, time.Second)
	def(&c.Recheck, 5*time.Second)
	def(&c.IdempotencyTTL, 24*time.Hour)
	def(&c.RedisTimeout, 2*time.Second)
	if c.GroupLimit <= 0 {
		c.GroupLimit = 50
	}
	if c.MaxGroup <= 0 {
		c.MaxGroup = 500
	}
	if c.MaxPollErrors <= 0 {
		c.MaxPollErrors = 3
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Engine runs FSSP tasks. It is safe for concurrent use.
type Engine struct {
	rdb      redis.UniversalClient
	client   *fssp.Client
	reserve  Reserve
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
	e := &Engine{
		rdb: rdb, client: client, reserve: reserve, cfg: cfg.withDefaults(), log: log,
		m:        newMetrics(reg),
		instance: hex.EncodeToString(b[:]),
		kick:     make(chan string, 256),
		ready:    make(chan struct{}),
		driving:  map[string]bool{},
	}
	e.hub = newHub(e.m)
	return e
}

// Ready is closed once Run's pub/sub subscription is confirmed.
func (e *Engine) Ready() <-chan struct{} { return e.ready }

// MaxWait is the cap applied to waits.
func (e *Engine) MaxWait() time.Duration { return e.cfg.MaxWait }

// RetryAfter is how long a client should wait before polling a task that is
// not finished.
func (e *Engine) RetryAfter() time.Duration { return e.cfg.PollInitial }

// Submission is one search request of a tenant.
type Submission struct {
	Tenant         string        // tenant id; tasks and idempotency keys are scoped to it
	Credential     string        // upstream credential name (quota and polling)
	Token          tenant.Secret // the credential's FSSP token
	IdempotencyKey string        // optional
	Kind           string        // KindPhysical, KindLegal, KindIP or KindGroup
	Requests       []Query       // one for a single search; the group's searches in order
}

// Submitted is the outcome of Submit.
type Submitted struct {
	Task     *Task
	Header   http.Header // the quota's RateLimit headers (empty on a replay)
	Replayed bool        // the Idempotency-Key matched an earlier submission
}

var operations = map[string]string{
	KindPhysical: "fsspSearchPhysical", KindLegal: "fsspSearchLegal", KindIP: "fsspSearchIP", KindGroup: "fsspSearchGroup",
}

// Submit validates s, reserves quota, submits the search upstream (split into
// groups of GroupLimit) and stores the new task.
func (e *Engine) Submit(ctx context.Context, s Submission) (*Submitted, error) {
	queries, err := e.validate(s)
	if err != nil {
		return nil, err
	}
	now := e.cfg.Now()
	id := newID(now)
	var ikey string
	if s.IdempotencyKey != "" {
		ikey = idemKey(s.Tenant, s.IdempotencyKey)
		hash := bodyHash(s.Kind, queries)
		prior, err := e.claimIdempotency(ctx, ikey, idem{Task: id, Hash: hash})
		if err != nil {
			return nil, err
		}
		if prior != nil {
			if prior.Hash != hash {
				return nil, apperr.New(apperr.Unprocessable, "the Idempotency-Key was used with a different request body")
			}
			t, err := e.Get(ctx, s.Tenant, prior.Task)
			if apperr.KindOf(err) == apperr.NotFound {
				return nil, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still being processed")
			}
			if err != nil {
				return nil, err
			}
			return &Submitted{Task: t, Header: http.Header{}, Replayed: true}, nil
		}
	}
	sub, err := e.submit(ctx, s, id, now, queries)
	if err != nil && ikey != "" {
		ctx, cancel := e.rctx(context.WithoutCancel(ctx))
		_ = e.rdb.Del(ctx, ikey).Err()
		cancel()
	}
	return sub, err
}

// claimIdempotency stores v under key unless the key is taken; it returns
// the earlier value when it is.
func (e *Engine) claimIdempotency(ctx context.Context, key string, v idem) (*idem, error) {
	b, _ := json.Marshal(v)
	ctx, cancel := e.rctx(ctx)
	defer cancel()
	for range 3 {
		ok, err := e.rdb.SetNX(ctx, key, b, e.cfg.IdempotencyTTL).Result()
		if err != nil {
			return nil, redisErr("claim idempotency key", err)
		}
		if ok {
			return nil, nil
		}
		raw, err := e.rdb.Get(ctx, key).Bytes()
		if errors.Is(err, redis.Nil) {
			continue // expired or released in between
		}
		if err != nil {
			return nil, redisErr("read idempotency key", err)
		}
		var prior idem
		if err := json.Unmarshal(raw, &prior); err != nil {
			return nil, apperr.Wrap(apperr.Internal, "", fmt.Errorf("fssptasks: decode idempotency key: %w", err))
		}
		return &prior, nil
	}
	return nil, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still being processed")
}

func (e *Engine) submit(ctx context.Context, s Submission, id string, now time.Time, queries []fssp.Query) (*Submitted, error) {
	chunks := [][]fssp.Query{queries}
	if s.Kind == KindGroup {
		chunks = nil
		for i := 0; i < len(queries); i += e.cfg.GroupLimit {
			chunks = append(chunks, queries[i:min(i+e.cfg.GroupLimit, len(queries))])
		}
	}
	// Reserve every upstream call first, so a rejection sends nothing.
	res := make([]*quota.Reservation, len(chunks))
	refund := func(from int) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.RedisTimeout)
		defer cancel()
		for _, r := range res[from:] {
			if r != nil {
				if err := r.Refund(rctx); err != nil {
					e.log.WarnContext(ctx, "quota refund failed", slog.String("upstream", fssp.Upstream), slog.String("error", err.Error()))
				}
			}
		}
	}
	header := http.Header{}
	if e.reserve != nil {
		for i := range chunks {
			r, err := e.reserve(ctx, quota.Request{Tenant: s.Tenant, Credential: s.Credential, Upstream: fssp.Upstream, Operation: operations[s.Kind]})
			if err != nil {
				refund(0)
				return nil, err
			}
			res[i] = r
			header = r.Headers()
		}
	}
	parts := make([]part, len(chunks))
	offset := 0
	for i, c := range chunks {
		var upID string
		var err error
		if s.Kind == KindGroup {
			upID, err = e.client.SearchGroup(ctx, s.Token, c)
		} else {
			upID, err = e.client.Search(ctx, s.Token, c[0])
		}
		if err != nil {
			// Upstream calls that failed did no work: give their quota back.
			// Parts already accepted upstream keep theirs (they ran).
			refund(i)
			e.log.WarnContext(ctx, "fssp submission failed", slog.String("tenant", s.Tenant),
				slog.String("upstream", fssp.Upstream), slog.Int("part", i), slog.String("error", err.Error()))
			return nil, err
		}
		parts[i] = part{Upstream: upID, Offset: offset, Count: len(c)}
		offset += len(c)
	}
	e.tokens.Store(s.Credential, s.Token)
	r := &record{
		Task:   Task{ID: id, Status: Queued, Progress: Progress{Total: len(queries)}, CreatedAt: now, UpdatedAt: now},
		Tenant: s.Tenant, Credential: s.Credential, Kind: s.Kind, Requests: s.Requests, Parts: parts,
		NextPoll: now.Add(e.cfg.PollInitial),
	}
	if err := e.create(ctx, r); err != nil {
		return nil, err
	}
	select {
	case e.kick <- id:
	default: // the next scan finds it
	}
	return &Submitted{Task: &r.Task, Header: header}, nil
}

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
func (e *Engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { e.listen(ctx) })
	wg.Go(func() { e.recheck(ctx) })
	scan := time.NewTicker(e.cfg.ScanInterval)
	defer scan.Stop()
	e.scan(ctx, &wg)
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case id := <-e.kick:
			e.adopt(ctx, &wg, id)
		case <-scan.C:
			e.scan(ctx, &wg)
		}
	}
}

// scan adopts active tasks that have no poller.
func (e *Engine) scan(ctx context.Context, wg *sync.WaitGroup) {
	rctx, cancel := e.rctx(ctx)
	ids, err := e.rdb.ZRange(rctx, activeKey, 0, -1).Result()
	cancel()
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

// adopt starts a poller for id if no replica has one.
func (e *Engine) adopt(ctx context.Context, wg *sync.WaitGroup, id string) {
	e.mu.Lock()
	busy := e.driving[id]
	e.mu.Unlock()
	if busy || ctx.Err() != nil {
		return
	}
	ok, err := e.acquire(ctx, id)
	if err != nil || !ok {
		return
	}
	e.mu.Lock()
	e.driving[id] = true
	e.mu.Unlock()
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
