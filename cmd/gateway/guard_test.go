package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

// arrivals records when each request (outside /_sim/) reached a handler.
type arrivals struct {
	next http.Handler
	mu   sync.Mutex
	at   []time.Time
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/_sim/") {
		a.mu.Lock()
		a.at = append(a.at, time.Now())
		a.mu.Unlock()
	}
	a.next.ServeHTTP(w, r)
}

// stats returns how many requests arrived and the most that arrived in
// any window of one second.
func (a *arrivals) stats() (total, maxPerSecond int) {
	a.mu.Lock()
	at := slices.Clone(a.at)
	a.mu.Unlock()
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	j := 0
	for i := range at {
		for at[i].Sub(at[j]) >= time.Second {
			j++
		}
		maxPerSecond = max(maxPerSecond, i-j+1)
	}
	return len(at), maxPerSecond
}

// TestGarantBurstPacedToItsRate replays issue 17 finding 8 through run():
// a Garant credential with no rate configured, 100 concurrent document-info
// calls, Garant (the simulator) answering 429 past 20 requests in a second.
// The credential's documented 20/s is its built-in pace: Garant sees about
// one request per call and never more than 20 in any second, and every call
// is answered 200 or a clean 429/503 problem with Retry-After. (Before the
// pace, 565 requests reached Garant, 340 in one second.)
func TestGarantBurstPacedToItsRate(t *testing.T) {
	rs := redistest.Start(t)
	sim := garantsim.New(garantsim.DefaultConfig())
	rec := &arrivals{next: sim}
	garant := httptest.NewServer(rec)
	t.Cleanup(garant.Close)
	cfg := fmt.Sprintf(`
redis: {url: %q}
credentials:
  garant-main: {upstream: garant, secret: demo-garant-token, limits: [{family: topic_info, period: month, limit: 1000}]}
tenants:
  billing: {keys_sha256: [%s], credentials: {garant: garant-main}}
upstreams:
  garant: {base_url: %q}
`, rs.URL(), config.HashKey("billing-key"), garant.URL)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _ := startGateway(t, []string{"-config", path}, nil)

	topics := sim.Topics()
	const calls = 100
	if len(topics) < calls {
		t.Fatalf("the simulator has %d topics, want at least %d", len(topics), calls)
	}
	type answer struct {
		status     int
		ctype      string
		retryAfter string
		body       string
	}
	answers := make([]answer, calls)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range calls {
		wg.Go(func() {
			<-start
			req, _ := http.NewRequestWithContext(context.Background(), "GET", fmt.Sprintf("%s/v1/garant/topics/%d", base, topics[i]), nil)
			req.Header.Set("Authorization", "Bearer billing-key")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				answers[i] = answer{body: err.Error()}
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			answers[i] = answer{res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Retry-After"), string(b)}
		})
	}
	close(start)
	wg.Wait()

	total, perSecond := rec.stats()
	ok := 0
	for i, a := range answers {
		switch a.status {
		case 200:
			ok++
		case 429, 503:
			var p struct {
				Status    int    `json:"status"`
				RequestID string `json:"request_id"`
			}
			if a.ctype != "application/problem+json" || a.retryAfter == "" || json.Unmarshal([]byte(a.body), &p) != nil || p.Status != a.status || p.RequestID == "" {
				t.Errorf("call %d = %d %q Retry-After %q, want a problem with Retry-After; body %.300s", i, a.status, a.ctype, a.retryAfter, a.body)
			}
		default:
			t.Errorf("call %d = %d, want 200 or a 429/503 problem; body %.300s", i, a.status, a.body)
		}
	}
	t.Logf("%d calls: %d answered 200; Garant saw %d requests, at most %d in one second", calls, ok, total, perSecond)
	if res, err := http.Get(base + "/metrics"); err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "gateway_upstream_") && !strings.Contains(l, "_bucket") {
				t.Log(l)
			}
		}
	}
	if perSecond > 20 {
		t.Errorf("Garant saw %d requests in one second, want at most its documented 20", perSecond)
	}
	if total > calls+calls/10 {
		t.Errorf("Garant saw %d requests for %d calls, want about one each", total, calls)
	}
	if ok < 20 {
		t.Errorf("%d calls succeeded, want at least the 20 a second Garant allows", ok)
	}
}
