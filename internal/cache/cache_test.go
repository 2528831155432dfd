package cache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/redistest"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// newStore is a store on rs with a Redis timeout of a second: the tests
// about coalescing must not see a slow call on a loaded machine as a failed
// one (which disables the fill lock). TestFailsOpenWithoutRedis covers the
// failures.
func newStore(t *testing.T, rs *redistest.Server, clk *clock) *cache.Store {
	t.Helper()
	cfg := cache.Config{Grace: time.Hour, MaxEntryBytes: 1 << 20, CompressAbove: 64}
	if clk != nil {
		cfg.Now = clk.Now
	}
	return storeWith(t, rs, cfg, prometheus.NewRegistry())
}

func storeWith(t *testing.T, rs *redistest.Server, cfg cache.Config, reg prometheus.Registerer) *cache.Store {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Second
	}
	s, err := cache.New(rs.Client(t), cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func key(t *testing.T, op string, topic int, req any) cache.Key {
	t.Helper()
	k, err := cache.NewKey("cred-a", op, topic, req)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func filler(calls *atomic.Int32, body string, err error) cache.FillFunc {
	return func(context.Context) (*cache.Entry, error) {
		calls.Add(1)
		if err != nil {
			return nil, err
		}
		return &cache.Entry{Body: []byte(body), ContentType: "application/json"}, nil
	}
}

func TestFetchHitMissStaleNoCache(t *testing.T) {
	rs := redistest.Start(t)
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	s := newStore(t, rs, clk)
	ctx := context.Background()
	k := key(t, "garantGetTopic", 1, map[string]int{"topic": 1})
	ttl := cache.Policy{TTL: time.Minute}
	var calls atomic.Int32
	long := strings.Repeat("x", 1000) // compressed

	steps := []struct {
		name    string
		advance time.Duration
		policy  cache.Policy
		fillErr error
		status  string
		calls   int32
		age     int
	}{
		{name: "miss", policy: ttl, status: cache.StatusStored, calls: 1},
		{name: "hit", advance: 10 * time.Second, policy: ttl, status: cache.StatusHit, calls: 1, age: 10},
		{name: "no-cache", policy: cache.Policy{TTL: time.Minute, NoCache: true}, status: cache.StatusRefreshed, calls: 2},
		{name: "max-stale", advance: 2 * time.Minute, policy: cache.Policy{TTL: time.Minute, MaxStale: time.Hour}, status: cache.StatusStale, calls: 2, age: 120},
		{name: "stale on failure", policy: ttl, fillErr: errors.New("down"), status: cache.StatusStale, calls: 3, age: 120},
		{name: "refill", policy: ttl, status: cache.StatusStored, calls: 4},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		res, err := s.Fetch(ctx, k, st.policy, filler(&calls, long, st.fillErr), func(error) bool { return true })
		if err != nil {
			t.Fatalf("%s: Fetch: %v", st.name, err)
		}
		if res.Status != st.status || calls.Load() != st.calls || res.Age != st.age || string(res.Entry.Body) != long {
			t.Errorf("%s: Fetch = %q age %d after %d fills, want %q age %d after %d", st.name, res.Status, res.Age, calls.Load(), st.status, st.age, st.calls)
		}
	}
	// Past the grace period nothing stale remains: the failure comes through.
	clk.Advance(2 * time.Hour)
	if _, err := s.Fetch(ctx, key(t, "garantGetTopic", 2, 2), ttl, filler(&calls, "", errors.New("down")), func(error) bool { return true }); err == nil {
		t.Error("Fetch of an absent key with a failing fill succeeded")
	}
}

func TestKeyIsCanonicalAndScoped(t *testing.T) {
	type req struct {
		A int    `json:"a"`
		B string `json:"b"`
	}
	k1, _ := cache.NewKey("s", "op", 0, req{1, "x"})
	k2, _ := cache.NewKey("s", "op", 0, map[string]any{"b": "x", "a": 1})
	k3, _ := cache.NewKey("other", "op", 0, req{1, "x"})
	if !cmp.Equal(k1, k2, cmp.AllowUnexported(cache.Key{})) {
		t.Errorf("NewKey(struct) = %+v, NewKey(map) = %+v; want equal", k1, k2)
	}
	if cmp.Equal(k1, k3, cmp.AllowUnexported(cache.Key{})) {
		t.Error("keys of two scopes are equal")
	}
}

func TestBinaryStoredRawAndSizeCap(t *testing.T) {
	rs := redistest.Start(t)
	s := newStore(t, rs, nil)
	ctx := context.Background()
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 1, 2}, 500)...)
	k := key(t, "garantGetImage", 0, "36576886")
	res, err := s.Fetch(ctx, k, cache.Policy{TTL: time.Hour}, func(context.Context) (*cache.Entry, error) {
		return &cache.Entry{Body: png, ContentType: "image/png", Binary: true}, nil
	}, nil)
	if err != nil || res.Status != cache.StatusStored {
		t.Fatalf("Fetch = %+v, %v", res, err)
	}
	keys, _ := rs.Client(t).Keys(ctx, "lg:gc:cred-a:garantGetImage:*").Result()
	if len(keys) != 1 {
		t.Fatalf("keys = %v", keys)
	}
	raw, _ := rs.Client(t).Get(ctx, keys[0]).Bytes()
	if !bytes.HasSuffix(raw, png) {
		t.Error("binary entry is not stored raw")
	}
	big := &cache.Entry{Body: make([]byte, 2<<20), Binary: true}
	res, err = s.Fetch(ctx, key(t, "garantExportTopic", 1, "pdf"), cache.Policy{TTL: time.Hour},
		func(context.Context) (*cache.Entry, error) { return big, nil }, nil)
	if err != nil || res.Status != cache.StatusMiss || len(res.Entry.Body) != 2<<20 {
		t.Errorf("Fetch of an entry over the cap = %q, %v; want served, not stored", res.Status, err)
	}
}

