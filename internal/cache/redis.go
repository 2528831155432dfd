package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/telemetry"
)

// The Redis side of the store. An entry and its fill lock share a hash tag
// (the request hash), so the two-key scripts below also run on a cluster.

func (s *Store) rctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.Timeout)
}

func (s *Store) redisErr(cmd string, err error) error {
	if err != nil && !errors.Is(err, redis.Nil) {
		s.m.errors.WithLabelValues(cmd).Inc()
		return err
	}
	return nil
}

// get reads the entry under rkey; (nil, nil) when absent.
func (s *Store) get(ctx context.Context, rkey string) (*Entry, error) {
	ctx, span := telemetry.Start(ctx, "cache.lookup")
	defer span.End()
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	b, err := s.rdb.Get(rctx, rkey).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, s.redisErr("get", err)
	}
	e, err := decode(b)
	if err != nil {
		return nil, s.redisErr("decode", err)
	}
	return e, nil
}

// getOrLockScript returns the entry when it is fresh at ARGV[1] (Unix ms);
// otherwise it also tries to take the fill lock, and reads the side entry
// KEYS[3] when given: {entry or nil, 1 taken | 0 held elsewhere, side entry
// or nil}. The expiry is read from the entry's header (see entry.go). A lock
// already held under this call's token counts as taken: the same command
// sent again by go-redis after a broken connection, when Redis had run it.
var getOrLockScript = redis.NewScript(`
local v = redis.call("GET", KEYS[1])
if v and string.len(v) >= 20 and string.byte(v, 1) == tonumber(ARGV[4]) then
  local exp = 0
  for i = 11, 18 do exp = exp * 256 + string.byte(v, i) end
  if exp > tonumber(ARGV[1]) then return {v, 0} end
end
local side = false
if KEYS[3] then side = redis.call("GET", KEYS[3]) end
if redis.call("SET", KEYS[2], ARGV[2], "NX", "PX", ARGV[3]) then return {v, 1, side} end
if redis.call("GET", KEYS[2]) == ARGV[2] then return {v, 1, side} end
return {v, 0, side}`)

// getOrLock reads k and, unless the entry is fresh, takes its fill lock and
// reads the side entry of operation side ("" for none), in one round trip.
// token is "" when the lock is held by another fill; the side entry is
// returned only when it is fresh.
func (s *Store) getOrLock(ctx context.Context, k Key, rkey, side string, now time.Time) (e, sideEntry *Entry, token string, err error) {
	ctx, span := telemetry.Start(ctx, "cache.lookup")
	defer span.End()
	token = newToken()
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	keys := []string{rkey, s.lockKey(k)}
	if side != "" {
		keys = append(keys, s.sideKey(k, side))
	}
	v, err := getOrLockScript.Run(rctx, s.rdb, keys,
		now.UnixMilli(), token, s.cfg.LockTTL.Milliseconds(), version).Slice()
	if err != nil || len(v) < 2 {
		if err == nil {
			err = errors.New("cache: unexpected script reply")
		}
		return nil, nil, "", s.redisErr("get_or_lock", err)
	}
	if b, ok := v[0].(string); ok {
		if e, err = decode([]byte(b)); err != nil {
			_ = s.redisErr("decode", err)
			e = nil
		}
	}
	if n, _ := v[1].(int64); n != 1 {
		token = ""
	}
	if len(v) == 3 {
		if b, ok := v[2].(string); ok {
			if se, err := decode([]byte(b)); err != nil {
				_ = s.redisErr("decode", err)
			} else if now.Before(se.Expires) {
				sideEntry = se
			}
		}
	}
	return e, sideEntry, token, nil
}

// sideKey is the Redis key of k's side entry of operation side: the same
// request hash, so the same cluster slot.
func (s *Store) sideKey(k Key, side string) string {
	k.Operation = side
	return s.key(k)
}

