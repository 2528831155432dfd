package cache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/redistest"
)

// storeGate holds the first store of an entry (the only command the cache
// sends with []byte arguments: the entry's head and body) until release is
// closed, closing entered when it arrives; with fail set it fails every
// store instead.
type storeGate struct {
	fail     error // fails every single store
	failPipe error // fails every pipeline of stores
	held     atomic.Bool
	entered  chan struct{}
	release  chan struct{}

	mu    sync.Mutex
	pipes []int // the number of stores in each pipeline
}

func newStoreGate() *storeGate {
	return &storeGate{entered: make(chan struct{}), release: make(chan struct{})}
}

func isStore(cmd redis.Cmder) bool {
	for _, a := range cmd.Args() {
		if _, ok := a.([]byte); ok {
			return true
		}
	}
	return false
}

func (g *storeGate) DialHook(next redis.DialHook) redis.DialHook { return next }
func (g *storeGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isStore(cmd) {
			if g.fail != nil {
				cmd.SetErr(g.fail)
				return g.fail
			}
			if g.held.CompareAndSwap(false, true) { // only the first; later ones pass
				close(g.entered)
				<-g.release
			}
		}
		return next(ctx, cmd)
	}
}
func (g *storeGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := 0
		for _, c := range cmds {
			if isStore(c) {
				n++
			}
		}
		if n > 0 {
			g.mu.Lock()
			g.pipes = append(g.pipes, n)
			g.mu.Unlock()
			if g.failPipe != nil {
				for _, c := range cmds {
					c.SetErr(g.failPipe)
				}
				return g.failPipe
			}
		}
		return next(ctx, cmds)
	}
}

func gatedStore(t *testing.T, rs *redistest.Server, g *storeGate, cfg cache.Config, reg prometheus.Registerer) *cache.Store {
	t.Helper()
	rdb := rs.Client(t)
	rdb.AddHook(g)
	if cfg.Grace == 0 {
		cfg.Grace = time.Hour
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second // the gate holds a store for a while: not a failure
	}
	s, err := cache.New(rdb, cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
		settle(t, s)
	})
	return s
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

