// Package gctune gives the Go garbage collector a heap floor: while the live
// heap is small, the GC percent is raised so that the next collection starts
// only when the heap reaches the floor, instead of every few megabytes.
//
// Why: a gateway's live heap is a few megabytes while every request allocates
// some kilobytes, so at Go's default (GOGC=100) it collects several times a
// second, and each collection (two short stop-the-world pauses, a few
// milliseconds of marking that takes a CPU) lands on the requests in flight;
// at one connection that is the p99 (BENCHMARKS.md). With a floor of F the
// heap goal is max(F, 2 × live): a large live heap (many parked FSSP long
// polls, a full L1 cache) is collected at Go's default pace. This is the
// minimum-heap half of the GC tuners described by Uber ("How we saved 70K
// cores", 2021) and ByteDance's gopkg/util/gctuner, read from runtime/metrics
// (no stop-the-world runtime.ReadMemStats).
//
// A raised percent is computed from the live heap of the last collection but
// applied by the runtime to the next one's: after a burst (10,000 FSSP long
// polls connecting at once) it would let the heap grow to many times the
// floor before the tuner runs again. So while the percent is raised, a soft
// memory limit of the floor itself (debug.SetMemoryLimit) stands guard: a
// collection starts there at the latest, and the tuner, run right after
// each collection, then lowers the percent and lifts the limit.
package gctune

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Base is Go's default GC percent, kept whenever the floor is no higher than
// twice the live heap.
const Base = 100

// maxPercent bounds the percent for a nearly empty heap; the floor bounds the
// memory anyway.
const maxPercent = 100_000

// Percent returns the GC percent that puts the next heap goal at floor for a
// live heap of live bytes, never below Base.
func Percent(live, floor uint64) int {
	if live == 0 || floor <= 2*live {
		return Base
	}
	p := math.Ceil(float64(floor-live) / float64(live) * 100)
	return int(min(p, maxPercent))
}

// Guard is the soft memory limit in force while the percent is raised: the
// floor itself, so that the process's Go memory (heap, stacks, runtime)
// stays within it until the live heap is half of it.
func Guard(floor uint64) int64 { return int64(floor) }

// Tuner keeps the GC percent at Percent(live heap, floor), set right after
// every collection: a cleanup on a throwaway object runs once the collector
// has found it unreachable, sets the percent for the live heap that
// collection marked, and arms the next one.
type Tuner struct {
	floor uint64

	mu        sync.Mutex
	samples   []metrics.Sample
	cycles    uint64
	set       int   // the percent in force, 0 before the first Tune
	limit     int64 // the memory limit found at start, in force while the percent is Base
	stopped   bool  // Run has returned: no more tuning, no more re-arming
	prevGCPct int
}

// sentinel is the throwaway object watched for each collection; it holds a
// pointer so that it is never packed into a shared tiny block.
type sentinel struct{ _ *sentinel }

// New returns a tuner for a floor of floor bytes.
func New(floor uint64) *Tuner {
	return &Tuner{floor: floor, samples: []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/heap/live:bytes"},
	}}
}

// Run tunes until ctx ends, then restores the GC percent and memory limit
// it found.
func (t *Tuner) Run(ctx context.Context) {
	t.mu.Lock()
	t.prevGCPct = debug.SetGCPercent(Base)
	t.limit = debug.SetMemoryLimit(-1) // -1 reads it
	t.mu.Unlock()
	t.Tune()
	t.arm()
	<-ctx.Done()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	debug.SetGCPercent(t.prevGCPct)
	debug.SetMemoryLimit(t.limit)
}

func (t *Tuner) arm() {
	runtime.AddCleanup(new(sentinel), afterGC, t)
}

// afterGC runs on the runtime's cleanup goroutine after a collection.
func afterGC(t *Tuner) {
	if t.Tune() != 0 {
		t.arm()
	}
}

// Tune sets the percent (and the guard) for the live heap of the last
// collection, if a collection finished since the last call; it reports the
// percent in force, 0 once Run has returned.
func (t *Tuner) Tune() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return 0
	}
	metrics.Read(t.samples)
	cycles := t.samples[0].Value.Uint64()
	if cycles == t.cycles && t.set != 0 {
		return t.set
	}
	t.cycles = cycles
	p := Percent(t.samples[1].Value.Uint64(), t.floor)
	// Within 5 % of the percent in force, keep it: the live heap wobbles
	// from one collection to the next.
	if t.set != 0 && p != Base && t.set != Base && math.Abs(float64(p-t.set)) <= 0.05*float64(t.set) {
		return t.set
	}
	if p > Base {
		// The guard first: the raised percent never runs without it.
		debug.SetMemoryLimit(min(Guard(t.floor), t.limitOrMax()))
		debug.SetGCPercent(p)
	} else {
		debug.SetGCPercent(p)
		debug.SetMemoryLimit(t.limitOrMax())
	}
	t.set = p
	return p
}

// limitOrMax is the memory limit found at start (no limit before Run).
func (t *Tuner) limitOrMax() int64 {
	if t.limit == 0 {
		return math.MaxInt64
	}
	return t.limit
}
