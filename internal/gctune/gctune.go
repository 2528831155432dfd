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
// polls, a full L1 cache) is collected at Go's default pace and uses no more
// memory than without the floor. This is the minimum-heap half of the GC
// tuners described by Uber ("How we saved 70K cores", 2021) and ByteDance's
// gopkg/util/gctuner, read from runtime/metrics (no stop-the-world
// runtime.ReadMemStats).
package gctune

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
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

// Tuner keeps the GC percent at Percent(live heap, floor) after every
// collection.
type Tuner struct {
	floor   uint64
	every   time.Duration
	samples []metrics.Sample
	cycles  uint64
	set     int
}

// New returns a tuner for a floor of floor bytes that looks for a finished
// collection every interval.
func New(floor uint64, interval time.Duration) *Tuner {
	return &Tuner{floor: floor, every: interval, samples: []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/heap/live:bytes"},
	}}
}

// Run tunes until ctx ends, then restores the GC percent it found.
func (t *Tuner) Run(ctx context.Context) {
	prev := debug.SetGCPercent(Base)
	t.set = Base
	defer debug.SetGCPercent(prev)
	t.Tune()
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.Tune()
		}
	}
}

// Tune sets the percent for the live heap of the last collection, if a
// collection finished since the last call; it reports the percent in force.
func (t *Tuner) Tune() int {
	metrics.Read(t.samples)
	cycles := t.samples[0].Value.Uint64()
	if cycles == t.cycles && t.set != 0 {
		return t.set
	}
	t.cycles = cycles
	p := Percent(t.samples[1].Value.Uint64(), t.floor)
	// Within 5 % of the percent in force, keep it: the live heap wobbles
	// from one collection to the next.
	if t.set == 0 || math.Abs(float64(p-t.set)) > 0.05*float64(t.set) {
		debug.SetGCPercent(p)
		t.set = p
	}
	return t.set
}
