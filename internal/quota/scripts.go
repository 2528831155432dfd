package quota

import "github.com/redis/go-redis/v9"

// reserveScript checks every rule of one request and, only when all of them
// have room, records the units: one round trip, no read-then-write race. In
// the same script it adds the request to the quota ledger (ledgerKey): the
// units reserved, or rejected, under the request's tenant, upstream, family
// and operation.
//
// KEYS: the rule keys (n of them), the 423 mark keys (m), then the
// credential's split key of a split family (s = 0 or 1), then the attempt key
// (attemptKey), then the ledger keys (l of them). A granted reservation's
// answer, and a rejection the ledger counted, is kept under the attempt key
// for 10 s, and the same command run again (go-redis retries after a broken
// connection, within the call's timeout) returns it without recording
// anything again.
// ARGV: now_ms, reservation id, n, m, s, then per rule: kind ("c" counter,
// "s" per-second counter, "z" sliding sorted set), limit, units, ttl_ms
// (counters) or window_ms (sliding), variant; then per mark: variant; then
// l, the time to live (ms) of each ledger key, the ledger field of the
// combined family and of the split one (the same when the family is not
// split), and the units; a ledger key's time to live is set when one of its
// fields is created (it runs to the same instant whenever it is set). A
// variant is "-" (always), "c" (only while the family is combined: the split
// key is not "1") or "s" (only while split); rules and marks of the other
// variant are skipped.
// Returns {2, mark_until_ms, split} when the family is marked spent, else
// {ok (1|0), used_1, hint_1, ..., used_n, hint_n, split}: used is the count
// before (rejected) or after (ok) this request, 0 for a skipped rule; hint
// is, for sliding windows, the instant (ms) the window has room for this
// request (rejected) or its oldest unit leaves (ok); -1 when never (units >
// limit). split is 1 when the split key said split, else 0.
//
// A rejection by per-second rules alone is not added to the ledger: the
// caller may wait and try again, and adds it (ledgerAddScript) only when it
// gives up.
const reserveLua = `
local now, id = tonumber(ARGV[1]), ARGV[2]
local n, m, s = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local attempt = KEYS[n + m + s + 1]
local prev = redis.call('GET', attempt)
if prev then
  local t = {}
  for x in string.gmatch(prev, '[^,]+') do t[#t + 1] = tonumber(x) end
  return t
end
local split = 0
if s == 1 and redis.call('GET', KEYS[n + m + 1]) == '1' then split = 1 end
local lb = 5 + 5 * n + m
local l = tonumber(ARGV[lb + 1])
local function ledger(kind)
  local field = ARGV[lb + l + 2]
  if split == 1 then field = ARGV[lb + l + 3] end
  local units = tonumber(ARGV[lb + l + 4])
  for j = 1, l do
    local k = KEYS[n + m + s + 1 + j]
    if redis.call('HINCRBY', k, field .. ':' .. kind, units) == units then
      redis.call('PEXPIRE', k, ARGV[lb + 1 + j])
    end
  end
end
local function on(v) return v == '-' or (v == 's') == (split == 1) end
for j = 1, m do
  if on(ARGV[5 + 5 * n + j]) then
    local v = tonumber(redis.call('GET', KEYS[n + j]) or '0')
    if v > now then
      ledger('rejected')
      redis.call('SET', attempt, '2,' .. v .. ',' .. split, 'PX', 10000)
      return {2, v, split}
    end
  end
end
local res, ok, hard = {1}, true, false
for i = 1, n do
  local b = 5 + (i - 1) * 5
  local kind, limit, units, span = ARGV[b + 1], tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  local used, hint = 0, 0
  if not on(ARGV[b + 5]) then
    units = 0
  elseif kind == 'z' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - span)
    used = redis.call('ZCARD', KEYS[i])
    local need = used + units - limit
    if units > limit then
      hint = -1
    elseif need > 0 then
      local e = redis.call('ZRANGE', KEYS[i], need - 1, need - 1, 'WITHSCORES')
      hint = tonumber(e[2]) + span
    elseif used > 0 then
      local e = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
      hint = tonumber(e[2]) + span
    else
      hint = now + span
    end
  else
    used = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
  if used + units > limit then
    ok = false
    if kind ~= 's' then hard = true end
  end
  res[2 * i] = used
  res[2 * i + 1] = hint
end
res[2 * n + 2] = split
if not ok then
  res[1] = 0
  if hard then
    ledger('rejected')
    redis.call('SET', attempt, table.concat(res, ','), 'PX', 10000)
  end
  return res
end
for i = 1, n do
  local b = 5 + (i - 1) * 5
  local kind, units, span = ARGV[b + 1], tonumber(ARGV[b + 3]), ARGV[b + 4]
  if on(ARGV[b + 5]) then
    if kind == 'z' then
      for u = 1, units do redis.call('ZADD', KEYS[i], now, id .. ':' .. u) end
    else
      redis.call('INCRBY', KEYS[i], units)
    end
    redis.call('PEXPIRE', KEYS[i], span)
    res[2 * i] = res[2 * i] + units
  end
end
ledger('reserved')
redis.call('SET', attempt, table.concat(res, ','), 'PX', 10000)
return res
`

