package fssptasks

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
)

// Redis layout. A task's keys share the hash tag {id}, so the conditional
// save script works on Redis Cluster; every other script touches one key.
//
//	fssp:{ID}:task              JSON record; TTL Retention+GoneFor from creation
//	fssp:{ID}:lease             the poller's instance id; TTL LeaseTTL, renewed
//	fssp:active                 zset of unfinished task ids; score: when the
//	                            task's lease lapses (ms, Redis clock), 0 while
//	                            it has none
//	fssp:events                 pub/sub channel: "ID STATUS" on every change
//
// The lease key decides who polls a task (save checks it); the scores of
// fssp:active only tell the scan which tasks may have no poller, so that it
// reads those alone (dueScript) instead of trying every active task's lease.
// A score that lags behind its lease costs one failed SETNX, nothing more.
//
// Idempotency-Keys live in the idempotency store (Config.Idempotency).
const (
	activeKey     = "fssp:active"
	eventsChannel = "fssp:events"
)

func taskKey(id string) string  { return "fssp:{" + id + "}:task" }
func leaseKey(id string) string { return "fssp:{" + id + "}:lease" }

// record is what Redis holds for a task.
type record struct {
	Task       Task      `json:"task"`
	Tenant     string    `json:"tenant"`
	Credential string    `json:"credential"`
	Kind       string    `json:"kind"`
	Requests   []Query   `json:"requests"`
	Parts      []part    `json:"parts"`
	Attempt    int       `json:"attempt"`
	NextPoll   time.Time `json:"nextPoll"`
	PollErrors int       `json:"pollErrors"`
	Revision   int64     `json:"revision,omitempty"` // saves so far (Task.Revision)
	// Trace is the W3C traceparent of the submitting request's span, which
	// the poller's spans link to; "" when it was not traced.
	Trace string `json:"trace,omitempty"`
}

// part is one upstream task: the searches [Offset, Offset+Count).
type part struct {
	Upstream string `json:"upstream"`
	Offset   int    `json:"offset"`
	Count    int    `json:"count"`
	Started  bool   `json:"started,omitempty"`
	Progress int    `json:"progress,omitempty"`
	Done     bool   `json:"done,omitempty"`
}

// saveScript writes a task record if this instance holds its lease.
var saveScript = redis.NewScript(`
if redis.call('get', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('set', KEYS[1], ARGV[2], 'KEEPTTL')
return 1`)

// acquireScript takes the lease KEYS[1] for instance ARGV[1] and ARGV[2] ms:
// 1 when taken now or already this instance's (the same command sent again
// by go-redis after a broken connection, when Redis had run it), else 0.
var acquireScript = redis.NewScript(`
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('get', KEYS[1]) == ARGV[1] then return 1 end
return 0`)

// renewScript extends this instance's lease.
var renewScript = redis.NewScript(`
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('pexpire', KEYS[1], ARGV[2])`)

// releaseScript deletes this instance's lease: 1 when it is gone (also
// when a first run, whose answer was lost, deleted it), 0 when another
// instance holds it.
var releaseScript = redis.NewScript(`
local v = redis.call('get', KEYS[1])
if v == ARGV[1] then return redis.call('del', KEYS[1]) end
if not v then return 1 end
return 0`)

// dueScript returns up to ARGV[1] tasks of KEYS[1] (fssp:active) whose
// lease lapsed by the Redis clock, oldest first.
var dueScript = redis.NewScript(`
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('zrangebyscore', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))`)

// leasedScript sets the score of active task ARGV[1] in KEYS[1]
// (fssp:active) to ARGV[2] ms from now by the Redis clock; XX: a retired
// task stays retired.
var leasedScript = redis.NewScript(`
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('zadd', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])`)

// scanBatch is the most tasks one scan adopts.
const scanBatch = 100

// rctx bounds one Redis round trip.
func (e *Engine) rctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.cfg.RedisTimeout)
}

func redisErr(op string, err error) error {
	return apperr.Wrap(apperr.Unavailable, "the task store is unavailable", fmt.Errorf("fssptasks: %s: %w", op, err))
}

