package upstreamguard

import (
	"context"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/legalgate/legalgate/internal/redistest"
)

// TestLateWakeUpTakesANewTurn: a request that wakes up well after its turn
// (here: the first sleep overshoots by 300 ms, as a stalled process would)
// asks for a new turn instead of going at once; one that wakes on time goes.
func TestLateWakeUpTakesANewTurn(t *testing.T) {
	rs := redistest.Start(t)
	g, err := New(rs.Client(t), Config{Credentials: []Credential{{Upstream: "garant", Name: "g", Rate: 20}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sleeps []time.Duration
	g.sleep = func(ctx context.Context, d time.Duration) bool {
		sleeps = append(sleeps, d)
		if len(sleeps) == 1 {
			d += 300 * time.Millisecond
		}
		return sleep(ctx, d)
	}
	c := (*g.creds.Load())["g"]
	ctx := redistest.Ctx(t, 10*time.Second)
	if err := g.wait(ctx, c); err != nil {
		t.Fatalf("wait = %v", err)
	}
	var late dto.Metric
	if err := g.m.late.WithLabelValues("garant").Write(&late); err != nil {
		t.Fatal(err)
	}
	if len(sleeps) != 2 || late.GetCounter().GetValue() != 1 {
		t.Errorf("a late wake-up: %d turns taken (late counter %v), want 2 and 1", len(sleeps), late.GetCounter().GetValue())
	}
	if err := g.wait(ctx, c); err != nil || len(sleeps) != 3 {
		t.Errorf("a timely wake-up = %v after %d turns, want nil after one more", err, len(sleeps)-2)
	}
}
