package webhooks

import (
	"context"
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A replica killed while its attempts are under way loses nothing: another
// replica claims its entries once idle and delivers them under the same
// webhook-ids; entries it had not read are delivered by the other.
func TestReplicaKilledMidDelivery(t *testing.T) {
	const total, blocked = 20, 5
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, r *http.Request) int {
		if n <= blocked {
			<-r.Context().Done() // held until the sender goes away
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	srv := newRedis(t)
	cfg := testConfig(t)
	cfg.Workers = blocked // replica A reads only what it holds
	rdbA := redis.NewClient(&redis.Options{Addr: srv.Addr})
	a, killA := start(t, rdbA, cfg)
	ids := map[string]bool{}
	for i := range total {
		id, err := a.d.Enqueue(context.Background(), Message{Tenant: "alpha", URL: rc.URL + "/cb", Type: "t", Data: i})
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	seen := map[string]int{}
	for range blocked {
		seen[rc.Next(t).Header.Get("webhook-id")]++
	}
	killA()
	_ = rdbA.Close()

	b, _ := start(t, srv.Client(t), cfg)
	delivered := map[string]bool{}
	for len(delivered) < total {
		r := rc.Next(t)
		id := r.Header.Get("webhook-id")
		if !ids[id] {
			t.Fatalf("received webhook-id %s, not one of those queued", id)
		}
		seen[id]++
		delivered[id] = true
	}
	for id := range ids {
		if dl := b.waitStatus(t, "alpha", id, StatusDelivered); dl.Attempts != 1 {
			t.Errorf("delivery %s: %d attempts recorded, want 1 (the killed replica's records nothing)", id, dl.Attempts)
		}
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	if dups != blocked {
		t.Errorf("duplicates = %d, want %d (the killed replica's cut attempts, each under its delivery's id)", dups, blocked)
	}
	if c := b.count("delivered"); c != total {
		t.Errorf("delivered count on the surviving replica = %v, want %d", c, total)
	}
}