// refundScript gives units back, adds them to the ledger as refunded and
// publishes the invalidation of the owners' cached exhaustions. KEYS: rule
// keys (n), then the refund's attempt key (a refund run again changes
// nothing), then the ledger keys the reservation counted in. ARGV:
// reservation id, channel ("": none), message, n, ledger field ("": none),
// units, then per rule key: kind, units. A counter or ledger whose window
// has gone is not recreated. Returns 0 when the refund was already made.
const refundLua = `
local id, n = ARGV[1], tonumber(ARGV[4])
if not redis.call('SET', KEYS[n + 1], '1', 'NX', 'PX', 10000) then return 0 end
for i = 1, n do
  local kind, units = ARGV[5 + 2 * i], tonumber(ARGV[6 + 2 * i])
  if kind == 'z' then
    for u = 1, units do redis.call('ZREM', KEYS[i], id .. ':' .. u) end
  elseif redis.call('EXISTS', KEYS[i]) == 1 then
    if redis.call('DECRBY', KEYS[i], units) < 0 then redis.call('SET', KEYS[i], 0, 'KEEPTTL') end
  end
end
if ARGV[5] ~= '' then
  for j = n + 2, #KEYS do
    if redis.call('EXISTS', KEYS[j]) == 1 then redis.call('HINCRBY', KEYS[j], ARGV[5] .. ':refunded', ARGV[6]) end
  end
end
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1
`

// ledgerAddScript adds counts to the ledger: the rejections an engine
// answered without Redis (a known exhaustion) or gave up waiting on (a
// per-second rate). KEYS: the ledger keys (l), then the attempt key (the
// same batch run again adds nothing). ARGV: l, the time to live (ms) of
// each ledger key, then field and count pairs. Returns 0 when the batch was
// already added.
const ledgerAddLua = `
local l = tonumber(ARGV[1])
if not redis.call('SET', KEYS[l + 1], '1', 'NX', 'PX', 10000) then return 0 end
for j = 1, l do
  for i = l + 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[j], ARGV[i], ARGV[i + 1]) end
  redis.call('PEXPIRE', KEYS[j], ARGV[1 + j])
end
return 1
`

// usageScript reads counts without changing them. KEYS: rule keys (n), then
// other keys (mark and sync flags) whose values are returned as they are.
// ARGV: now_ms, n, then per rule: kind, window_ms. Returns {used_1, hint_1,
// ..., used_n, hint_n, value_1, ...}; hint is a sliding window's oldest unit
// expiry (ms), 0 when empty.
const usageLua = `
local now, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local res = {}
for i = 1, n do
  local kind, span = ARGV[1 + 2 * i], tonumber(ARGV[2 + 2 * i])
  local used, hint = 0, 0
  if kind == 'z' then
    used = redis.call('ZCOUNT', KEYS[i], '(' .. (now - span), '+inf')
    if used > 0 then
      local e = redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. (now - span), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
      hint = tonumber(e[2]) + span
    end
  else
    used = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
  res[#res + 1] = used
  res[#res + 1] = hint
end
for j = n + 1, #KEYS do
  res[#res + 1] = tonumber(redis.call('GET', KEYS[j]) or '0')
end
return res
`

// syncLua raises a credential's monthly counter to the floor the upstream
// reports and, when the upstream reports nothing left, marks the family
// spent. KEYS: counter, sync flag, mark. ARGV: floor ("" when there is no
// monthly rule), ttl_ms, mark_until_ms (0: no mark), mark_ttl_ms. Returns 1
// when the counter was raised.
const syncLua = `
local raised = 0
if ARGV[1] ~= '' then
  local floor = tonumber(ARGV[1])
  local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
  if floor > cur then
    redis.call('SET', KEYS[1], floor, 'PX', ARGV[2])
    redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
    raised = 1
  end
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
end
return raised
`

// markLua marks a family spent until an instant (a 423). KEYS: the mark,
// or for a split family the combined and the own family's marks and the
// credential's split key. ARGV: until_ms and ttl_ms per mark. Returns the
// index of the mark set: 2 when the family is split, else 1.
const markLua = `
local i = 1
if #KEYS == 3 and redis.call('GET', KEYS[3]) == '1' then i = 2 end
redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', ARGV[2 * i])
return i
`

// splitLua records whether a credential's family is split and, on a change,
// publishes the invalidation of the cached exhaustions of its variants.
// KEYS: the split key. ARGV: "1" (split) or "0", channel ("": none),
// message. Returns 1 when the value changed.
const splitLua = `
if (redis.call('GET', KEYS[1]) or '0') == ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1
`

// scripts holds the engine's Lua scripts (EVALSHA, EVAL on NOSCRIPT).
type scripts struct {
	reserve, refund, usage, sync, mark, split, ledgerAdd *redis.Script
}

func newScripts() scripts {
	return scripts{
		reserve:   redis.NewScript(reserveLua),
		refund:    redis.NewScript(refundLua),
		usage:     redis.NewScript(usageLua),
		sync:      redis.NewScript(syncLua),
		mark:      redis.NewScript(markLua),
		split:     redis.NewScript(splitLua),
		ledgerAdd: redis.NewScript(ledgerAddLua),
	}
}
