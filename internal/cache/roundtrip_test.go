package cache_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/redistest"
)

// countingHook counts the round trips (single commands and pipelines) a
// client makes.
type countingHook struct{ n atomic.Int32 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

var _ redis.Hook = (*countingHook)(nil)

func countingStore(t *testing.T, rs *redistest.Server, cfg cache.Config) (*cache.Store, *countingHook) {
	t.Helper()
	rdb := rs.Client(t)
	h := &countingHook{}
	rdb.AddHook(h)
	if cfg.Grace == 0 {
		cfg.Grace = time.Hour
	}
	s, err := cache.New(rdb, cfg, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	// Load the scripts so that a NOSCRIPT retry does not count.
	var calls atomic.Int32
	warm := key(t, "warm", 0, nil)
	if _, err := s.Fetch(context.Background(), warm, cache.Policy{TTL: time.Hour}, filler(&calls, "w", nil), nil); err != nil {
		t.Fatal(err)
	}
	h.n.Store(0)
	return s, h
}

// TestRoundTrips: a miss is two Redis round trips (read-or-lock, store and
// unlock), a hit one, an L1 hit none, a no-cache request one (the store).
func TestRoundTrips(t *testing.T) {
	rs := redistest.Start(t)
	ctx := context.Background()
	var calls atomic.Int32
	ttl := cache.Policy{TTL: time.Hour}
	for _, tc := range []struct {
		name     string
		localTTL time.Duration
		steps    []cache.Policy
		want     []int32
		status   []string
	}{
		{"with L1", 0, []cache.Policy{ttl, ttl, {TTL: time.Hour, NoCache: true}},
			[]int32{2, 0, 1}, []string{cache.StatusStored, cache.StatusHit, cache.StatusRefreshed}},
		{"without L1", -1, []cache.Policy{ttl, ttl, {TTL: time.Hour, NoCache: true}},
			[]int32{2, 1, 1}, []string{cache.StatusStored, cache.StatusHit, cache.StatusRefreshed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, h := countingStore(t, rs, cache.Config{LocalTTL: tc.localTTL})
			k := key(t, "garantGetTopic", 1, tc.name)
			for i, p := range tc.steps {
				h.n.Store(0)
				res, err := s.Fetch(ctx, k, p, filler(&calls, `{"topic":1}`, nil), nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := h.n.Load(); got != tc.want[i] || res.Status != tc.status[i] {
					t.Errorf("Fetch #%d = %q in %d round trips, want %q in %d", i, res.Status, got, tc.status[i], tc.want[i])
				}
			}
		})
	}
}

// TestLocalL1: the L1 answers without Redis within its lifetime, never past
// the entry's own expiry, and forgets purged entries at once.
func TestLocalL1(t *testing.T) {
	rs := redistest.Start(t)
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	s, err := cache.New(rs.Client(t), cache.Config{Grace: time.Hour, LocalTTL: 2 * time.Second, Now: clk.Now}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var calls atomic.Int32
	fetch := func(k cache.Key, ttl time.Duration) string {
		res, err := s.Fetch(ctx, k, cache.Policy{TTL: ttl}, filler(&calls, "x", nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Status
	}
	k := key(t, "garantGetTopic", 1, 1)
	fetch(k, time.Minute)
	rs.Client(t).FlushAll(ctx) // only the L1 has it now
	clk.Advance(time.Second)
	if st := fetch(k, time.Minute); st != cache.StatusHit {
		t.Errorf("within the L1 lifetime = %q, want a hit", st)
	}
	clk.Advance(1500 * time.Millisecond)
	if st := fetch(k, time.Minute); st != cache.StatusStored {
		t.Errorf("after the L1 lifetime = %q, want a miss", st)
	}

	short := key(t, "garantGetTopic", 2, 2)
	fetch(short, 500*time.Millisecond)
	clk.Advance(600 * time.Millisecond)
	if st := fetch(short, 500*time.Millisecond); st != cache.StatusStored {
		t.Errorf("past the entry's expiry = %q, want a miss (the L1 never outlives the entry)", st)
	}

	if _, err := s.Purge(ctx, "cred-a", "garantGetTopic", 1); err != nil {
		t.Fatal(err)
	}
	if st := fetch(k, time.Minute); st != cache.StatusStored {
		t.Errorf("after a purge = %q, want a miss", st)
	}
}

// TestCoalescingOnCluster: the read-or-lock and store-and-unlock scripts
// touch two keys, which must share a slot; 30 misses over three stores on
// a cluster still make one fill.
func TestCoalescingOnCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	var stores []*cache.Store
	for range 3 {
		s, err := cache.New(c.Client(t), cache.Config{Grace: time.Hour, Timeout: time.Second}, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	var calls atomic.Int32
	slow := func(ctx context.Context) (*cache.Entry, error) {
		calls.Add(1)
		time.Sleep(100 * time.Millisecond)
		return &cache.Entry{Body: []byte(`{"topic":7}`)}, nil
	}
	k := key(t, "garantGetTopic", 7, 7)
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			res, err := stores[i%3].Fetch(context.Background(), k, cache.Policy{TTL: time.Hour}, slow, nil)
			if err != nil || string(res.Entry.Body) != `{"topic":7}` {
				t.Errorf("Fetch = %v, %v", res, err)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("fills = %d, want 1", n)
	}
	if n, err := stores[0].Purge(context.Background(), "cred-a", "", 0); err != nil || n != 1 {
		t.Errorf("Purge on the cluster = %d, %v; want 1", n, err)
	}
}

// TestSideEntry: a fill's side entry is stored with the entry in one round
// trip; a miss of another operation's entry of the same request reads it in
// its one lookup and hands it to its fill; no-cache skips it. On a cluster
// too: the side entry shares the request's slot.
func TestSideEntry(t *testing.T) {
	ctx := context.Background()
	check := func(t *testing.T, s *cache.Store, h *countingHook) {
		t.Helper()
		const raw, conv = `{"raw":1}`, `{"converted":1}`
		k := key(t, "garantGetTopic", 1, 1)
		side := cache.Policy{TTL: time.Hour, Side: "garantGetTopic.garant"}
		var got *cache.Entry
		fill := func(ctx context.Context) (*cache.Entry, error) {
			got = cache.SideEntry(ctx)
			return &cache.Entry{Body: []byte(conv), Side: &cache.Entry{Body: []byte(raw)}}, nil
		}
		h.n.Store(0)
		if res, err := s.Fetch(ctx, k, side, fill, nil); err != nil || res.Status != cache.StatusStored || got != nil {
			t.Fatalf("first miss = %v, %v with side entry %v; want stored, none", res, err, got)
		}
		if n := h.n.Load(); n != 2 {
			t.Errorf("miss storing a side entry: %d round trips, want 2", n)
		}
		// The side entry is the other operation's own entry: a hit there.
		var calls atomic.Int32
		res, err := s.Fetch(ctx, key(t, "garantGetTopic.garant", 1, 1), cache.Policy{TTL: time.Hour}, filler(&calls, "x", nil), nil)
		if err != nil || res.Status != cache.StatusHit || string(res.Entry.Body) != raw || calls.Load() != 0 {
			t.Errorf("side entry as its own = %v, %v (fills %d); want a hit on %s", res, err, calls.Load(), raw)
		}
		// Another route of the same request finds it in its one lookup.
		other := key(t, "compatTopic", 1, 1)
		h.n.Store(0)
		if _, err := s.Fetch(ctx, other, cache.Policy{TTL: time.Hour, Side: "garantGetTopic.garant"}, fill, nil); err != nil {
			t.Fatal(err)
		}
		if got == nil || string(got.Body) != raw {
			t.Errorf("fill of another route got side entry %v, want %s", got, raw)
		}
		if n := h.n.Load(); n != 2 {
			t.Errorf("miss reading a side entry: %d round trips, want 2", n)
		}
		// no-cache: no lookup, so no side entry; the store is one round trip.
		h.n.Store(0)
		side.NoCache = true
		if _, err := s.Fetch(ctx, k, side, fill, nil); err != nil || got != nil {
			t.Errorf("no-cache fill got side entry %v (%v), want none", got, err)
		}
		if n := h.n.Load(); n != 1 {
			t.Errorf("no-cache with a side entry: %d round trips, want 1", n)
		}
	}
	t.Run("single", func(t *testing.T) {
		s, h := countingStore(t, redistest.Start(t), cache.Config{LocalTTL: -1})
		check(t, s, h)
	})
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t, 3)
		rdb := c.Client(t)
		h := &countingHook{}
		rdb.AddHook(h)
		s, err := cache.New(rdb, cache.Config{Grace: time.Hour, Timeout: time.Second, LocalTTL: -1}, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		var calls atomic.Int32
		// Load the scripts on the node of the request's slot (the request, 1, is the hash tag).
		if _, err := s.Fetch(ctx, key(t, "warm", 0, 1), cache.Policy{TTL: time.Hour, Side: "warm.side"}, filler(&calls, "w", nil), nil); err != nil {
			t.Fatal(err)
		}
		check(t, s, h)
	})
}

// TestSideEntryKeptAlone: when the entry is too large to keep, its side
// entry is still stored (in the one store round trip), so that the next
// miss converts it instead of calling the upstream again; no-store keeps
// neither.
func TestSideEntryKeptAlone(t *testing.T) {
	ctx := context.Background()
	s, h := countingStore(t, redistest.Start(t), cache.Config{LocalTTL: -1, MaxEntryBytes: 16})
	side := cache.Policy{TTL: time.Hour, Side: "garantGetTopic.garant"}
	var got *cache.Entry
	fill := func(ctx context.Context) (*cache.Entry, error) {
		got = cache.SideEntry(ctx)
		return &cache.Entry{Body: []byte(`{"converted":"larger than sixteen bytes"}`), Side: &cache.Entry{Body: []byte(`{"raw":1}`)}}, nil
	}
	k := key(t, "garantGetTopic", 1, 1)
	noStore := side
	noStore.NoStore = true
	if _, err := s.Fetch(ctx, k, noStore, fill, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fetch(ctx, k, side, fill, nil); err != nil || got != nil {
		t.Fatalf("after no-store: side entry %v (%v), want none kept", got, err)
	}
	h.n.Store(0)
	if res, err := s.Fetch(ctx, k, side, fill, nil); err != nil || res.Status != cache.StatusMiss {
		t.Fatalf("second miss = %v, %v", res, err)
	}
	if got == nil || string(got.Body) != `{"raw":1}` {
		t.Errorf("second miss's fill got side entry %v, want the one the first kept", got)
	}
	if n := h.n.Load(); n != 2 {
		t.Errorf("a miss whose entry is too large: %d round trips, want 2 (lookup, the side entry's store)", n)
	}
}
