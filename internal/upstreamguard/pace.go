package upstreamguard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// paceLua gives one request of a credential its send time: the later of
// now and the last send time given plus the interval (the window over the
// rate), so that send times are at least an interval apart and at most
// Rate fall in any window. Time is Redis's own (TIME), the same for every
// replica; times are in microseconds.
//
// KEYS: the last send time, the retry budget. ARGV: interval_us,
// max_wait_us, retry ("1": a retry of a 429, which also takes a token of
// the budget), the budget's tokens a second, its most tokens.
// Returns {1, delay_us} (granted: send after delay_us), {0, delay_us} (the
// turn would come after max_wait_us; nothing is recorded) or {2, us} (no
// retry token for us more). Run twice (go-redis sends a script again when
// its connection broke after Redis ran it), it only hands out one more
// turn: the credential sends less, never more.
const paceLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, maxwait = tonumber(ARGV[1]), tonumber(ARGV[2])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0') + interval)
local delay = slot - now
if delay > maxwait then return {0, delay} end
if ARGV[3] == '1' then
  local per, most = tonumber(ARGV[4]), tonumber(ARGV[5])
  local b = redis.call('HMGET', KEYS[2], 'tokens', 'at')
  local tokens = most
  if b[1] and b[2] then tokens = math.min(most, tonumber(b[1]) + (now - tonumber(b[2])) * per / 1000000) end
  if tokens < 1 then return {2, math.ceil((1 - tokens) * 1000000 / per)} end
  redis.call('HSET', KEYS[2], 'tokens', string.format('%.6f', tokens - 1), 'at', string.format('%.0f', now))
  redis.call('PEXPIRE', KEYS[2], math.ceil(most * 1000 / per) + 1000)
end
redis.call('SET', KEYS[1], string.format('%.0f', slot), 'PX', math.ceil((delay + interval) / 1000) + 1000)
return {1, delay}
`

// pacer hands out send times: through Redis, for every replica together;
// while Redis does not answer (or without Redis), from each credential's
// pace in this replica alone.
type pacer struct {
	rdb     redis.UniversalClient // nil: this replica alone
	script  *redis.Script
	window  time.Duration
	maxWait time.Duration
	timeout time.Duration
	share   float64
	// downUntil (Unix ns): after a failed pacing call, the replica paces
	// alone for a second without asking Redis, so that a Redis that is down
	// does not cost every call a failed dial.
	downUntil atomic.Int64
}

// localFor is how long the replica paces alone after a failed pacing call.
const localFor = time.Second

func newPacer(rdb redis.UniversalClient, cfg Config) *pacer {
	return &pacer{rdb: rdb, script: redis.NewScript(paceLua), window: time.Second + cfg.Margin,
		maxWait: cfg.MaxWait, timeout: 2 * cfg.RedisTimeout, share: cfg.RetryShare}
}

// interval is the least time between two send times of c.
func (p *pacer) interval(c *guarded) time.Duration {
	return (p.window + time.Duration(c.Rate) - 1) / time.Duration(c.Rate)
}

// localPace is a credential's pace in this replica alone.
type localPace struct {
	mu   sync.Mutex
	last time.Time
}

// observe records a send time Redis gave this replica: pacing alone goes
// on after it.
func (l *localPace) observe(slot time.Time) {
	l.mu.Lock()
	if slot.After(l.last) {
		l.last = slot
	}
	l.mu.Unlock()
}

func (l *localPace) take(interval, maxWait time.Duration) (verdict, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now, slot := time.Now(), l.last.Add(interval)
	if slot.Before(now) {
		slot = now
	}
	if d := slot.Sub(now); d > maxWait {
		return tooLate, d
	}
	l.last = slot
	return granted, slot.Sub(now)
}

// verdict is the pacer's answer to one request.
type verdict int

const (
	granted  verdict = iota // send after the delay
	tooLate                 // the turn would come after MaxWait; nothing recorded
	noBudget                // a retry without a token of the budget
)

// take asks for a send time for one request of c (a retry of a 429 when
// retry) and returns the verdict and the delay: to wait before sending
// (granted), to the turn (tooLate), or to the next retry token (noBudget).
// When Redis fails (or failed less than localFor ago), err says so and the
// verdict is the replica's own, after the last turn Redis gave it (a retry
// is refused: its budget is shared).
func (p *pacer) take(ctx context.Context, c *guarded, retry bool) (verdict, time.Duration, error) {
	err := errAlone
	if p.rdb != nil && time.Now().UnixNano() >= p.downUntil.Load() {
		var v verdict
		var d time.Duration
		start := time.Now()
		if v, d, err = p.shared(ctx, c, retry); err == nil {
			if v == granted {
				c.local.observe(start.Add(d))
			}
			return v, d, nil
		}
		if ctx.Err() == nil {
			p.downUntil.Store(time.Now().Add(localFor).UnixNano())
		}
	}
	if retry {
		return noBudget, 0, err
	}
	v, d := c.local.take(p.interval(c), p.maxWait)
	return v, d, err
}

// errAlone says a request was paced by this replica alone.
var errAlone = errors.New("upstreamguard: no shared pace (no Redis, or it failed within the last second)")

// shared runs the pacing script for one request of c.
func (p *pacer) shared(ctx context.Context, c *guarded, retry bool) (verdict, time.Duration, error) {
	rctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	per := p.share * float64(c.Rate)
	flag := "0"
	if retry {
		flag = "1"
	}
	tag := "{cred:" + c.Name + "}:guard:"
	vals, err := p.script.Run(rctx, p.rdb, []string{tag + "pace", tag + "retry"},
		p.interval(c).Microseconds(), p.maxWait.Microseconds(), flag,
		strconv.FormatFloat(per, 'f', -1, 64), strconv.FormatFloat(max(1, math.Ceil(per)), 'f', -1, 64)).Int64Slice()
	if err != nil {
		return granted, 0, fmt.Errorf("upstreamguard: pace %s/%s: %w", c.Upstream, c.Name, err)
	}
	if len(vals) != 2 || vals[0] < 0 || vals[0] > 2 {
		return granted, 0, fmt.Errorf("upstreamguard: pace %s/%s: script answered %v", c.Upstream, c.Name, vals)
	}
	d := time.Duration(vals[1]) * time.Microsecond
	switch vals[0] {
	case 0:
		return tooLate, d, nil
	case 2:
		return noBudget, d, nil
	}
	return granted, d, nil
}