// load returns the record of id, or nil when Redis has none.
func (e *Engine) load(ctx context.Context, id string) (*record, error) {
	ctx, cancel := e.rctx(ctx)
	defer cancel()
	b, err := e.rdb.Get(ctx, taskKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, redisErr("load task", err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, apperr.Wrap(apperr.Internal, "", fmt.Errorf("fssptasks: decode task %s: %w", id, err))
	}
	r.Task.revision = r.Revision
	return &r, nil
}

// create stores a new record and marks it active.
func (e *Engine) create(ctx context.Context, r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return apperr.Wrap(apperr.Internal, "", fmt.Errorf("fssptasks: encode task: %w", err))
	}
	ctx, cancel := e.rctx(ctx)
	defer cancel()
	if err := e.rdb.Set(ctx, taskKey(r.Task.ID), b, e.cfg.Retention+e.cfg.GoneFor).Err(); err != nil {
		return redisErr("create task", err)
	}
	if err := e.rdb.ZAdd(ctx, activeKey, redis.Z{Score: 0, Member: r.Task.ID}).Err(); err != nil {
		return redisErr("mark task active", err)
	}
	return nil
}

// save writes r if this instance still holds its lease, then announces the
// change. It reports false when the lease was lost.
func (e *Engine) save(ctx context.Context, r *record) (bool, error) {
	r.Revision++
	r.Task.revision = r.Revision
	b, err := json.Marshal(r)
	if err != nil {
		return false, fmt.Errorf("fssptasks: encode task: %w", err)
	}
	ctx, cancel := e.rctx(ctx)
	defer cancel()
	id := r.Task.ID
	ok, err := saveScript.Run(ctx, e.rdb, []string{taskKey(id), leaseKey(id)}, e.instance, b).Int()
	if err != nil {
		return false, fmt.Errorf("fssptasks: save task %s: %w", id, err)
	}
	if ok == 0 {
		return false, nil
	}
	if r.Task.Status.Final() {
		if err := e.rdb.ZRem(ctx, activeKey, id).Err(); err != nil {
			return true, fmt.Errorf("fssptasks: retire task %s: %w", id, err)
		}
	}
	if err := e.rdb.Publish(ctx, eventsChannel, id+" "+string(r.Task.Status)).Err(); err != nil {
		return true, fmt.Errorf("fssptasks: announce task %s: %w", id, err)
	}
	return true, nil
}

// due returns active tasks whose lease lapsed (by the scores of fssp:active).
func (e *Engine) due(ctx context.Context) ([]string, error) {
	ctx, cancel := e.rctx(ctx)
	defer cancel()
	return dueScript.Run(ctx, e.rdb, []string{activeKey}, scanBatch).StringSlice()
}

// leased records in fssp:active when the lease of id lapses: after d (0:
// now, so that any replica's next scan adopts it).
func (e *Engine) leased(ctx context.Context, id string, d time.Duration) {
	ctx, cancel := e.rctx(ctx)
	defer cancel()
	if err := leasedScript.Run(ctx, e.rdb, []string{activeKey}, id, d.Milliseconds()).Err(); err != nil && ctx.Err() == nil {
		e.log.DebugContext(ctx, "recording an fssp lease in the active set failed", slog.String("task", id), slog.String("error", err.Error()))
	}
}

// acquire takes the lease of id for this instance.
func (e *Engine) acquire(ctx context.Context, id string) (bool, error) {
	rctx, cancel := e.rctx(ctx)
	n, err := acquireScript.Run(rctx, e.rdb, []string{leaseKey(id)}, e.instance, e.cfg.LeaseTTL.Milliseconds()).Int()
	cancel()
	ok := n == 1
	if ok {
		e.leased(ctx, id, e.cfg.LeaseTTL)
	}
	return ok, err
}

// renew extends this instance's lease of id; false when another holds it.
func (e *Engine) renew(ctx context.Context, id string) (bool, error) {
	rctx, cancel := e.rctx(ctx)
	n, err := renewScript.Run(rctx, e.rdb, []string{leaseKey(id)}, e.instance, e.cfg.LeaseTTL.Milliseconds()).Int()
	cancel()
	if n == 1 {
		e.leased(ctx, id, e.cfg.LeaseTTL)
	}
	return n == 1, err
}

// release gives up this instance's lease of id, so that another replica may
// adopt the task at its next scan. It runs even when ctx has ended.
func (e *Engine) release(ctx context.Context, id string) {
	ctx = context.WithoutCancel(ctx)
	rctx, cancel := e.rctx(ctx)
	n, _ := releaseScript.Run(rctx, e.rdb, []string{leaseKey(id)}, e.instance).Int()
	cancel()
	if n == 1 {
		e.leased(ctx, id, 0)
	}
}

// newID returns a 26-character Crockford base32 id: 48 bits of milliseconds
// then 80 random bits (ULID layout), so ids sort by creation.
func newID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	out := make([]byte, 26)
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out)
}
