//go:build !race

package fssptasks_test

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
)

// TestTenThousandWaiters has 10,000 concurrent waiters on one task of one
// engine: every one returns the finished task, and FSSP is asked for the
// result once. It is excluded from -race builds (the race detector caps
// live goroutines at 8128). Its memory and wake-up delay are measured by
// BenchmarkTenThousandWaiters:
//
//	go test -run '^$' -bench TenThousand -benchtime 1x ./internal/fssptasks/
func TestTenThousandWaiters(t *testing.T) { measureWaiters(t, false) }

// TestTenThousandNotifiers is TestTenThousandWaiters with Notify, the way
// the server parks HTTP/1.x long polls: no goroutine per waiter.
func TestTenThousandNotifiers(t *testing.T) { measureWaiters(t, true) }

// BenchmarkTenThousandWaiters reports, per round of 10,000 waiters, heap and
// RSS growth (target: at most 150 MiB) and the p99 delay from FSSP
// answering /result to a waiter returning.
func BenchmarkTenThousandWaiters(b *testing.B) {
	for range b.N {
		measureWaiters(b, false)
	}
}

// BenchmarkTenThousandNotifiers is BenchmarkTenThousandWaiters with Notify.
func BenchmarkTenThousandNotifiers(b *testing.B) {
	for range b.N {
		measureWaiters(b, true)
	}
}

func measureWaiters(t testing.TB, notify bool) {
	t.Helper()
	const n = 10_000
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor, cfg.RunFor = 0, 0
	st := &stalling{}
	st.running.Store(1 << 30) // running until released below
	v := newEnv(t, cfg, st.wrap)
	task := submit(t, v.e, submission(tenantA, fssptasks.KindPhysical, physical(77, fsspsim.ManySurname, "ИВАН")))

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	rssBefore, g0 := rss(), runtime.NumGoroutine()

	returned := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		if notify {
			wg.Add(1)
			v.e.Notify(context.Background(), tenantA, task.ID, 30*time.Second, func(got *fssptasks.Task, _ error) func() {
				returned[i] = time.Now().UnixNano()
				if got == nil || got.Status != fssptasks.Succeeded {
					t.Errorf("notifier %d: %v", i, got)
				}
				return wg.Done // after the batch: returned[i] is already set
			})
			continue
		}
		wg.Go(func() {
			got, err := v.e.Wait(context.Background(), tenantA, task.ID, 30*time.Second)
			returned[i] = time.Now().UnixNano()
			if err != nil || got.Status != fssptasks.Succeeded {
				t.Errorf("waiter %d: %v %v", i, got, err)
			}
		})
	}
	for deadline := time.Now().Add(20 * time.Second); fssptasks.WaitersOf(v.e) < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters registered after 20s, want %d", fssptasks.WaitersOf(v.e), n)
		}
	}
	// Their first reads of Redis done, the poller gets its turn again.
	for deadline := time.Now().Add(20 * time.Second); st.status.Load() < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no status polls within 20s")
		}
	}
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	rssPeak := rss()
	runtime.GC() // steady state: shrinks the stacks grown by the first Redis read
	var steady runtime.MemStats
	runtime.ReadMemStats(&steady)
	rssDuring, g1 := rss(), runtime.NumGoroutine()

	t.Logf("status polls while waiting: %d", st.status.Load())
	// Let the upstream finish: the next /status answers done.
	st.release()
	wg.Wait()
	done := st.lastResult.Load()
	delays := make([]time.Duration, n)
	for i, r := range returned {
		delays[i] = time.Duration(r - done)
	}
	slices.Sort(delays)
	p50, p99, last := delays[n/2], delays[n*99/100], delays[n-1]
	mib := func(after, before uint64) float64 { return (float64(after) - float64(before)) / (1 << 20) }
	heap := mib(during.HeapAlloc, before.HeapAlloc)
	stacks := mib(steady.StackInuse, before.StackInuse)
	rssGrowth := mib(max(rssDuring, rssPeak), rssBefore)
	kind := "waiters"
	if notify {
		kind = "notifiers"
	}
	t.Logf("%d %s: heap +%.1f MiB, stacks +%.1f MiB after GC, RSS +%.1f MiB (peak), goroutines %d -> %d; /result answered -> waiter returned: p50 %v, p99 %v, max %v; upstream calls: %d status, %d result",
		n, kind, heap, stacks, rssGrowth, g0, g1, p50, p99, last, st.status.Load(), st.result.Load())
	if b, ok := t.(*testing.B); ok {
		b.ReportMetric(heap, "heap-MiB")
		b.ReportMetric(rssGrowth, "rss-MiB")
		b.ReportMetric(float64(p99.Microseconds()), "p99-wake-µs")
	}
	if st.result.Load() != 1 {
		t.Errorf("result calls = %d, want 1", st.result.Load())
	}
}

// rss is the process's resident set size in bytes (Linux), or 0.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
