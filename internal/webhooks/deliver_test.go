package webhooks

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRetriesUntilDelivered(t *testing.T) {
	const fails = 3
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n <= fails {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	f, _ := start(t, newRedis(t).Client(t), testConfig(t))
	id, err := f.d.Enqueue(context.Background(), Message{Tenant: "alpha", URL: rc.URL + "/cb", Type: "test.event", Data: map[string]int{"n": 1}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range fails + 1 {
		r := rc.Next(t)
		if got := r.Header.Get("webhook-id"); got != id {
			t.Errorf("attempt %d: webhook-id = %s, want %s", i+1, got, id)
		}
		if err := verify(alphaSecret, r.Header, r.Body, time.Now(), time.Minute); err != nil {
			t.Errorf("attempt %d: verify = %v", i+1, err)
		}
	}
	dl := f.waitStatus(t, "alpha", id, StatusDelivered)
	if dl.Attempts != fails+1 || dl.LastStatusCode != 200 || !dl.NextAttemptAt.IsZero() {
		t.Errorf("delivery = %+v, want %d attempts, last 200, no next attempt", dl, fails+1)
	}
	if got, want := [2]float64{f.count("failed"), f.count("delivered")}, [2]float64{fails, 1}; got != want {
		t.Errorf("failed, delivered = %v, want %v", got, want)
	}
}

// A delivery failing past RetryFor is dead, shown in the log and counted;
// a redelivery sends it again under the same webhook-id.
func TestDeadAndRedeliver(t *testing.T) {
	up := make(chan struct{})
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) int {
		select {
		case <-up:
			return http.StatusOK
		default:
			return http.StatusServiceUnavailable
		}
	})
	cfg := testConfig(t)
	cfg.RetryFor = 100 * time.Millisecond
	f, _ := start(t, newRedis(t).Client(t), cfg)
	id, err := f.d.Enqueue(context.Background(), Message{Tenant: "alpha", URL: rc.URL + "/cb", Type: "test.event", Data: 1})
	if err != nil {
		t.Fatal(err)
	}
	dl := f.waitStatus(t, "alpha", id, StatusDead)
	if dl.Attempts < 1 || dl.LastStatusCode != 503 || dl.LastError == "" || f.count("dead") != 1 {
		t.Errorf("dead delivery = %+v, dead count %v; want attempts, the last 503 with a reason, counted once", dl, f.count("dead"))
	}
	close(up)
	if _, err := f.d.Redeliver(context.Background(), "beta", id); err == nil {
		t.Error("Redeliver(another tenant's delivery) = nil error, want NotFound")
	}
	if _, err := f.d.Redeliver(context.Background(), "alpha", id); err != nil {
		t.Fatal(err)
	}
	f.waitStatus(t, "alpha", id, StatusDelivered)
	var last received
	for len(rc.Got) > 0 {
		last = <-rc.Got
	}
	if got := last.Header.Get("webhook-id"); got != id {
		t.Errorf("redelivered webhook-id = %s, want %s", got, id)
	}
}

// The log lists a tenant's own deliveries only, newest first; an event
// queued twice under one Key is one delivery.
func TestLogPerTenant(t *testing.T) {
	rc := newReceiver(t, nil)
	f, _ := start(t, newRedis(t).Client(t), testConfig(t))
	ctx := context.Background()
	a1, _ := f.d.Enqueue(ctx, Message{Tenant: "alpha", URL: rc.URL + "/a", Type: "t", Data: 1, Key: "k1"})
	again, _ := f.d.Enqueue(ctx, Message{Tenant: "alpha", URL: rc.URL + "/a", Type: "t", Data: 1, Key: "k1"})
	time.Sleep(2 * time.Millisecond) // distinct creation times order the log
	a2, _ := f.d.Enqueue(ctx, Message{Tenant: "alpha", URL: rc.URL + "/a", Type: "t", Data: 2})
	b1, err := f.d.Enqueue(ctx, Message{Tenant: "beta", URL: rc.URL + "/hooks/b", Type: "t", Data: 3})
	if err != nil {
		t.Fatal(err)
	}
	if again != a1 {
		t.Errorf("Enqueue(same key) = %s, want %s", again, a1)
	}
	list, err := f.d.List(ctx, "alpha", 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range list {
		ids = append(ids, d.ID)
	}
	if diff := cmp.Diff([]string{a2, a1}, ids); diff != "" {
		t.Errorf("List(alpha) ids (-want +got):\n%s", diff)
	}
	if _, err := f.d.Get(ctx, "alpha", b1); err == nil {
		t.Error("Get(alpha, beta's delivery) = nil error, want NotFound")
	}
}
