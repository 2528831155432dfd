package idempotency_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/redistest"
)

func newStore(t *testing.T, o idempotency.Options) *idempotency.Store {
	t.Helper()
	return idempotency.New(redistest.Start(t).Client(t), o)
}

func created(body string) idempotency.Response {
	return idempotency.Response{Status: 201, Header: http.Header{"Location": {"/v1/x/1"}}, Body: []byte(body)}
}

func TestIdempotencyDoReplays(t *testing.T) {
	s := newStore(t, idempotency.Options{})
	ctx := context.Background()
	var calls atomic.Int32
	fn := func(context.Context) (idempotency.Response, error) {
		calls.Add(1)
		return created(`{"id":"1"}`), nil
	}
	fp := idempotency.Fingerprint([]byte("op"), []byte(`{"a":1}`))
	first, replayed, err := s.Do(ctx, "alpha", "k1", fp, fn)
	if err != nil || replayed {
		t.Fatalf("Do(first) = replayed %v, err %v; want a fresh run", replayed, err)
	}
	again, replayed, err := s.Do(ctx, "alpha", "k1", fp, fn)
	if err != nil || !replayed {
		t.Fatalf("Do(retry) = replayed %v, err %v; want a replay", replayed, err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("Do(retry) answer mismatch (-first +replay):\n%s", diff)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("fn ran %d times, want 1", n)
	}
	// Another scope (tenant) with the same key is a different record.
	if _, replayed, err := s.Do(ctx, "beta", "k1", fp, fn); err != nil || replayed {
		t.Errorf("Do(other scope) = replayed %v, err %v; want a fresh run", replayed, err)
	}
	// No key: no protection, fn runs every time.
	_, _, _ = s.Do(ctx, "alpha", "", fp, fn)
	_, _, _ = s.Do(ctx, "alpha", "", fp, fn)
	if n := calls.Load(); n != 4 {
		t.Errorf("fn ran %d times, want 4", n)
	}
}

func TestIdempotencyDifferentRequest(t *testing.T) {
	s := newStore(t, idempotency.Options{})
	ctx := context.Background()
	ok := func(context.Context) (idempotency.Response, error) { return created("{}"), nil }
	if _, _, err := s.Do(ctx, "alpha", "k", idempotency.Fingerprint([]byte("a")), ok); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Do(ctx, "alpha", "k", idempotency.Fingerprint([]byte("b")), ok)
	if got := apperr.KindOf(err); got != apperr.Unprocessable {
		t.Errorf("Do(same key, other body) kind = %v, want unprocessable", got)
	}
}

func TestIdempotencyInFlight(t *testing.T) {
	s := newStore(t, idempotency.Options{})
	ctx := context.Background()
	fp := idempotency.Fingerprint([]byte("a"))
	started, finish := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _, _ = s.Do(ctx, "alpha", "k", fp, func(context.Context) (idempotency.Response, error) {
			close(started)
			<-finish
			return created(`{"id":"7"}`), nil
		})
	}()
	<-started
	_, _, err := s.Do(ctx, "alpha", "k", fp, func(context.Context) (idempotency.Response, error) {
		t.Error("second fn ran while the first was in flight")
		return idempotency.Response{}, nil
	})
	if got := apperr.KindOf(err); got != apperr.Conflict {
		t.Errorf("Do(in flight) kind = %v, want conflict", got)
	}
	close(finish)
	wg.Wait()
	r, replayed, err := s.Do(ctx, "alpha", "k", fp, nil)
	if err != nil || !replayed || string(r.Body) != `{"id":"7"}` {
		t.Errorf("Do(after) = %q replayed %v err %v, want the first answer replayed", r.Body, replayed, err)
	}
}