// TestStoreBehindAnswer: with the Redis store of a miss held up, Fetch
// still answers (stored: this process hits at once from its L1); another
// process asking meanwhile waits for the entry instead of filling again
// (the fill lock is released only with the store); Wait and Close wait for
// the held store; after Close stores happen before the answer again.
func TestStoreBehindAnswer(t *testing.T) {
	rs := redistest.Start(t)
	g := newStoreGate()
	a := gatedStore(t, rs, g, cache.Config{}, nil)
	b := newStore(t, rs, nil) // another process
	k := key(t, "garantGetTopic", 1, 1)
	var calls atomic.Int32

	select {
	case f := <-fetchAsync(a, k, filler(&calls, "x", nil)):
		if f.err != nil || f.res.Status != cache.StatusStored || string(f.res.Entry.Body) != "x" {
			t.Fatalf("Fetch of a miss = %+v, %v; want the fill's answer, stored", f.res, f.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Fetch of a miss waited for its Redis store")
	}
	<-g.entered // the store was sent, and is held
	if res, err := a.Fetch(context.Background(), k, cache.Policy{TTL: time.Hour}, filler(&calls, "y", nil), nil); err != nil ||
		res.Status != cache.StatusHit || string(res.Entry.Body) != "x" {
		t.Errorf("Fetch by the same process = %+v, %v; want an L1 hit", res, err)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait with a store held = %v, want it to time out", err)
	}

	peer := fetchAsync(b, k, filler(&calls, "z", nil))
	closed := make(chan error, 1)
	go func() { closed <- a.Close(context.Background()) }()
	time.Sleep(200 * time.Millisecond)
	select {
	case f := <-peer:
		t.Fatalf("another process's Fetch = %+v, %v before the store; want it to wait", f.res, f.err)
	case err := <-closed:
		t.Fatalf("Close = %v before the held store finished", err)
	default:
	}
	close(g.release)
	if err := <-closed; err != nil {
		t.Errorf("Close = %v", err)
	}
	if f := <-peer; f.err != nil || f.res.Status != cache.StatusCollapsed || string(f.res.Entry.Body) != "x" {
		t.Errorf("another process's Fetch = %+v, %v; want the stored answer, collapsed", f.res, f.err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("fills = %d, want 1", n)
	}

	// Closed: the store is made before Fetch returns.
	k2 := key(t, "garantGetTopic", 2, 2)
	if _, err := a.Fetch(context.Background(), k2, cache.Policy{TTL: time.Hour}, filler(&calls, "x2", nil), nil); err != nil {
		t.Fatal(err)
	}
	if keys, _ := rs.Client(t).Keys(context.Background(), "lg:gc:cred-a:garantGetTopic:2:*").Result(); len(keys) != 1 {
		t.Errorf("entries right after a Fetch on a closed store = %v, want 1", keys)
	}
}

// TestStoreBehindAnswerFails: a store that fails after the answer is
// counted, and releases the fill lock, so another process fills on its own.
func TestStoreBehindAnswerFails(t *testing.T) {
	rs := redistest.Start(t)
	reg := prometheus.NewRegistry()
	g := newStoreGate()
	g.fail = errors.New("store refused")
	a := gatedStore(t, rs, g, cache.Config{}, reg)
	k := key(t, "garantGetTopic", 1, 1)
	var calls atomic.Int32
	res, err := a.Fetch(context.Background(), k, cache.Policy{TTL: time.Hour}, filler(&calls, "x", nil), nil)
	if err != nil || res.Status != cache.StatusStored {
		t.Fatalf("Fetch = %+v, %v; want stored (in the L1)", res, err)
	}
	settle(t, a)
	if n := value(t, reg, "gateway_cache_redis_errors_total", map[string]string{"command": "set"}); n != 1 {
		t.Errorf("set errors = %v, want 1", n)
	}
	if locks, _ := rs.Client(t).Keys(context.Background(), "lg:gc:lock:*").Result(); len(locks) != 0 {
		t.Errorf("fill locks after a failed store = %v, want none", locks)
	}
	b := newStore(t, rs, nil)
	if res, err := b.Fetch(context.Background(), k, cache.Policy{TTL: time.Hour}, filler(&calls, "y", nil), nil); err != nil ||
		res.Status != cache.StatusStored || string(res.Entry.Body) != "y" {
		t.Errorf("another process's Fetch = %+v, %v; want its own fill", res, err)
	}
}

// TestPendingStoresBounded: past MaxPendingStores a store is made before
// its answer.
func TestPendingStoresBounded(t *testing.T) {
	rs := redistest.Start(t)
	g := newStoreGate()
	a := gatedStore(t, rs, g, cache.Config{MaxPendingStores: 1}, nil)
	var calls atomic.Int32
	if _, err := a.Fetch(context.Background(), key(t, "garantGetTopic", 1, 1), cache.Policy{TTL: time.Hour}, filler(&calls, "x", nil), nil); err != nil {
		t.Fatal(err)
	}
	<-g.entered // the one slot is taken
	if _, err := a.Fetch(context.Background(), key(t, "garantGetTopic", 2, 2), cache.Policy{TTL: time.Hour}, filler(&calls, "x", nil), nil); err != nil {
		t.Fatal(err)
	}
	if keys, _ := rs.Client(t).Keys(context.Background(), "lg:gc:cred-a:garantGetTopic:2:*").Result(); len(keys) != 1 {
		t.Errorf("entries right after a Fetch with no free slot = %v, want 1 (stored before the answer)", keys)
	}
	close(g.release)
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
	settle(t, s)
	if keys, _ := rs.Client(t).Keys(context.Background(), "lg:gc:*").Result(); len(keys) != 0 {
		t.Errorf("keys after streamed answers = %v, want none", keys)
	}
}

// TestStoresBatched: stores that queue up while the writer is busy go to
// Redis as one pipeline; a store whose script Redis lost (NOSCRIPT) is
// retried alone, loading it again; a failed pipeline is counted per store
// and releases every fill lock.
func TestStoresBatched(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail=%v", fail), func(t *testing.T) {
			rs := redistest.Start(t)
			reg := prometheus.NewRegistry()
			g := newStoreGate()
			if fail {
				g.failPipe = errors.New("pipeline refused")
			}
			s := gatedStore(t, rs, g, cache.Config{}, reg)
			var calls atomic.Int32
			fetch := func(i int) {
				if _, err := s.Fetch(context.Background(), key(t, "garantGetTopic", i, i), cache.Policy{TTL: time.Hour}, filler(&calls, "x", nil), nil); err != nil {
					t.Fatal(err)
				}
			}
			fetch(0)
			<-g.entered // the writer is busy with the first store
			for i := 1; i <= 20; i++ {
				fetch(i)
			}
			if err := rs.Client(t).ScriptFlush(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			close(g.release)
			settle(t, s)
			g.mu.Lock()
			pipes := fmt.Sprint(g.pipes)
			g.mu.Unlock()
			if pipes != "[20]" {
				t.Errorf("pipelines of stores = %s, want [20]", pipes)
			}
			keys, _ := rs.Client(t).Keys(context.Background(), "lg:gc:cred-a:*").Result()
			locks, _ := rs.Client(t).Keys(context.Background(), "lg:gc:lock:*").Result()
			errs := value(t, reg, "gateway_cache_redis_errors_total", map[string]string{"command": "set"})
			want, wantErrs := 21, 0.0
			if fail {
				want, wantErrs = 1, 20
			}
			if len(keys) != want || len(locks) != 0 || errs != wantErrs {
				t.Errorf("after the batch: %d entries, locks %v, %v set errors; want %d entries, no locks, %v errors",
					len(keys), locks, errs, want, wantErrs)
			}
		})
	}
}
