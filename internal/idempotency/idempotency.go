// Package idempotency keeps Idempotency-Key records in Redis so that a
// retried create replays its first answer instead of creating twice.
//
// A key is scoped (by the caller, typically to the tenant) and bound to a
// fingerprint of the request (Fingerprint: SHA-256 of its canonical parts).
// Begin claims a fresh key, replays the stored answer of a finished one, and
// refuses a key that is still in flight (Conflict, 409) or was used for a
// different request (Unprocessable, 422). The claimant then either Completes
// the claim with the answer to replay (kept for TTL, 24 h by default),
// Releases it when nothing was created, so that a retry runs again, or
// records that the outcome is Unknown (the upstream may have acted although
// no answer came back): a retry is then refused for TTL with a problem that
// tells the client to check before sending the request again under a new
// key. Do retries a Complete that fails, and when the answer still cannot be
// written it records the outcome as unknown instead.
//
// A key is never claimed twice within TTL: a claim still unfinished after
// LockTTL (its owner died, or could write neither the answer nor the
// unknown outcome) answers as an unknown outcome from then on (409), never
// as a free key, since the first request may have carried out the create.
// Its owner may still Complete it; retries then replay the answer.
//
// Each step is one Lua script on one key, so it works on Redis Cluster too.
// The store fails closed: when Redis cannot be asked, Begin answers
// Unavailable rather than risk a duplicate.
package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
)

// Options tune a Store; zero values take the defaults.
type Options struct {
	Prefix  string        // Redis key prefix; default "idempotency"
	TTL     time.Duration // how long a finished answer is replayed; default 24h
	LockTTL time.Duration // how long an unfinished claim is in flight (then: outcome unknown); default 5m
	Timeout time.Duration // per Redis call; default 500ms
	Log     *slog.Logger  // failures to record an answer; default: discarded
}

// Store keeps idempotency records in Redis.
type Store struct {
	rdb  redis.UniversalClient
	opts Options
}

// New returns a Store on rdb.
func New(rdb redis.UniversalClient, o Options) *Store {
	if o.Prefix == "" {
		o.Prefix = "idempotency"
	}
	if o.TTL <= 0 {
		o.TTL = 24 * time.Hour
	}
	if o.LockTTL <= 0 {
		o.LockTTL = 5 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 500 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Store{rdb: rdb, opts: o}
}

// Response is a recorded answer: its status, the headers worth replaying
// (Location, Content-Type…) and its body.
type Response struct {
	Status int         `json:"status"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body,omitempty"`
}

// Fingerprint is the SHA-256 (hex) of the request's canonical parts, for
// example the operation id, the path parameters and the canonical JSON body.
// Parts are length-prefixed, so ("ab","c") and ("a","bc") differ.
func Fingerprint(parts ...[]byte) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Claim is the right to run a request under a key, held until Complete or
// Release (or LockTTL).
type Claim struct {
	s     *Store
	key   string
	token string
}

// key is the Redis key of (scope, idempotency key); the caller's key is
// hashed, so any characters and lengths are safe.
func (s *Store) key(scope, key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.opts.Prefix + ":" + scope + ":" + hex.EncodeToString(sum[:])
}

// beginScript claims KEYS[1] for fingerprint ARGV[1] and token ARGV[2]: the
// claim is in flight for ARGV[3] ms (until 'until', Redis's clock) and the
// key is kept ARGV[4] ms. Otherwise it returns the existing record {fp,
// state, resp}, where a claim past its 'until' reads as state 'unknown'. A
// claim that token ARGV[2] already holds is claimed again: the same command
// re-sent by go-redis after a broken connection (see the scripts below for
// the same).
var beginScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'token') == ARGV[2] then return false end
  local r = redis.call('HMGET', KEYS[1], 'fp', 'state', 'resp', 'until')
  if r[2] == 'pending' and r[4] and tonumber(r[4]) <= now then r[2] = 'unknown' end
  return {r[1], r[2], r[3]}