// TestCoalescingAcrossStores: 60 concurrent misses over three stores (three
// gateway processes) sharing one Redis make exactly one fill.
func TestCoalescingAcrossStores(t *testing.T) {
	rs := redistest.Start(t)
	stores := []*cache.Store{newStore(t, rs, nil), newStore(t, rs, nil), newStore(t, rs, nil)}
	k := key(t, "garantGetTopic", 7, 7)
	var calls atomic.Int32
	slow := func(ctx context.Context) (*cache.Entry, error) {
		calls.Add(1)
		time.Sleep(100 * time.Millisecond)
		return &cache.Entry{Body: []byte(`{"topic":7}`)}, nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 60 {
		wg.Go(func() {
			res, err := stores[i%3].Fetch(context.Background(), k, cache.Policy{TTL: time.Hour}, slow, nil)
			if err == nil && string(res.Entry.Body) != `{"topic":7}` {
				err = errors.New("wrong body " + string(res.Entry.Body))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("fills = %d, want 1", n)
	}
}

func TestFailsOpenWithoutRedis(t *testing.T) {
	rs := redistest.Start(t)
	s := storeWith(t, rs, cache.Config{Grace: time.Hour, Timeout: 100 * time.Millisecond}, nil)
	rs.Stop()
	var calls atomic.Int32
	start := time.Now()
	res, err := s.Fetch(context.Background(), key(t, "garantSearch", 0, "q"), cache.Policy{TTL: time.Hour}, filler(&calls, "ok", nil), nil)
	if err != nil || string(res.Entry.Body) != "ok" || calls.Load() != 1 {
		t.Fatalf("Fetch without Redis = %+v, %v; want the fill's answer", res, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Fetch without Redis took %v", d)
	}
}

func TestPurge(t *testing.T) {
	rs := redistest.Start(t)
	s := newStore(t, rs, nil)
	ctx := context.Background()
	var calls atomic.Int32
	for _, k := range []cache.Key{key(t, "garantGetTopic", 1, 1), key(t, "garantGetTopic", 2, 2), key(t, "garantGetTopicHTML", 1, 1), key(t, "garantSearch", 0, "q")} {
		if _, err := s.Fetch(ctx, k, cache.Policy{TTL: time.Hour}, filler(&calls, "x", nil), nil); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := cache.NewKey("cred-b", "garantGetTopic", 1, 1)
	_, _ = s.Fetch(ctx, other, cache.Policy{TTL: time.Hour}, filler(&calls, "x", nil), nil)
	for _, tc := range []struct {
		op    string
		topic int
		want  int
	}{{"garantGetTopic", 1, 1}, {"", 1, 1}, {"", 0, 2}} {
		n, err := s.Purge(ctx, "cred-a", tc.op, tc.topic)
		if err != nil || n != tc.want {
			t.Errorf("Purge(cred-a, %q, %d) = %d, %v; want %d", tc.op, tc.topic, n, err, tc.want)
		}
	}
	if keys, _ := rs.Client(t).Keys(ctx, "lg:gc:cred-b:*").Result(); len(keys) != 1 {
		t.Errorf("cred-b keys after purging cred-a = %v, want 1", keys)
	}
}

func TestParseCacheControl(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want cache.Policy
	}{
		{"no-cache", cache.Policy{NoCache: true}},
		{"max-stale=60, no-store", cache.Policy{NoStore: true, MaxStale: time.Minute}},
		{"Max-Stale", cache.Policy{MaxStale: -1}},
		{"max-age=0", cache.Policy{}},
	} {
		var p cache.Policy
		cache.ParseCacheControl(&p, tc.in)
		if p != tc.want {
			t.Errorf("ParseCacheControl(%q) = %+v, want %+v", tc.in, p, tc.want)
		}
	}
}

// TestCoalescedQuotaFailureNotShared: when the fill of a coalesced miss
// fails with the filling request's own quota rejection, a request that
// waited for it fills under its own quota instead of sharing the rejection.
func TestCoalescedQuotaFailureNotShared(t *testing.T) {
	rs := redistest.Start(t)
	s := newStore(t, rs, nil)
	k := key(t, "garantExportTopic", 3, "pdf")
	p := cache.Policy{TTL: time.Hour}
	started, release := make(chan struct{}), make(chan struct{})
	spent := func(context.Context) (*cache.Entry, error) {
		close(started)
		<-release
		return nil, &apperr.Error{Kind: apperr.QuotaExceeded, Detail: "tenant a is out of exports"}
	}
	var calls atomic.Int32
	errA := make(chan error, 1)
	go func() {
		_, err := s.Fetch(context.Background(), k, p, spent, nil)
		errA <- err
	}()
	<-started
	type answer struct {
		res *cache.Result
		err error
	}
	ansB := make(chan answer, 1)
	go func() {
		res, err := s.Fetch(context.Background(), k, p, filler(&calls, "pdf", nil), nil)
		ansB <- answer{res, err}
	}()
	time.Sleep(100 * time.Millisecond) // B joins A's fill (if it is late, the test passes without checking)
	close(release)
	if err := <-errA; apperr.KindOf(err) != apperr.QuotaExceeded {
		t.Errorf("Fetch of the tenant out of quota = %v, want its quota rejection", err)
	}
	b := <-ansB
	if b.err != nil || string(b.res.Entry.Body) != "pdf" || calls.Load() != 1 {
		t.Errorf("Fetch of the tenant with room = %+v, %v after %d fills; want its own fill's answer", b.res, b.err, calls.Load())
	}
}

// TestSlowFillKeepsLock: a fill slower than the lock's lifetime renews the
// lock, so another process waits for it instead of calling the upstream
// again.
func TestSlowFillKeepsLock(t *testing.T) {
	rs := redistest.Start(t)
	cfg := cache.Config{Grace: time.Hour, LockTTL: 600 * time.Millisecond, FillTimeout: 20 * time.Second}
	first, second := storeWith(t, rs, cfg, nil), storeWith(t, rs, cfg, nil)
	k := key(t, "garantExportTopic", 9, "pdf")
	p := cache.Policy{TTL: time.Hour}
	var calls atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	slow := func(context.Context) (*cache.Entry, error) {
		calls.Add(1)
		close(started)
		<-release
		return &cache.Entry{Body: []byte("pdf")}, nil
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if res, err := first.Fetch(context.Background(), k, p, slow, nil); err != nil || string(res.Entry.Body) != "pdf" {
			t.Errorf("first Fetch = %+v, %v", res, err)
		}
	})
	<-started
	wg.Go(func() {
		res, err := second.Fetch(context.Background(), k, p, filler(&calls, "pdf", nil), nil)
		if err != nil || string(res.Entry.Body) != "pdf" || res.Status != cache.StatusCollapsed {
			t.Errorf("second Fetch = %+v, %v; want the first one's answer, collapsed", res, err)
		}
	})
	time.Sleep(5 * cfg.LockTTL) // the lock would have expired four times over
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("fills = %d, want 1", n)
	}
}

// TestFillPanic: a panicking fill (run in a goroutine of singleflight's)
// becomes an Internal error for the requests that wanted it and releases the
// fill lock; the process lives on.
func TestFillPanic(t *testing.T) {
	rs := redistest.Start(t)
	s := newStore(t, rs, nil)
	k := key(t, "garantGetTopic", 5, 5)
	boom := func(context.Context) (*cache.Entry, error) { panic("boom") }
	_, err := s.Fetch(context.Background(), k, cache.Policy{TTL: time.Hour}, boom, nil)
	if apperr.KindOf(err) != apperr.Internal || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Fetch with a panicking fill = %v, want an Internal error naming the panic", err)
	}
	if locks, _ := rs.Client(t).Keys(context.Background(), "lg:gc:lock:*").Result(); len(locks) != 0 {
		t.Errorf("fill locks after the panic = %v, want none", locks)
	}
	var calls atomic.Int32
	res, err := s.Fetch(context.Background(), k, cache.Policy{TTL: time.Hour}, filler(&calls, "ok", nil), nil)
	if err != nil || res.Status != cache.StatusStored || calls.Load() != 1 {
		t.Errorf("Fetch after the panic = %+v, %v; want a fresh fill", res, err)
	}
}

// TestNoCacheRefreshFailure: Cache-Control: no-cache is never answered with a
// stale copy when the refresh fails, unless the client also sent max-stale
// (RFC 9111 §5.2.1.4); max-stale=N bounds how stale.
func TestNoCacheRefreshFailure(t *testing.T) {
	rs := redistest.Start(t)
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	s := newStore(t, rs, clk)
	ctx := context.Background()
	k := key(t, "garantGetTopic", 4, 4)
	var calls atomic.Int32
	if _, err := s.Fetch(ctx, k, cache.Policy{TTL: time.Minute}, filler(&calls, "old", nil), nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute) // a minute stale
	down := errors.New("down")
	always := func(error) bool { return true }
	for _, tc := range []struct {
		name   string
		policy cache.Policy
		stale  bool
	}{
		{"no-cache", cache.Policy{TTL: time.Minute, NoCache: true}, false},
		{"no-cache, max-stale", cache.Policy{TTL: time.Minute, NoCache: true, MaxStale: -1}, true},
		{"no-cache, max-stale=120", cache.Policy{TTL: time.Minute, NoCache: true, MaxStale: 2 * time.Minute}, true},
		{"no-cache, max-stale=30", cache.Policy{TTL: time.Minute, NoCache: true, MaxStale: 30 * time.Second}, false},
	} {
		res, err := s.Fetch(ctx, k, tc.policy, filler(&calls, "", down), always)
		if tc.stale && (err != nil || string(res.Entry.Body) != "old") {
			t.Errorf("%s: Fetch with a failing refresh = %+v, %v; want the stale entry", tc.name, res, err)
		}
		if !tc.stale && !errors.Is(err, down) {
			t.Errorf("%s: Fetch with a failing refresh = %+v, %v; want the failure", tc.name, res, err)
		}
	}
}

// TestLargeJSONCompressed: a text body over CompressAbove is stored gzipped
// (the entry's flag byte says so, and it takes less room) and read back as it was.
func TestLargeJSONCompressed(t *testing.T) {
	rs := redistest.Start(t)
	s := newStore(t, rs, nil) // CompressAbove 64
	ctx := context.Background()
	body := `{"items":[` + strings.Repeat(`{"text":"статья 70 Трудового кодекса"},`, 100) + `{}]}`
	for i, tc := range []struct {
		body string
		gzip bool
	}{{body, true}, {`{"topic":1}`, false}} {
		k := key(t, "garantGetTopicHTML", 100+i, i)
		var calls atomic.Int32
		if _, err := s.Fetch(ctx, k, cache.Policy{TTL: time.Hour}, filler(&calls, tc.body, nil), nil); err != nil {
			t.Fatal(err)
		}
		keys, err := rs.Client(t).Keys(ctx, fmt.Sprintf("lg:gc:cred-a:garantGetTopicHTML:%d:*", 100+i)).Result()
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys = %v, %v", keys, err)
		}
		raw, err := rs.Client(t).Get(ctx, keys[0]).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if gz := raw[1]&1 != 0; gz != tc.gzip || (gz && len(raw) >= len(tc.body)) {
			t.Errorf("entry of %d bytes stored in %d bytes, gzip flag %v; want gzip %v", len(tc.body), len(raw), gz, tc.gzip)
		}
		// Read back from Redis (another process: no L1).
		other := storeWith(t, rs, cache.Config{Grace: time.Hour, LocalTTL: -1}, nil)
		res, err := other.Fetch(ctx, k, cache.Policy{TTL: time.Hour}, filler(&calls, "refilled", nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != cache.StatusHit || string(res.Entry.Body) != tc.body {
			t.Errorf("Fetch from Redis = %q %.40q; want a hit with the body", res.Status, res.Entry.Body)
		}
	}
}

// TestKeyFastPathMatchesEncoder: the requests NewKey hashes without
// reflection get the key json.Encoder's bytes give (a RawMessage of those
// bytes takes the encoder's path), so entries keep their keys.
func TestKeyFastPathMatchesEncoder(t *testing.T) {
	for _, tc := range []struct {
		v    any
		json string
	}{
		{nil, ""},
		{10900200, "10900200"},
		{-3, "-3"},
		{"36576886", `"36576886"`},
		{"a<b", `"a\u003cb"`},
		{"Привет", `"Привет"`},
		{[2]int{10900200, 7}, "[10900200,7]"},
		{[2]string{"x^2", "png"}, `["x^2","png"]`},
		{[2]string{`a"b`, "svg"}, `["a\"b","svg"]`},
		{[2]any{10900200, "pdf"}, `[10900200,"pdf"]`},
		{[2]any{10900200, "p&f"}, `[10900200,"p\u0026f"]`},
	} {
		got, err := cache.NewKey("s", "op", 1, tc.v)
		if err != nil {
			t.Fatal(err)
		}
		var raw any
		if tc.json != "" {
			raw = json.RawMessage(tc.json)
		}
		want, err := cache.NewKey("s", "op", 1, raw)
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(got, want, cmp.AllowUnexported(cache.Key{})) {
			t.Errorf("NewKey(%#v) = %+v, want %+v (the encoder's key)", tc.v, got, want)
		}
	}
}

func BenchmarkNewKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cache.NewKey("garant-test", "garantGetTopic", 10900200, 10900200); err != nil {
			b.Fatal(err)
		}
	}
}

// storeBehindCutProxy is a store whose Redis client (go-redis's default
// retries) talks to rs through a proxy that can lose an answer; its fill
// lock outlives any test (a request that waits out its own lock fails).
func storeBehindCutProxy(t *testing.T) (*redistest.Server, *redistest.CutProxy, *cache.Store) {
	t.Helper()
	rs := redistest.Start(t)
	proxy := redistest.NewCutProxy(t, rs.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), Protocol: 2})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := cache.New(rdb, cache.Config{Timeout: time.Second, LockTTL: time.Minute, FillTimeout: time.Minute}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return rs, proxy, s
}

