package gctune

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		live, floor uint64
		want        int
	}{
		{live: 0, floor: 64 * mib, want: Base},         // nothing measured yet
		{live: 8 * mib, floor: 64 * mib, want: 700},    // goal 8 + 8×7 = 64
		{live: 9 * mib, floor: 64 * mib, want: 612},    // rounded up: the goal is at least the floor
		{live: 32 * mib, floor: 64 * mib, want: Base},  // 2 × live already reaches the floor
		{live: 100 * mib, floor: 64 * mib, want: Base}, // above the floor: Go's default pace
		{live: 1, floor: 64 * mib, want: maxPercent},   // capped
		{live: 30 * mib, floor: 64 * mib, want: 114},   // just under
		{live: 16 * mib, floor: 0, want: Base},         // no floor
	}
	for _, tt := range tests {
		if got := Percent(tt.live, tt.floor); got != tt.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", tt.live, tt.floor, got, tt.want)
		}
	}
}

// gcPercent reads the percent in force without changing it.
func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// memoryLimit reads the soft memory limit in force.
func memoryLimit() int64 {
	s := []metrics.Sample{{Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

func TestTuneFollowsLiveHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(Base))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1)) // -1 reads it
	live := make([][]byte, 0, 64)
	for range 64 {
		live = append(live, make([]byte, 64<<10)) // 4 MiB kept
	}
	runtime.GC()
	tu := New(1 << 40) // a floor far above: the cap
	if got := tu.Tune(); got != maxPercent || gcPercent() != maxPercent {
		t.Fatalf("Tune() with a 1 TiB floor = %d (in force %d), want %d", got, gcPercent(), maxPercent)
	}
	// No collection since: nothing is read again or changed.
	debug.SetGCPercent(123)
	if got := tu.Tune(); got != maxPercent || gcPercent() != 123 {
		t.Fatalf("Tune() without a new collection = %d (in force %d), want %d and 123 untouched", got, gcPercent(), maxPercent)
	}

	tu = New(1 << 20) // a floor below the live heap: Go's default
	runtime.GC()
	if got := tu.Tune(); got != Base || gcPercent() != Base {
		t.Fatalf("Tune() with a 1 MiB floor = %d (in force %d), want %d", got, gcPercent(), Base)
	}
	runtime.KeepAlive(live)
}

func TestRunRestores(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(250))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(3 << 30))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	tu := New(1 << 40)
	go func() { tu.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for gcPercent() == 250 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not tune the GC percent within 5s")
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if got := gcPercent(); got != 250 {
		t.Fatalf("GC percent after Run = %d, want the 250 it found", got)
	}
	if got := memoryLimit(); got != 3<<30 {
		t.Fatalf("memory limit after Run = %d, want the 3 GiB it found", got)
	}
}

// TestRunFollowsEachCollection: the percent is reset after every collection
// (no polling), up when the live heap shrinks and down when it grows.
func TestRunFollowsEachCollection(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(Base))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { New(64 << 20).Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor := func(what string, ok func(p int) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok(gcPercent()) {
			if time.Now().After(deadline) {
				t.Fatalf("GC percent = %d after collections, want %s", gcPercent(), what)
			}
			// Another collection: the watched object of one that raced
			// with Run's start may have been allocated during its marking.
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
	}
	runtime.GC()
	waitFor("above Base for a small live heap", func(p int) bool { return p > 2*Base })
	if got := memoryLimit(); got != Guard(64<<20) {
		t.Errorf("memory limit with a raised percent = %d, want the guard %d", got, Guard(64<<20))
	}
	for range 3 {
		big := make([][]byte, 0, 48)
		for range 48 {
			big = append(big, make([]byte, 1<<20)) // 48 MiB live: 2 × live is past the floor
		}
		runtime.GC()
		waitFor("Base for a 48 MiB live heap", func(p int) bool { return p == Base })
		if got := memoryLimit(); got != math.MaxInt64 {
			t.Errorf("memory limit at Base = %d, want none (%d)", got, int64(math.MaxInt64))
		}
		runtime.KeepAlive(big)
		big = nil
		runtime.GC()
		waitFor("above Base once the 48 MiB are garbage", func(p int) bool { return p > 2*Base })
	}
}
