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
		heap  Heap
		floor uint64
		want  int
	}{
		{heap: Heap{}, floor: 64 * mib, want: Base},                                // nothing measured yet
		{heap: Heap{Live: 8 * mib}, floor: 64 * mib, want: 700},                    // goal 8 + 8×7 = 64
		{heap: Heap{Live: 9 * mib}, floor: 64 * mib, want: 612},                    // rounded up: the goal is at least the floor
		{heap: Heap{Live: 8 * mib, Roots: 8 * mib}, floor: 64 * mib, want: 350},    // stacks count into Go's goal: 8 + 16×3.5
		{heap: Heap{Live: 23 * mib, Roots: 19 * mib}, floor: 64 * mib, want: Base}, // 23 + 42 at Base already reaches it
		{heap: Heap{Live: 32 * mib}, floor: 64 * mib, want: Base},                  // 2 × live already reaches the floor
		{heap: Heap{Live: 100 * mib}, floor: 64 * mib, want: Base},                 // above the floor: Go's default pace
		{heap: Heap{Live: 1}, floor: 64 * mib, want: maxPercent},                   // capped
		{heap: Heap{Live: 30 * mib}, floor: 64 * mib, want: 114},                   // just under
		{heap: Heap{Live: 16 * mib}, floor: 0, want: Base},                         // no floor
	}
	for _, tt := range tests {
		if got := Percent(tt.heap, tt.floor); got != tt.want {
			t.Errorf("Percent(%+v, %d) = %d, want %d", tt.heap, tt.floor, got, tt.want)
		}
	}
	if got, want := Guard(Heap{Live: 8 * mib, NonHeap: 20 * mib}, 64*mib), int64(84*mib); got != want {
		t.Errorf("Guard(20 MiB outside the heap, floor 64 MiB) = %d, want %d", got, want)
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

	waitFor := func(what string, ok func(p int, limit int64) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok(gcPercent(), memoryLimit()) {
			if time.Now().After(deadline) {
				t.Fatalf("GC percent = %d, memory limit %d after collections, want %s", gcPercent(), memoryLimit(), what)
			}
			// Another collection: the watched object of one that raced
			// with Run's start may have been allocated during its marking.
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
	}
	raised := func(p int, limit int64) bool { return p > 2*Base && limit > 64<<20 && limit < math.MaxInt64 }
	atBase := func(p int, limit int64) bool { return p == Base && limit == math.MaxInt64 }
	runtime.GC()
	waitFor("raised, with the guard, for a small live heap", raised)
	for range 3 {
		big := make([][]byte, 0, 48)
		for range 48 {
			big = append(big, make([]byte, 1<<20)) // 48 MiB live: 2 × live is past the floor
		}
		runtime.GC()
		waitFor("Base and no limit for a 48 MiB live heap", atBase)
		runtime.KeepAlive(big)
		big = nil
		runtime.GC()
		waitFor("raised again once the 48 MiB are garbage", raised)
	}
}

// TestOneTunerAtATime: a second tuner in the process only waits, so that
// stopping them in any order leaves the settings found before the first.
func TestOneTunerAtATime(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(250))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(3 << 30))
	start := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { New(1 << 40).Run(ctx); close(done) }()
		return func() { cancel(); <-done }
	}
	stopA := start()
	for gcPercent() == 250 {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	stopB := start()
	time.Sleep(10 * time.Millisecond)
	stopA()
	if p, l := gcPercent(), memoryLimit(); p != 250 || l != 3<<30 {
		t.Fatalf("after the first tuner stopped: percent %d, limit %d; want 250 and 3 GiB", p, l)
	}
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	stopB()
	if p, l := gcPercent(), memoryLimit(); p != 250 || l != 3<<30 {
		t.Fatalf("after both stopped: percent %d, limit %d; want 250 and 3 GiB", p, l)
	}
}
