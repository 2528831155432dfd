package fssptasks_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

func TestIdempotency(t *testing.T) {
	v := newEnv(t, simConfig(), nil)
	s := submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП"))
	s.IdempotencyKey = "key-1"
	first := submit(t, v.e, s)
	again, err := v.e.Submit(context.Background(), s)
	if err != nil || again.Task.ID != first.ID || !again.Replayed {
		t.Fatalf("Submit(same key, same body) = %+v, %v, want replay of %s", again, err, first.ID)
	}
	if n := v.sim.Kit.Calls.Get("GET /search/ip"); n != 1 {
		t.Errorf("searches sent = %d, want 1", n)
	}
	other := submission(tenantA, fssptasks.KindIP, ip("2/21/77001-ИП"))
	other.IdempotencyKey = "key-1"
	if _, err := v.e.Submit(context.Background(), other); apperr.KindOf(err) != apperr.Unprocessable {
		t.Errorf("Submit(same key, other body) = %v, want unprocessable", err)
	}
	// Keys are scoped to the tenant.
	s.Tenant = tenantB
	if b := submit(t, v.e, s); b.ID == first.ID {
		t.Errorf("Submit(other tenant, same key) = %s, want a new task", b.ID)
	}
	// The key is kept 24 hours, under the tenant.
	keys, err := v.rdb.Keys(context.Background(), "fssp:idem:"+tenantA+":*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("idempotency keys of %s = %v, %v; want 1", tenantA, keys, err)
	}
	if ttl := v.rdb.TTL(context.Background(), keys[0]).Val(); ttl < 23*time.Hour || ttl > 24*time.Hour {
		t.Errorf("TTL(%s) = %v, want 24h", keys[0], ttl)
	}
	// A failed submission frees its key.
	// Only the search may hit the fault: a background poll must not use it up.
	v.sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/search/", Status: 502, Body: "<html>down</html>", Remaining: 1})
	s3 := submission(tenantA, fssptasks.KindIP, ip("3/21/77001-ИП"))
	s3.IdempotencyKey = "key-3"
	if _, err := v.e.Submit(context.Background(), s3); apperr.KindOf(err) != apperr.UpstreamFailed {
		t.Fatalf("Submit(upstream down) = %v, want upstream_failed", err)
	}
	if _, err := v.e.Submit(context.Background(), s3); err != nil {
		t.Errorf("Submit(retry after failure) = %v, want success", err)
	}
}

// TestIdempotencyInFlight retries while the first submission is still being
// sent upstream: 409, then the first's task once it is stored.
func TestIdempotencyInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	v := newEnv(t, simConfig(), func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/search/ip" {
				once.Do(func() { close(entered); <-release })
			}
			h.ServeHTTP(w, r)
		})
	})
	// An injected store: its prefix holds the keys.
	store := idempotency.New(v.rdb, idempotency.Options{Prefix: "test-idem"})
	cfg := fastConfig(v.clock)
	cfg.Idempotency = store
	e, _ := v.engine(cfg, nil)

	s := submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП"))
	s.IdempotencyKey = "slow"
	var first *fssptasks.Submitted
	var firstErr error
	var wg sync.WaitGroup
	wg.Go(func() { first, firstErr = e.Submit(context.Background(), s) })
	<-entered
	_, err := e.Submit(context.Background(), s)
	if ae, ok := apperr.As(err); !ok || ae.Kind != apperr.Conflict || ae.RetryAfter <= 0 {
		t.Errorf("Submit(same key, first in flight) = %v, want conflict with a Retry-After", err)
	}
	close(release)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("Submit(first) = %v", firstErr)
	}
	again, err := e.Submit(context.Background(), s)
	if err != nil || !again.Replayed || again.Task.ID != first.Task.ID {
		t.Errorf("Submit(same key, first done) = %+v, %v; want a replay of %s", again, err, first.Task.ID)
	}
	if n := v.sim.Kit.Calls.Get("GET /search/ip"); n != 1 {
		t.Errorf("searches sent = %d, want 1", n)
	}
	if keys := v.rdb.Keys(context.Background(), "test-idem:"+tenantA+":*").Val(); len(keys) != 1 {
		t.Errorf("keys in the injected store = %v, want 1", keys)
	}
}