// TestFillLockRetried: go-redis sends a command again when the connection
// breaks before its answer, though Redis may have run it. The fill lock the
// first run took is this request's own: it fills at once (it does not wait
// for its own lock as another's) and the store releases the lock.
func TestFillLockRetried(t *testing.T) {
	rs, proxy, s := storeBehindCutProxy(t)
	ctx := context.Background()
	var calls atomic.Int32
	ttl := cache.Policy{TTL: time.Minute}
	// Load the script first: the lost answer must be to a command Redis ran
	// (a first EVALSHA only answers NOSCRIPT).
	if _, err := s.Fetch(ctx, key(t, "garantGetTopic", 1, 1), ttl, filler(&calls, `{}`, nil), func(error) bool { return true }); err != nil {
		t.Fatal(err)
	}

	proxy.Arm("evalsha")
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second) // far below LockTTL: no waiting out its own lock
	defer cancel()
	res, err := s.Fetch(fctx, key(t, "garantGetTopic", 2, 2), ttl, filler(&calls, `{"n":2}`, nil), func(error) bool { return true })
	if err != nil || res.Status != cache.StatusStored || calls.Load() != 2 {
		t.Fatalf("Fetch with the lock's answer lost = %v, %v after %d fills; want %q after 2", res, err, calls.Load(), cache.StatusStored)
	}
	if proxy.Cuts() != 1 {
		t.Fatalf("the proxy lost %d answers, want 1: the test did not exercise the retry", proxy.Cuts())
	}
	keys, err := rs.Client(t).Keys(ctx, "*lock*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("fill locks left in Redis = %v (%v), want none: the store releases its own lock", keys, err)
	}
}

