package webhooks

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
)

const (
	streamKey = "{webhooks}:stream"
	retryKey  = "{webhooks}:retry"
	group     = "deliver"
)

func deliveryKey(id string) string  { return "{webhooks}:d:" + id }
func logKey(tenantID string) string { return "{webhooks}:log:" + tenantID }

// Delivery statuses.
const (
	StatusPending   = "pending"   // queued, or being attempted
	StatusRetrying  = "retrying"  // waiting for its next attempt
	StatusDelivered = "delivered" // a 2xx answer
	StatusDead      = "dead"      // failed for RetryFor; redeliver to try again
)

// Delivery is one message as the tenant's delivery log shows it.
type Delivery struct {
	ID             string // the webhook-id
	Type           string
	URL            string
	Status         string
	Attempts       int
	CreatedAt      time.Time
	LastAttemptAt  time.Time // zero before the first attempt
	LastStatusCode int       // the receiver's last HTTP status; 0 when it gave none
	LastError      string    // why the last attempt failed, without addresses or secrets
	NextAttemptAt  time.Time // zero unless pending or retrying
}

// enqueueScript creates a delivery and queues it, unless a delivery of
// that id exists (an event queued twice; safe to run twice).
var enqueueScript = redis.NewScript(`
if redis.call('exists', KEYS[1]) == 1 then return 0 end
redis.call('hset', KEYS[1], 'tenant', ARGV[2], 'url', ARGV[3], 'type', ARGV[4], 'payload', ARGV[5],
  'created', ARGV[6], 'window', ARGV[6], 'attempts', 0, 'status', 'pending', 'next', ARGV[6])
redis.call('expire', KEYS[1], ARGV[7])
redis.call('zadd', KEYS[3], ARGV[6], ARGV[1])
redis.call('zremrangebyrank', KEYS[3], 0, -(tonumber(ARGV[8]) + 1))
redis.call('expire', KEYS[3], ARGV[7])
redis.call('xadd', KEYS[2], '*', 'id', ARGV[1])
return 1
`)

// finishScript records an attempt of a pending delivery (ARGV[3]: attempts
// seen when it started, so a stale duplicate attempt records nothing),
// schedules its retry and acknowledges its stream entry, at once. Safe to
// run twice: the second run finds the attempt count moved.
var finishScript = redis.NewScript(`
redis.call('xack', KEYS[2], ARGV[1], ARGV[2])
redis.call('xdel', KEYS[2], ARGV[2])
if redis.call('hget', KEYS[1], 'status') ~= 'pending' then return 0 end
if redis.call('hget', KEYS[1], 'attempts') ~= ARGV[3] then return 0 end
redis.call('hincrby', KEYS[1], 'attempts', 1)
redis.call('hset', KEYS[1], 'status', ARGV[5], 'last', ARGV[6], 'next', ARGV[7], 'code', ARGV[8], 'error', ARGV[9])
if ARGV[5] == 'retrying' then redis.call('zadd', KEYS[3], ARGV[7], ARGV[4]) end
redis.call('expire', KEYS[1], ARGV[10])
return 1
`)

// moveScript queues a due retry; the ZREM admits one replica.
var moveScript = redis.NewScript(`
if redis.call('zrem', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('exists', KEYS[3]) == 0 then return 0 end
redis.call('hset', KEYS[3], 'status', 'pending')
redis.call('xadd', KEYS[2], '*', 'id', ARGV[1])
return 1
`)

// redeliverScript queues a delivery of the tenant again now, with a new
// RetryFor window: 0 when it is not the tenant's, 2 when it is already
// pending (nothing changes), 1 when queued.
var redeliverScript = redis.NewScript(`
if redis.call('hget', KEYS[1], 'tenant') ~= ARGV[2] then return 0 end
if redis.call('hget', KEYS[1], 'status') == 'pending' then return 2 end
redis.call('zrem', KEYS[3], ARGV[1])
redis.call('hset', KEYS[1], 'status', 'pending', 'window', ARGV[3], 'next', ARGV[3])
redis.call('expire', KEYS[1], ARGV[4])
redis.call('xadd', KEYS[2], '*', 'id', ARGV[1])
return 1
`)

// List returns the tenant's newest deliveries, newest first (at most limit).
func (d *Dispatcher) List(ctx context.Context, tenantID string, limit int) ([]Delivery, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.RedisTimeout)
	defer cancel()
	ids, err := d.rdb.ZRevRange(ctx, logKey(tenantID), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	if len(ids) > 0 {
		_, err = d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = p.HGetAll(ctx, deliveryKey(id))
			}
			return nil
		})
		if err != nil {
			return nil, storeErr(err)
		}
	}
	out := make([]Delivery, 0, len(ids))
	for i, id := range ids {
		h := cmds[i].Val()
		if h["tenant"] != tenantID {
			continue // expired
		}
		out = append(out, delivery(id, h))
	}
	return out, nil
}

// Get returns one delivery of the tenant: NotFound when it does not exist
// or is another tenant's.
func (d *Dispatcher) Get(ctx context.Context, tenantID, id string) (*Delivery, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.RedisTimeout)
	defer cancel()
	h, err := d.rdb.HGetAll(ctx, deliveryKey(id)).Result()
	if err != nil {
		return nil, storeErr(err)
	}
	if h["tenant"] != tenantID {
		return nil, apperr.Errorf(apperr.NotFound, "no webhook delivery %s", id)
	}
	dl := delivery(id, h)
	return &dl, nil
}

// Redeliver queues a delivery of the tenant again, now, under the same
// webhook-id, with a new RetryFor window; one already pending is left as it
// is. NotFound when it is not the tenant's.
func (d *Dispatcher) Redeliver(ctx context.Context, tenantID, id string) (*Delivery, error) {
	rctx, cancel := context.WithTimeout(ctx, d.cfg.RedisTimeout)
	defer cancel()
	now := d.cfg.Now().UnixMilli()
	n, err := redeliverScript.Run(rctx, d.rdb, []string{deliveryKey(id), streamKey, retryKey},
		id, tenantID, now, int64(d.cfg.Retention/time.Second)).Int()
	if err != nil {
		return nil, storeErr(err)
	}
	if n == 0 {
		return nil, apperr.Errorf(apperr.NotFound, "no webhook delivery %s", id)
	}
	return d.Get(ctx, tenantID, id)
}

func delivery(id string, h map[string]string) Delivery {
	ms := func(k string) time.Time {
		v, err := strconv.ParseInt(h[k], 10, 64)
		if err != nil || v == 0 {
			return time.Time{}
		}
		return time.UnixMilli(v).UTC()
	}
	attempts, _ := strconv.Atoi(h["attempts"])
	code, _ := strconv.Atoi(h["code"])
	dl := Delivery{ID: id, Type: h["type"], URL: h["url"], Status: h["status"], Attempts: attempts,
		CreatedAt: ms("created"), LastAttemptAt: ms("last"), LastStatusCode: code, LastError: h["error"]}
	if dl.Status == StatusPending || dl.Status == StatusRetrying {
		dl.NextAttemptAt = ms("next")
	}
	return dl
}

func storeErr(err error) error {
	return apperr.Wrap(apperr.Unavailable, "the webhook store is unavailable", fmt.Errorf("webhooks: %w", err))
}