func TestIdempotencyFailureReleases(t *testing.T) {
	s := newStore(t, idempotency.Options{})
	ctx := context.Background()
	fp := idempotency.Fingerprint([]byte("a"))
	boom := errors.New("upstream said no")
	if _, _, err := s.Do(ctx, "alpha", "k", fp, func(context.Context) (idempotency.Response, error) {
		return idempotency.Response{}, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Do(failing) err = %v, want %v", err, boom)
	}
	r, replayed, err := s.Do(ctx, "alpha", "k", fp, func(context.Context) (idempotency.Response, error) { return created("{}"), nil })
	if err != nil || replayed || r.Status != 201 {
		t.Errorf("Do(retry after failure) = %d replayed %v err %v, want a fresh 201", r.Status, replayed, err)
	}
}

// TestIdempotencyAbandonedClaimIsUnknown: a claim never finished (its owner
// crashed, or could write nothing) is in flight for LockTTL, then answers as
// an unknown outcome: the key is never free again within TTL, since the
// first request may have carried out the create.
func TestIdempotencyAbandonedClaimIsUnknown(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	s := idempotency.New(rdb, idempotency.Options{LockTTL: time.Minute})
	ctx := context.Background()
	fp := idempotency.Fingerprint([]byte("a"))
	owner, _, err := s.Begin(ctx, "alpha", "k", fp) // never completed: the owner "crashed"
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Begin(ctx, "alpha", "k", fp); typeOf(err) != "idempotency-key-in-flight" {
		t.Fatalf("Begin(held) err = %v, want a conflict, in flight", err)
	}
	keys, err := rdb.Keys(ctx, "idempotency:alpha:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("KEYS idempotency:alpha:* = %v, %v; want the claim", keys, err)
	}
	if ttl := rdb.PTTL(ctx, keys[0]).Val(); ttl < 23*time.Hour {
		t.Fatalf("PTTL(claim) = %v, want the key kept for TTL (24h), not freed after LockTTL", ttl)
	}
	// LockTTL passes: move the claim's end into the past instead of waiting.
	must(t, rdb.HSet(ctx, keys[0], "until", 1).Err())
	claim, prev, err := s.Begin(ctx, "alpha", "k", fp)
	if claim != nil || prev != nil || typeOf(err) != "idempotency-outcome-unknown" {
		t.Fatalf("Begin(after LockTTL) = claim %v prev %v err %v, want a conflict, outcome unknown", claim, prev, err)
	}
	// A late owner may still record its answer; retries then replay it.
	must(t, owner.Complete(ctx, created(`{"id":"late"}`)))
	if _, prev, err := s.Begin(ctx, "alpha", "k", fp); err != nil || prev == nil || string(prev.Body) != `{"id":"late"}` {
		t.Errorf("Begin(after the late Complete) = prev %v err %v, want the answer replayed", prev, err)
	}
}

// failing makes the Redis commands carrying marker fail (without reaching
// Redis) the first n times (n < 0: always).
type failing struct {
	marker string
	n      atomic.Int32
	seen   atomic.Int32
}

func (f *failing) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f *failing) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (f *failing) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		for _, a := range cmd.Args() {
			var s string
			switch v := a.(type) {
			case string:
				s = v
			case []byte:
				s = string(v)
			}
			if strings.Contains(s, f.marker) {
				if k := f.seen.Add(1); f.n.Load() < 0 || k <= f.n.Load() {
					err := errors.New("injected: connection reset before the command was sent")
					cmd.SetErr(err)
					return err
				}
			}
		}
		return next(ctx, cmd)
	}
}

// TestIdempotencyCompleteRetried: a Complete that fails once is retried, so
// the retry of the client replays the answer (it used to find the claim
// pending: 409, then after LockTTL a second run).
func TestIdempotencyCompleteRetried(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	// Complete's argument is the JSON record, where the body is base64.
	hook := &failing{marker: base64.StdEncoding.EncodeToString([]byte(`{"id":"retried-once"}`))}
	hook.n.Store(1)
	rdb.AddHook(hook)
	s := idempotency.New(rdb, idempotency.Options{})
	ctx := context.Background()
	fp := idempotency.Fingerprint([]byte("a"))
	var runs atomic.Int32
	fn := func(context.Context) (idempotency.Response, error) {
		runs.Add(1)
		return created(`{"id":"retried-once"}`), nil
	}
	if _, replayed, err := s.Do(ctx, "alpha", "k", fp, fn); err != nil || replayed {
		t.Fatalf("Do(first) = replayed %v err %v, want a fresh run", replayed, err)
	}
	if hook.seen.Load() < 2 {
		t.Fatalf("Complete was attempted %d times, want a retry after the failure", hook.seen.Load())
	}
	r, replayed, err := s.Do(ctx, "alpha", "k", fp, fn)
	if err != nil || !replayed || string(r.Body) != `{"id":"retried-once"}` || runs.Load() != 1 {
		t.Errorf("Do(retry) = %q replayed %v err %v after %d runs, want the first answer replayed after 1 run", r.Body, replayed, err, runs.Load())
	}
}

