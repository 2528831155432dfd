package upstreamguard_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/upstreamguard"
)

// timeline records instants, safe for concurrent use.
type timeline struct {
	mu sync.Mutex
	at []time.Time
}

func (l *timeline) add() {
	l.mu.Lock()
	l.at = append(l.at, time.Now())
	l.mu.Unlock()
}

func (l *timeline) times() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.at)
}

// stats returns how many instants the timelines hold together and the
// most within any one second.
func stats(ls ...*timeline) (total, perSecond int) {
	var at []time.Time
	for _, l := range ls {
		at = append(at, l.times()...)
	}
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	j := 0
	for i := range at {
		for at[i].Sub(at[j]) >= time.Second {
			j++
		}
		perSecond = max(perSecond, i-j+1)
	}
	return len(at), perSecond
}

// arrivals records when each request reached the simulator.
type arrivals struct {
	timeline
	next http.Handler
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/_sim/") {
		a.add()
	}
	a.next.ServeHTTP(w, r)
}

func (a *arrivals) stats() (total, perSecond int) { return stats(&a.timeline) }

// sends records when the guard let each request go (it wraps the
// transport inside the guard): what the guard controls, whatever the
// network and a busy machine do to arrivals.
type sends struct {
	timeline
	next http.RoundTripper
}

func (s *sends) RoundTrip(r *http.Request) (*http.Response, error) {
	s.add()
	return s.next.RoundTrip(r)
}

// recordedSim is a simulator behind an arrival recorder, over real HTTP.
func recordedSim(t *testing.T, cfg garantsim.Config) (*garantsim.Server, *arrivals, string) {
	t.Helper()
	sim := garantsim.New(cfg)
	rec := &arrivals{next: sim}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return sim, rec, srv.URL
}

// burst makes n document-info calls at once, spread over the rigs (one per
// replica), and returns their errors.
func burst(t *testing.T, rigs []*rig, n int) []error {
	t.Helper()
	topics := rigs[0].sim.Topics()
	if len(topics) < n {
		t.Fatalf("%d topics, want %d", len(topics), n)
	}
	ctx := tenant.WithCredential(redistest.Ctx(t, time.Minute), cred)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = rigs[i%len(rigs)].client.Topic(ctx, tenant.NewSecret(garantsim.DemoToken), topics[i])
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// TestPaceBurst: 100 concurrent calls over two replicas against a Garant
// that answers 429 past 20 requests in a second: with a long enough wait in
// line every call succeeds, one request per call leaves the gateway and
// never more than 20 in any second. (What arrives at the simulator is
// logged: a busy machine may stall its server and bunch arrivals up.)
func TestPaceBurst(t *testing.T) {
	rs := redistest.Start(t)
	sim, rec, url := recordedSim(t, garantsim.DefaultConfig())
	cfg := upstreamguard.Config{MaxWait: 10 * time.Second}
	rigs := []*rig{newRigAt(t, rs.Client(t), cfg, sim, url, 30*time.Second), newRigAt(t, rs.Client(t), cfg, sim, url, 30*time.Second)}
	errs := burst(t, rigs, 100)
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			t.Logf("call %d = %v", i, err)
		}
	}
	total, perSecond := stats(&rigs[0].sent.timeline, &rigs[1].sent.timeline)
	arrived, arrivedPerSecond := rec.stats()
	t.Logf("100 calls on two replicas: %d requests sent, at most %d in one second; Garant saw %d, at most %d in one second; %v pacing errors",
		total, perSecond, arrived, arrivedPerSecond, counter(t, rigs, "gateway_upstream_pacing_errors_total", ""))
	if total != 100+int(counter(t, rigs, "gateway_upstream_retries_total", "sent")) || perSecond > 20 {
		t.Errorf("%d requests sent, %d in one second; want one per call and retry, at most 20 in any second", total, perSecond)
	}
	if failed > 0 && arrivedPerSecond <= 20 {
		t.Errorf("%d calls failed although Garant never saw more than 20 requests in a second", failed)
	}
}

// TestPaceRefusesPastMaxWait: calls whose turn is further than the longest
// wait are refused at once with a 429 of the credential's rate and a
// Retry-After, and never sent.
func TestPaceRefusesPastMaxWait(t *testing.T) {
	rs := redistest.Start(t)
	sim, rec, url := recordedSim(t, garantsim.DefaultConfig())
	r := newRigAt(t, rs.Client(t), upstreamguard.Config{MaxWait: 300 * time.Millisecond}, sim, url, 30*time.Second)
	errs := burst(t, []*rig{r}, 60)
	ok, paced := 0, 0
	for i, err := range errs {
		switch e, _ := apperr.As(err); {
		case err == nil:
			ok++
		case errors.Is(err, upstreamguard.ErrPaced) && e.Kind == apperr.QuotaExceeded && e.RetryAfter >= time.Second &&
			e.Extensions["family"] == "rate" && e.Extensions["scope"] == "credential":
			paced++
		default:
			t.Errorf("call %d = %v, want success or a paced 429 with Retry-After", i, err)
		}
	}
	// Turns are 62.5 ms apart (1.25 s over 20): 5 fit in 300 ms, more when
	// the calls trickle in.
	total, _ := rec.stats()
	t.Logf("60 calls at once, 300 ms of wait: %d sent and succeeded, %d refused", ok, paced)
	if total != ok || ok < 5 || paced < 30 {
		t.Errorf("60 calls: %d succeeded, %d refused, %d sent; want at least 5 sent and succeeded, at least 30 refused, nothing refused sent", ok, paced, total)
	}
}

