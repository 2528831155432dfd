package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/redistest"
)

// verify is a reference implementation of the specification's verification
// of a symmetric signature, written from the spec's text: sign
// "id.timestamp.body" with the base64-decoded secret after "whsec_", and
// compare, in constant time, with each "v1," signature of the
// space-separated header.
func verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing header")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("timestamp out of tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Split(sigs, " ") {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

// received is one request a receiver saw.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint answering with status(n) for its n-th
// request (from 1) and reporting every request on got.
type receiver struct {
	*httptest.Server
	got    chan received
	mu     sync.Mutex
	n      int
	status func(n int, w http.ResponseWriter, r *http.Request) int
}

func newReceiver(t *testing.T, status func(n int, w http.ResponseWriter, r *http.Request) int) *receiver {
	rc := &receiver{got: make(chan received, 1000), status: status}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.n++
		n := rc.n
		rc.mu.Unlock()
		rc.got <- received{header: r.Header.Clone(), body: body}
		code := http.StatusNoContent
		if rc.status != nil {
			code = rc.status(n, w, r)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-rc.got:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("receiver: no request within 30s")
		return received{}
	}
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