// TestFillLockAfterPeerRetried: the same for the lock taken after a peer's
// fill lapsed without storing (fillLocked).
func TestFillLockAfterPeerRetried(t *testing.T) {
	rs, proxy, s := storeBehindCutProxy(t)
	ctx := context.Background()
	direct := rs.Client(t)
	var calls atomic.Int32
	ttl := cache.Policy{TTL: time.Minute}
	fetchAfterLapsedPeer := func(topic int) (*cache.Result, error) {
		k := key(t, "garantGetTopic", topic, topic)
		// A peer holds the fill lock and goes away without storing.
		if err := direct.Set(ctx, cache.LockKey(s, k), "peer", 300*time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second) // far below LockTTL
		defer cancel()
		return s.Fetch(fctx, k, ttl, filler(&calls, `{}`, nil), func(error) bool { return true })
	}
	if _, err := fetchAfterLapsedPeer(1); err != nil { // loads the lock script
		t.Fatal(err)
	}

	proxy.Arm(cache.LockScriptHash)
	res, err := fetchAfterLapsedPeer(2)
	if err != nil || res.Status != cache.StatusStored || calls.Load() != 2 {
		t.Fatalf("Fetch with the lock's answer lost = %v, %v after %d fills; want %q after 2", res, err, calls.Load(), cache.StatusStored)
	}
	if proxy.Cuts() != 1 {
		t.Fatalf("the proxy lost %d answers, want 1: the test did not exercise the retry", proxy.Cuts())
	}
	if keys, err := direct.Keys(ctx, "*lock*").Result(); err != nil || len(keys) != 0 {
		t.Errorf("fill locks left in Redis = %v (%v), want none", keys, err)
	}
}