end
redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'pending', 'token', ARGV[2], 'until', now + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return false
`)

// completeScript records ARGV[2] as the answer if token ARGV[1] still holds
// the claim, and keeps it ARGV[3] ms; 'by' remembers the token, so that the
// same command run again answers 1 and changes nothing.
var completeScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  if redis.call('HGET', KEYS[1], 'by') == ARGV[1] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'done', 'resp', ARGV[2], 'by', ARGV[1])
redis.call('HDEL', KEYS[1], 'token')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// unknownScript records that the request's outcome is unknown if token
// ARGV[1] still holds the claim, and keeps that ARGV[2] ms ('by' as above).
var unknownScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  if redis.call('HGET', KEYS[1], 'by') == ARGV[1] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'unknown', 'by', ARGV[1])
redis.call('HDEL', KEYS[1], 'token')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// releaseScript drops the claim if token ARGV[1] still holds it.
var releaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Begin claims key within scope for a request with fingerprint fp. It returns
// either a Claim (run the request, then Complete or Release) or the recorded
// Response of the first request with the same key and fingerprint. Errors are
// *apperr.Error: Conflict while the first request runs, Unprocessable for a
// different request under the same key, Conflict (type
// idempotency-outcome-unknown) after a failure that may have had an effect,
// Unavailable when Redis fails.
func (s *Store) Begin(ctx context.Context, scope, key, fp string) (*Claim, *Response, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	c := &Claim{s: s, key: s.key(scope, key), token: hex.EncodeToString(b[:])}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	v, err := beginScript.Run(ctx, s.rdb, []string{c.key}, fp, c.token, s.opts.LockTTL.Milliseconds(), s.opts.TTL.Milliseconds()).Slice()
	if errors.Is(err, redis.Nil) {
		return c, nil, nil
	}
	if err != nil {
		return nil, nil, apperr.Wrap(apperr.Unavailable, "the idempotency store is unavailable; retry later",
			fmt.Errorf("idempotency: begin: %w", err))
	}
	field := func(i int) string { s, _ := v[i].(string); return s }
	switch {
	case len(v) != 3:
		return nil, nil, apperr.Wrap(apperr.Internal, "", fmt.Errorf("idempotency: begin: unexpected reply %v", v))
	case field(0) != fp:
		return nil, nil, &apperr.Error{Kind: apperr.Unprocessable, Type: "idempotency-key-reused",
			Detail: "this Idempotency-Key was already used for a different request; use a new key"}
	case field(1) == "unknown":
		return nil, nil, &apperr.Error{Kind: apperr.Conflict, Type: "idempotency-outcome-unknown",
			Detail: "the first request with this Idempotency-Key ended without a clear answer (an upstream timeout, a lost connection, or its answer could not be recorded), " +
				"so it may have been carried out; check whether it was (for example by listing the resources) before sending it again with a new Idempotency-Key"}
	case field(1) != "done":
		return nil, nil, &apperr.Error{Kind: apperr.Conflict, Type: "idempotency-key-in-flight", RetryAfter: time.Second,
			Detail: "a request with this Idempotency-Key is still running; retry shortly to get its answer"}
	}
	var r Response
	if err := json.Unmarshal([]byte(field(2)), &r); err != nil {
		return nil, nil, apperr.Wrap(apperr.Internal, "", fmt.Errorf("idempotency: decode record: %w", err))
	}
	return nil, &r, nil
}

// Complete records r as the answer to replay. It runs even when ctx was
// cancelled (the caller may have gone; the record is for its retry).
func (c *Claim) Complete(ctx context.Context, r Response) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("idempotency: encode record: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.s.opts.Timeout)
	defer cancel()
	n, err := completeScript.Run(ctx, c.s.rdb, []string{c.key}, c.token, b, c.s.opts.TTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("idempotency: complete: %w", err)
	}
	if n == 0 {
		return errors.New("idempotency: complete: the claim expired before the request finished")
	}
	return nil
}

// Release drops the claim so that a retry runs the request again; for
// requests that created nothing.
func (c *Claim) Release(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.s.opts.Timeout)
	defer cancel()
	if err := releaseScript.Run(ctx, c.s.rdb, []string{c.key}, c.token).Err(); err != nil {
		return fmt.Errorf("idempotency: release: %w", err)
	}
	return nil
}

// Unknown records that the request may or may not have been carried out, so
// that a retry is refused (for TTL) rather than run again.
func (c *Claim) Unknown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.s.opts.Timeout)
	defer cancel()
	n, err := unknownScript.Run(ctx, c.s.rdb, []string{c.key}, c.token, c.s.opts.TTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("idempotency: record unknown outcome: %w", err)
	}
	if n == 0 {
		return errors.New("idempotency: record unknown outcome: the claim expired before the request finished")
	}
	return nil
}

// uncertainError marks the failure of a request that may have had an effect.
type uncertainError struct{ err error }

func (e uncertainError) Error() string { return e.err.Error() }
func (e uncertainError) Unwrap() error { return e.err }

// Uncertain marks err, returned by Do's fn, as the failure of a request that
// may nevertheless have been carried out (the upstream timed out, the
// connection broke after the request was sent, a 5xx): Do then keeps the key
// from running the request again. errors.Is and errors.As see through it.
func Uncertain(err error) error {
	if err == nil {
		return nil
	}
	return uncertainError{err}
}

// IsUncertain reports whether err was marked with Uncertain.
func IsUncertain(err error) bool {
	var u uncertainError
	return errors.As(err, &u)
}

// Do runs fn at most once per (scope, key) with the same fingerprint. It
// returns fn's answer (recorded for replay) or, for a retry, the recorded
// answer with replayed true. When fn fails, its error is returned and the
// claim is released, so that a retry runs fn again, unless the error is
// Uncertain: then the unknown outcome is recorded and a retry is refused.
// An empty key runs fn unguarded.
func (s *Store) Do(ctx context.Context, scope, key, fp string, fn func(context.Context) (Response, error)) (r Response, replayed bool, err error) {
	if key == "" {
		r, err = fn(ctx)
		return r, false, err
	}
	claim, prev, err := s.Begin(ctx, scope, key, fp)
	if err != nil {
		return Response{}, false, err
	}
	if prev != nil {
		return *prev, true, nil
	}
	r, err = fn(ctx)
	if err != nil && IsUncertain(err) {
		if uerr := retry(ctx, claim.Unknown); uerr != nil {
			s.opts.Log.WarnContext(ctx, "unknown outcome not recorded; a retry with this key answers 409 (outcome unknown) once LockTTL has passed",
				"error", uerr.Error())
		}
		return Response{}, false, err
	}
	if err != nil {
		if rerr := retry(ctx, claim.Release); rerr != nil {
			s.opts.Log.WarnContext(ctx, "idempotency claim not released; a retry with this key answers 409 (outcome unknown) once LockTTL has passed",
				"error", rerr.Error())
		}
		return Response{}, false, err
	}
	if cerr := retry(ctx, func(ctx context.Context) error { return claim.Complete(ctx, r) }); cerr != nil {
		// The upstream did the work: a retry must never run it again.
		if uerr := retry(ctx, claim.Unknown); uerr != nil {
			s.opts.Log.WarnContext(ctx, "idempotent answer and unknown outcome not recorded; a retry with this key answers 409 (outcome unknown) once LockTTL has passed",
				"error", cerr.Error(), "unknown_error", uerr.Error())
		} else {
			s.opts.Log.WarnContext(ctx, "idempotent answer not recorded; the outcome is recorded as unknown (a retry with this key answers 409)",
				"error", cerr.Error())
		}
	}
	return r, false, nil
}

// retry runs write until it succeeds, at most three times, pausing between
// attempts (each bounded by Options.Timeout). The writes are safe to repeat:
// each script recognises its own token.
func retry(ctx context.Context, write func(context.Context) error) error {
	err := write(ctx)
	for _, pause := range [...]time.Duration{20 * time.Millisecond, 100 * time.Millisecond} {
		if err == nil {
			return nil
		}
		time.Sleep(pause)
		err = write(ctx)
	}
	return err
}
