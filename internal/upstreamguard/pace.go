package upstreamguard

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// paceLua gives one request of a credential its send time: the latest of
// now, the send time of the Rate-th request before it plus the window, and
// the last send time given (so send times never go back and any Rate + 1
// consecutive ones span at least the window). It keeps the last Rate send
// times. Time is Redis's own (TIME), the same for every replica.
//
// KEYS: the pace set, the retry budget. ARGV: request id, rate, window_ms,
// max_wait_ms, retry ("1": a retry of a 429, which also takes a token of
// the budget), the budget's tokens a second, its most tokens.
// Returns {1, delay_ms} (granted: send after delay_ms), {0, delay_ms} (the
// turn would come after max_wait_ms; nothing is recorded) or {2, ms} (no
// retry token for ms more). A request id already granted returns its own
// turn again, so the script is safe to run twice (go-redis sends a script
// again when its connection broke after Redis ran it).
const paceLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prev = redis.call('ZSCORE', KEYS[1], ARGV[1])
if prev then return {1, math.max(0, tonumber(prev) - now)} end
local rate, window, maxwait = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local slot = now
local n = redis.call('ZCARD', KEYS[1])
if n >= rate then
  local e = redis.call('ZRANGE', KEYS[1], n - rate, n - rate, 'WITHSCORES')
  slot = math.max(slot, tonumber(e[2]) + window)
end
if n > 0 then
  local e = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  slot = math.max(slot, tonumber(e[2]))
end
local delay = slot - now
if delay > maxwait then return {0, delay} end
if ARGV[5] == '1' then
  local per, most = tonumber(ARGV[6]), tonumber(ARGV[7])
  local b = redis.call('HMGET', KEYS[2], 'tokens', 'at')
  local tokens = most
  if b[1] and b[2] then tokens = math.min(most, tonumber(b[1]) + (now - tonumber(b[2])) * per / 1000) end
  if tokens < 1 then return {2, math.ceil((1 - tokens) * 1000 / per)} end
  redis.call('HSET', KEYS[2], 'tokens', tostring(tokens - 1), 'at', now)
  redis.call('PEXPIRE', KEYS[2], math.ceil(most * 1000 / per) + 1000)
end
redis.call('ZADD', KEYS[1], slot, ARGV[1])
if n + 1 > rate then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - rate) end
redis.call('PEXPIRE', KEYS[1], delay + window + 1000)
return {1, delay}
`

// pacer hands out send times through Redis.
type pacer struct {
	rdb     redis.UniversalClient
	script  *redis.Script
	window  time.Duration
	maxWait time.Duration
	timeout time.Duration
	share   float64
}

func newPacer(rdb redis.UniversalClient, cfg Config) *pacer {
	return &pacer{rdb: rdb, script: redis.NewScript(paceLua), window: time.Second + cfg.Margin,
		maxWait: cfg.MaxWait, timeout: cfg.RedisTimeout, share: cfg.RetryShare}
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
func (p *pacer) take(ctx context.Context, c *guarded, retry bool) (verdict, time.Duration, error) {
	rctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	per := p.share * float64(c.Rate)
	most := max(1, math.Ceil(per))
	flag := "0"
	if retry {
		flag = "1"
	}
	tag := "{cred:" + c.Name + "}:guard:"
	vals, err := p.script.Run(rctx, p.rdb, []string{tag + "pace", tag + "retry"},
		strconv.FormatUint(rand.Uint64(), 36), c.Rate, p.window.Milliseconds(), p.maxWait.Milliseconds(),
		flag, strconv.FormatFloat(per, 'f', -1, 64), strconv.FormatFloat(most, 'f', -1, 64)).Int64Slice()
	if err != nil {
		return granted, 0, fmt.Errorf("upstreamguard: pace %s/%s: %w", c.Upstream, c.Name, err)
	}
	if len(vals) != 2 || vals[0] < 0 || vals[0] > 2 {
		return granted, 0, fmt.Errorf("upstreamguard: pace %s/%s: script answered %v", c.Upstream, c.Name, vals)
	}
	d := time.Duration(vals[1]) * time.Millisecond
	switch vals[0] {
	case 0:
		return tooLate, d, nil
	case 2:
		return noBudget, d, nil
	}
	return granted, d, nil
}
