package webhooks

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/webhooks/webhookstest"
)

var verify = webhookstest.Verify

type received = webhookstest.Request

func newReceiver(t *testing.T, status func(n int, w http.ResponseWriter, r *http.Request) int) *webhookstest.Receiver {
	return webhookstest.NewReceiver(t, status)
}

const (
	alphaSecret = "whsec_ZGVtby1hbHBoYS13ZWJob29rLXNlY3JldA=="
	betaSecret  = "whsec_ZGVtby1iZXRhLXdlYmhvb2stc2VjcmV0"
	oldSecret   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

func mustKey(t *testing.T, s string) Key {
	t.Helper()
	k, err := ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRule(t *testing.T, s string) Rule {
	t.Helper()
	r, err := ParseRule(s)
	if err != nil {
		t.Fatalf("ParseRule(%q): %v", s, err)
	}
	return r
}

// testConfig has tenants alpha (two keys, loopback allowed) and beta
// (loopback allowed by its rules but not by its address policy), short
// back-offs and claims.
func testConfig(t *testing.T) Config {
	return Config{
		Tenants: map[string]Tenant{
			"alpha": {Keys: []Key{mustKey(t, alphaSecret), mustKey(t, oldSecret)}, Allow: []Rule{mustRule(t, "http://127.0.0.1:*/")}, AllowPrivate: true},
			"beta":  {Keys: []Key{mustKey(t, betaSecret)}, Allow: []Rule{mustRule(t, "http://127.0.0.1:*/hooks/")}},
		},
		BackoffBase: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond,
		Poll: 10 * time.Millisecond, ClaimIdle: 500 * time.Millisecond, ClaimEvery: 50 * time.Millisecond,
		Timeout: 5 * time.Second, RetryFor: time.Hour,
	}
}

type fixture struct {
	rdb *redis.Client
	reg *prometheus.Registry
	d   *Dispatcher
}

// start runs a dispatcher on rdb until the test ends; stop ends it early.
func start(t *testing.T, rdb *redis.Client, cfg Config) (f *fixture, stop func()) {
	t.Helper()
	reg := prometheus.NewRegistry()
	d := New(rdb, cfg, reg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return &fixture{rdb: rdb, reg: reg, d: d}, stop
}

func newRedis(t *testing.T) *redistest.Server { return redistest.Start(t) }

func (f *fixture) count(result string) float64 {
	return testutil.ToFloat64(f.d.m.deliveries.WithLabelValues(result))
}

// waitStatus polls the delivery log until id has status (or fails after 30s).
func (f *fixture) waitStatus(t *testing.T, tenantID, id, status string) *Delivery {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		dl, err := f.d.Get(context.Background(), tenantID, id)
		if err == nil && dl.Status == status {
			return dl
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s: status %+v (err %v), want %s", id, dl, err, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