// peek reads k and whether its fill lock is held, in one round trip.
func (s *Store) peek(ctx context.Context, k Key, rkey string) (*Entry, bool, error) {
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	var get *redis.StringCmd
	var exists *redis.IntCmd
	_, err := s.rdb.Pipelined(rctx, func(p redis.Pipeliner) error {
		get = p.Get(rctx, rkey)
		exists = p.Exists(rctx, s.lockKey(k))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, false, s.redisErr("peek", err)
	}
	var e *Entry
	if b, err := get.Bytes(); err == nil {
		e, _ = decode(b)
	}
	return e, exists.Val() > 0, nil
}

// storeScript stores an entry (its head ARGV[1] and body ARGV[4], joined
// here so that the process sending it makes no copy of the body), and the
// side entry KEYS[3] (ARGV[5] and ARGV[6]) when given, for ARGV[2] ms, and
// releases the fill lock if this fill still holds it (ARGV[3]; "" for none).
var storeScript = redis.NewScript(`
redis.call("SET", KEYS[1], ARGV[1] .. ARGV[4], "PX", ARGV[2])
if KEYS[3] then redis.call("SET", KEYS[3], ARGV[5] .. ARGV[6], "PX", ARGV[2]) end
if ARGV[3] ~= "" and redis.call("GET", KEYS[2]) == ARGV[3] then redis.call("DEL", KEYS[2]) end
return 1`)

// store writes e under rkey, and se as k's side entry of operation side
// when both are set, for ttl plus the grace period and, when token is not
// "", releases k's fill lock, in one round trip.
func (s *Store) store(ctx context.Context, k Key, rkey, side string, e, se *Entry, ttl time.Duration, token string) error {
	head, body, err := s.encode(e)
	if err != nil {
		s.unlock(k, token)
		return s.redisErr("encode", err)
	}
	keys := []string{rkey, s.lockKey(k)}
	px := strconv.FormatInt((ttl + s.cfg.Grace).Milliseconds(), 10)
	args := []any{head, px, token, body}
	if side != "" && se != nil && se.Stream == nil && int64(len(se.Body)) <= s.cfg.MaxEntryBytes {
		se.StoredAt, se.Expires = e.StoredAt, e.Expires
		shead, sbody, err := s.encode(se)
		if err != nil {
			s.unlock(k, token)
			return s.redisErr("encode", err)
		}
		keys = append(keys, s.sideKey(k, side))
		args = append(args, shead, sbody)
	}
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	err = storeScript.Run(rctx, s.rdb, keys, args...).Err()
	if err != nil {
		s.unlock(k, token) // leave no lock for peers to wait on
	}
	return s.redisErr("set", err)
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// lock takes k's fill lock. When Redis fails the caller fills without it.
func (s *Store) lock(ctx context.Context, k Key) (string, bool) {
	token := newToken()
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	n, err := lockScript.Run(rctx, s.rdb, []string{s.lockKey(k)}, token, s.cfg.LockTTL.Milliseconds()).Int()
	if s.redisErr("lock", err) != nil {
		return "", true
	}
	return token, n == 1
}

// lockScript takes the lock KEYS[1] for token ARGV[1] and ARGV[2] ms: 1 when
// taken now or already under this token (a command sent again), else 0.
var lockScript = redis.NewScript(`
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then return 1 end
if redis.call("GET", KEYS[1]) == ARGV[1] then return 1 end
return 0`)

// renewScript extends the fill lock KEYS[1] by ARGV[2] ms while it holds ARGV[1].
var renewScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) end return 0`)

// renew extends k's fill lock by LockTTL; false when the lock is no longer
// this fill's. A Redis failure counts as held: the next tick tries again.
func (s *Store) renew(k Key, token string) bool {
	rctx, cancel := s.rctx(context.Background())
	defer cancel()
	n, err := renewScript.Run(rctx, s.rdb, []string{s.lockKey(k)}, token, s.cfg.LockTTL.Milliseconds()).Int()
	if s.redisErr("renew", err) != nil {
		return true
	}
	return n == 1
}

var unlockScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`)

func (s *Store) unlock(k Key, token string) {
	if token == "" {
		return
	}
	rctx, cancel := s.rctx(context.Background())
	defer cancel()
	_ = s.redisErr("unlock", unlockScript.Run(rctx, s.rdb, []string{s.lockKey(k)}, token).Err())
}