type fetched struct {
	res *cache.Result
	err error
}

func fetchAsync(s *cache.Store, k cache.Key, fill cache.FillFunc) chan fetched {
	ch := make(chan fetched, 1)
	go func() {
		res, err := s.Fetch(context.Background(), k, cache.Policy{TTL: time.Hour}, fill, nil)
		ch <- fetched{res, err}
	}()
	return ch
}

// TestStreamNotStoredNorShared: an answer a fill hands over as a stream is
// the filling request's alone: not stored, not given to a request that
// waited for the fill (which fills on its own), and no fill lock is left.
func TestStreamNotStoredNorShared(t *testing.T) {
	rs := redistest.Start(t)
	s := newStore(t, rs, nil)
	k := key(t, "garantExportTopic", 1, "pdf")
	var calls atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	fill := func(context.Context) (*cache.Entry, error) {
		n := calls.Add(1)
		once.Do(func() { close(started); <-release })
		body := strings.Repeat("p", 100) + string(rune('0'+n))
		return &cache.Entry{Stream: io.NopCloser(strings.NewReader(body)), StreamSize: int64(len(body)), ContentType: "application/pdf", Binary: true}, nil
	}
	first := fetchAsync(s, k, fill)
	<-started
	second := fetchAsync(s, k, fill)
	time.Sleep(100 * time.Millisecond) // the second joins the first's fill (if late, it fills on its own anyway)
	close(release)
	seen := map[string]bool{}
	for _, ch := range []chan fetched{first, second} {
		f := <-ch
		if f.err != nil || f.res.Entry.Stream == nil || f.res.Status != cache.StatusMiss || !f.res.Filled {
			t.Fatalf("Fetch = %+v, %v; want its own stream, not stored", f.res, f.err)
		}
		b, _ := io.ReadAll(f.res.Entry.Stream)
		seen[string(b)] = true
	}
	if len(seen) != 2 || calls.Load() != 2 {
		t.Errorf("%d fills gave %d distinct streams, want 2 and 2", calls.Load(), len(seen))
	}
	if keys, _ := rs.Client(t).Keys(context.Background(), "lg:gc:*").Result(); len(keys) != 0 {
		t.Errorf("keys after streamed answers = %v, want none", keys)
	}
}
