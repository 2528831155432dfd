package cache_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/redistest"
)

// TestFetchSpans: a traced Fetch is a cache.fetch span with its status;
// under it cache.lookup for the Redis read, cache.fill for a miss, and
// cache.stale when an expired entry stands in for a failed fill. An
// untraced Fetch records nothing.
func TestFetchSpans(t *testing.T) {
	rs := redistest.Start(t)
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	s := newStore(t, rs, clk)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	k := key(t, "garantGetTopic", 1, map[string]int{"topic": 1})
	ttl := cache.Policy{TTL: time.Minute}
	var calls atomic.Int32

	// fetch runs one Fetch under a request span and returns the names of
	// the spans under it (parent → child, in the order they ended) and the
	// cache.fetch span's status.
	fetch := func(fill cache.FillFunc) (names map[string]string, status string) {
		t.Helper()
		exp.Reset()
		ctx, req := tp.Tracer("test").Start(context.Background(), "request")
		if _, err := s.Fetch(ctx, k, ttl, fill, func(error) bool { return true }); err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		req.End()
		byID := map[string]string{}
		for _, sp := range exp.GetSpans() {
			byID[sp.SpanContext.SpanID().String()] = sp.Name
		}
		names = map[string]string{}
		for _, sp := range exp.GetSpans() {
			if sp.Name == "request" {
				continue
			}
			names[sp.Name] = byID[sp.Parent.SpanID().String()]
			if sp.Name == "cache.fetch" {
				for _, kv := range sp.Attributes {
					if kv.Key == attribute.Key("legalgate.cache.status") {
						status = kv.Value.AsString()
					}
				}
			}
		}
		return names, status
	}
	names, status := fetch(filler(&calls, `{"a":1}`, nil))
	if names["cache.fetch"] != "request" || names["cache.lookup"] != "cache.fetch" || names["cache.fill"] != "cache.fetch" || status != cache.StatusStored {
		t.Errorf("a miss: spans (child → parent) %v, status %q; want cache.fetch under the request, cache.lookup and cache.fill under it, status %q", names, status, cache.StatusStored)
	}
	clk.Advance(2 * time.Minute)
	names, status = fetch(filler(&calls, "", errors.New("down")))
	if names["cache.stale"] != "cache.fetch" || status != cache.StatusStale {
		t.Errorf("stale on a failed fill: spans (child → parent) %v, status %q; want cache.stale under cache.fetch, status %q", names, status, cache.StatusStale)
	}
	exp.Reset()
	clk.Advance(2 * time.Minute)
	if _, err := s.Fetch(context.Background(), k, ttl, filler(&calls, `{"a":2}`, nil), nil); err != nil {
		t.Fatal(err)
	}
	if got := exp.GetSpans(); len(got) != 0 {
		t.Errorf("an untraced Fetch recorded %d spans", len(got))
	}
}