// TestIdempotencyCompleteFailsRecordsUnknown: when the answer cannot be
// written at all, the outcome is recorded as unknown: the retry gets a 409
// telling it to check, never a second run.
func TestIdempotencyCompleteFailsRecordsUnknown(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	hook := &failing{marker: base64.StdEncoding.EncodeToString([]byte(`{"id":"never-recorded"}`))}
	hook.n.Store(-1)
	rdb.AddHook(hook)
	s := idempotency.New(rdb, idempotency.Options{})
	ctx := context.Background()
	fp := idempotency.Fingerprint([]byte("a"))
	var runs atomic.Int32
	fn := func(context.Context) (idempotency.Response, error) {
		runs.Add(1)
		return created(`{"id":"never-recorded"}`), nil
	}
	if r, _, err := s.Do(ctx, "alpha", "k", fp, fn); err != nil || r.Status != 201 {
		t.Fatalf("Do(first) = %d %v, want the created answer (the create happened)", r.Status, err)
	}
	_, _, err := s.Do(ctx, "alpha", "k", fp, fn)
	if typeOf(err) != "idempotency-outcome-unknown" || runs.Load() != 1 {
		t.Errorf("Do(retry) err = %v after %d runs, want a conflict, outcome unknown, after 1 run", err, runs.Load())
	}
}

// TestIdempotencyNothingWritableNeverRunsTwice: Redis refuses every write
// after the create (out of memory): neither the answer nor the unknown
// outcome can be recorded. The retry is refused while the claim is in
// flight and after LockTTL too; the create never runs twice.
func TestIdempotencyNothingWritableNeverRunsTwice(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	const lockTTL = 2 * time.Second
	s := idempotency.New(rdb, idempotency.Options{LockTTL: lockTTL, Timeout: 200 * time.Millisecond})
	ctx := context.Background()
	fp := idempotency.Fingerprint([]byte("a"))
	var runs atomic.Int32
	fn := func(ctx context.Context) (idempotency.Response, error) {
		runs.Add(1)
		// The upstream created it; now Redis refuses writes.
		must(t, rdb.ConfigSet(ctx, "maxmemory", "1").Err())
		return created(`{"id":"1"}`), nil
	}
	claimed := time.Now()
	if r, _, err := s.Do(ctx, "alpha", "k", fp, fn); err != nil || r.Status != 201 {
		t.Fatalf("Do(first) = %d %v, want the created answer", r.Status, err)
	}
	must(t, rdb.ConfigSet(ctx, "maxmemory", "0").Err())
	_, _, err := s.Do(ctx, "alpha", "k", fp, fn)
	if time.Since(claimed) < lockTTL-200*time.Millisecond { // not on a machine too slow to tell
		if typeOf(err) != "idempotency-key-in-flight" {
			t.Errorf("Do(retry within LockTTL) err = %v, want a conflict, in flight", err)
		}
	}
	time.Sleep(time.Until(claimed.Add(lockTTL + 100*time.Millisecond))) // LockTTL passes
	if _, _, err := s.Do(ctx, "alpha", "k", fp, fn); typeOf(err) != "idempotency-outcome-unknown" {
		t.Errorf("Do(retry after LockTTL) err = %v, want a conflict, outcome unknown", err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("fn ran %d times, want 1", n)
	}
}

// typeOf is the problem type of err ("" when it is not an *apperr.Error).
func typeOf(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Type
	}
	return ""
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestIdempotencyUncertainFailureKept: a failure that may have had an effect
// keeps the key (for TTL) and a retry gets a problem telling it to check,
// never a second run.
func TestIdempotencyUncertainFailureKept(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	s := idempotency.New(rdb, idempotency.Options{})
	ctx := context.Background()
	fp := idempotency.Fingerprint([]byte("a"))
	timeout := &apperr.Error{Kind: apperr.UpstreamTimeout, Detail: "no answer"}
	_, _, err := s.Do(ctx, "alpha", "k", fp, func(context.Context) (idempotency.Response, error) {
		return idempotency.Response{}, idempotency.Uncertain(timeout)
	})
	if e, ok := apperr.As(err); !ok || e != timeout || !idempotency.IsUncertain(err) {
		t.Fatalf("Do(uncertain failure) err = %v, want the upstream timeout, marked uncertain", err)
	}
	_, _, err = s.Do(ctx, "alpha", "k", fp, func(context.Context) (idempotency.Response, error) {
		t.Error("fn ran again after an uncertain failure")
		return created("{}"), nil
	})
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Conflict || e.Type != "idempotency-outcome-unknown" || e.RetryAfter != 0 || !strings.Contains(e.Detail, "check") {
		t.Errorf("Do(retry after uncertain failure) err = %+v, want a conflict telling the client to check, without Retry-After", err)
	}
	// Another body under the key is still 422.
	_, _, err = s.Do(ctx, "alpha", "k", idempotency.Fingerprint([]byte("b")), nil)
	if got := apperr.KindOf(err); got != apperr.Unprocessable {
		t.Errorf("Do(other body after uncertain failure) kind = %v, want unprocessable", got)
	}
	keys, _ := rdb.Keys(ctx, "idempotency:alpha:*").Result()
	if len(keys) != 1 || rdb.PTTL(ctx, keys[0]).Val() < 23*time.Hour {
		t.Errorf("record of the unknown outcome: keys %v, want one kept about 24h", keys)
	}
}

func TestIdempotencyRecordTTL(t *testing.T) {
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	s := idempotency.New(rdb, idempotency.Options{Prefix: "idem"})
	ctx := context.Background()
	if _, _, err := s.Do(ctx, "alpha", "k", "fp", func(context.Context) (idempotency.Response, error) { return created("{}"), nil }); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, "idem:alpha:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("KEYS idem:alpha:* = %v, %v; want one record", keys, err)
	}
	ttl := rdb.PTTL(ctx, keys[0]).Val()
	if ttl < 23*time.Hour || ttl > 24*time.Hour {
		t.Errorf("PTTL(record) = %v, want about 24h", ttl)
	}
}

