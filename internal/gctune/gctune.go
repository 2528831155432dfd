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
// memory limit (debug.SetMemoryLimit, see Guard) stands guard: a collection
// starts there at the latest, and the tuner, run right after each
// collection, then lowers the percent and lifts the limit.
package gctune

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Base is Go's default GC percent, kept whenever the floor is no higher than
// twice the live heap.
const Base = 100

// maxPercent bounds the percent for a nearly empty heap; the floor bounds the
// memory anyway.
const maxPercent = 100_000

// Heap is what the last collection left, read from runtime/metrics.
type Heap struct {
	Live    uint64 // the heap marked live
	Roots   uint64 // goroutine stacks and globals scanned: Go's heap goal counts them too
	NonHeap uint64 // the Go memory outside the heap: stacks, runtime metadata and the rest
}

// Percent returns the GC percent that puts the next heap goal at floor
// (Go's goal is live + (live + roots) × percent / 100), never below Base.
func Percent(h Heap, floor uint64) int {
	scan := h.Live + h.Roots
	if h.Live == 0 || floor <= h.Live+scan {
		return Base
	}
	p := math.Ceil(float64(floor-h.Live) / float64(scan) * 100)
	return int(min(p, maxPercent))
}

// Guard is the soft memory limit in force while the percent is raised: the
// floor for the heap on top of the memory outside it at the last
// collection. A burst then starts a collection there at the latest, instead
// of running up to the raised goal.
func Guard(h Heap, floor uint64) int64 { return int64(floor + h.NonHeap) }

// running makes one tuner at a time the process's: the GC settings are
// global, and two tuners restoring what they found would leave one's.
var running atomic.Bool

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
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}}
}

// heap reads the samples Tune has just read.
func (t *Tuner) heap() Heap {
	v := func(i int) uint64 { return t.samples[i].Value.Uint64() }
	heap := v(5) + v(6) + v(7) + v(8)
	h := Heap{Live: v(1), Roots: v(2) + v(3)}
	if total := v(4); total > heap {
		h.NonHeap = total - heap
	}
	return h
}

// Run tunes until ctx ends, then restores the GC percent and memory limit
// it found. While another tuner runs in the process, it only waits.
func (t *Tuner) Run(ctx context.Context) {
	if !running.CompareAndSwap(false, true) {
		<-ctx.Done()
		return
	}
	defer running.Store(false)
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
	h := t.heap()
	p := Percent(h, t.floor)
	if p > Base {
		// The guard first: the raised percent never runs without it.
		debug.SetMemoryLimit(min(Guard(h, t.floor), t.limitOrMax()))
		// Within 5 % of the percent in force, keep it: the live heap
		// wobbles from one collection to the next.
		if t.set > Base && math.Abs(float64(p-t.set)) <= 0.05*float64(t.set) {
			return t.set
		}
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