// TestRetryBudget: Garant allows less than the credential's configured rate
// (5 a second against 20), so it answers many 429s; the retries share one
// budget per credential, so Garant sees about one request per call, never
// more than 20 in a second, and every call ends in success or Garant's 429.
func TestRetryBudget(t *testing.T) {
	rs := redistest.Start(t)
	simCfg := garantsim.DefaultConfig()
	simCfg.RatePerSecond = 5
	sim, rec, url := recordedSim(t, simCfg)
	cfg := upstreamguard.Config{MaxWait: 10 * time.Second}
	rigs := []*rig{newRigAt(t, rs.Client(t), cfg, sim, url, 30*time.Second), newRigAt(t, rs.Client(t), cfg, sim, url, 30*time.Second)}
	start := time.Now()
	errs := burst(t, rigs, 100)
	took := time.Since(start)
	ok, limited := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case apperr.KindOf(err) == apperr.QuotaExceeded && garant.StatusOf(err) == 429:
			limited++
		default:
			t.Errorf("call %d = %v, want success or Garant's 429", i, err)
		}
	}
	total, perSecond := stats(&rigs[0].sent.timeline, &rigs[1].sent.timeline)
	arrived, arrivedPerSecond := rec.stats()
	// The budget: 10 % of 20 a second, at most 2 tokens at once.
	budget := 2 + int(2*took.Seconds()+1)
	t.Logf("100 calls in %v, Garant allowing 5/s: %d succeeded, %d got its 429; %d requests sent (budget %d), at most %d in one second; Garant saw %d, at most %d in one second",
		took.Round(time.Millisecond), ok, limited, total, budget, perSecond, arrived, arrivedPerSecond)
	if total > 100+budget || perSecond > 20 {
		t.Errorf("%d requests sent, %d in one second; want at most %d, at most 20 in any second", total, perSecond, 100+budget)
	}
	if total <= 100 {
		t.Errorf("%d requests sent: no 429 was retried", total)
	}
}

// TestPaceWithoutRedis: while Redis does not answer, the replica paces the
// credential alone (the calls still flow, Garant still sees at most 20 a
// second) and counts each such request.
func TestPaceWithoutRedis(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	sim, _, url := recordedSim(t, garantsim.DefaultConfig())
	r := newRigAt(t, dead, upstreamguard.Config{MaxWait: 5 * time.Second, RedisTimeout: 100 * time.Millisecond}, sim, url, 10*time.Second)
	for i, err := range burst(t, []*rig{r}, 30) {
		if err != nil {
			t.Errorf("call %d with Redis down = %v, want success", i, err)
		}
	}
	if total, perSecond := stats(&r.sent.timeline); total != 30 || perSecond > 20 {
		t.Errorf("%d requests sent, at most %d in a second; want 30, at most 20", total, perSecond)
	}
	if n := counter(t, []*rig{r}, "gateway_upstream_pacing_errors_total", ""); n != 30 {
		t.Errorf("gateway_upstream_pacing_errors_total = %v, want 30", n)
	}
}

// TestPaceOnEmbeddedRedis: the demo's embedded Redis (miniredis) runs the
// pacing script: 25 calls at once leave 62.5 ms apart (1.25 s over 20).
func TestPaceOnEmbeddedRedis(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"categories":[]}`))
	}))
	t.Cleanup(up.Close)
	r := newRigAt(t, rdb, upstreamguard.Config{MaxWait: 5 * time.Second}, nil, up.URL, 5*time.Second)
	ctx := redistest.Ctx(t, 20*time.Second)
	var wg sync.WaitGroup
	for range 25 {
		wg.Go(func() {
			if err := r.prime(ctx); err != nil {
				t.Errorf("prime = %v", err)
			}
		})
	}
	wg.Wait()
	at := r.sent.times()
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	total, perSecond := stats(&r.sent.timeline)
	if span := at[len(at)-1].Sub(at[0]); total != 25 || perSecond > 20 || span < 24*60*time.Millisecond {
		t.Errorf("25 calls: %d sent over %v, at most %d in a second; want 25 over 1.5 s (24 turns of 62.5 ms), at most 20 in a second", total, span, perSecond)
	}
	if n := counter(t, []*rig{r}, "gateway_upstream_pacing_errors_total", ""); n != 0 {
		t.Errorf("%v pacing errors on miniredis, want none", n)
	}
}

// counter sums the counter name over the rigs' registries (only its series
// with the label value outcome, when not "").
func counter(t *testing.T, rigs []*rig, name, outcome string) float64 {
	t.Helper()
	var n float64
	for _, r := range rigs {
		for _, mf := range mustGather(t, r.reg) {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				keep := outcome == ""
				for _, l := range m.GetLabel() {
					keep = keep || (l.GetName() == "outcome" && l.GetValue() == outcome)
				}
				if keep {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}