func TestIdempotencyRedisDownFailsClosed(t *testing.T) {
	rs := redistest.Start(t)
	s := idempotency.New(rs.Client(t), idempotency.Options{Timeout: 200 * time.Millisecond})
	rs.Stop()
	_, _, err := s.Do(context.Background(), "alpha", "k", "fp", func(context.Context) (idempotency.Response, error) {
		t.Error("fn ran without the store")
		return idempotency.Response{}, nil
	})
	if got := apperr.KindOf(err); got != apperr.Unavailable {
		t.Errorf("Do(redis down) kind = %v, want unavailable", got)
	}
}

func TestFingerprintIsUnambiguous(t *testing.T) {
	a := idempotency.Fingerprint([]byte("ab"), []byte("c"))
	b := idempotency.Fingerprint([]byte("a"), []byte("bc"))
	if a == b {
		t.Errorf("Fingerprint(ab,c) = Fingerprint(a,bc) = %s, want different", a)
	}
}

// TestIdempotencyRetriedScripts: go-redis sends a command again when the
// connection breaks before its answer, though Redis may have run it. The
// request's own claim must not then look like another request in flight,
// nor its own record like a lost claim.
func TestIdempotencyRetriedScripts(t *testing.T) {
	srv := redistest.Start(t)
	proxy := redistest.NewCutProxy(t, srv.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), Protocol: 2}) // go-redis's default retries
	t.Cleanup(func() { _ = rdb.Close() })
	s := idempotency.New(rdb, idempotency.Options{})
	ctx := context.Background()
	fp := idempotency.Fingerprint([]byte("op"), []byte(`{"a":1}`))
	// Every script once, so that the lost answers are to commands Redis ran
	// (a first EVALSHA only answers NOSCRIPT).
	warm, _, err := s.Begin(ctx, "alpha", "warm-1", fp)
	if err != nil || warm.Complete(ctx, created(`{}`)) != nil {
		t.Fatalf("warm-up: Begin/Complete = %v", err)
	}
	if warm, _, err = s.Begin(ctx, "alpha", "warm-2", fp); err != nil || warm.Unknown(ctx) != nil {
		t.Fatalf("warm-up: Begin/Unknown = %v", err)
	}

	proxy.Arm("evalsha")
	c, replay, err := s.Begin(ctx, "alpha", "k1", fp)
	if err != nil || c == nil || replay != nil {
		t.Fatalf("Begin() with its answer lost = claim %v, replay %v, err %v; want the claim", c, replay, err)
	}
	proxy.Arm("evalsha")
	if err := c.Complete(ctx, created(`{"id":"1"}`)); err != nil {
		t.Fatalf("Complete() with its answer lost = %v, want nil", err)
	}
	_, replay, err = s.Begin(ctx, "alpha", "k1", fp)
	if err != nil || replay == nil || string(replay.Body) != `{"id":"1"}` {
		t.Fatalf("Begin(retry of the client) = replay %v, err %v; want the recorded answer", replay, err)
	}

	c, _, err = s.Begin(ctx, "alpha", "k2", fp)
	if err != nil {
		t.Fatal(err)
	}
	proxy.Arm("evalsha")
	if err := c.Unknown(ctx); err != nil {
		t.Fatalf("Unknown() with its answer lost = %v, want nil", err)
	}
	if got := proxy.Cuts(); got != 3 {
		t.Fatalf("the proxy lost %d answers, want 3: the test did not exercise the retries", got)
	}
}
