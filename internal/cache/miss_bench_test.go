package cache_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/redistest"
)

// BenchmarkMissSlowOrigin is a miss as a caller sees it when the origin is a
// realistic internet round trip away (20 ms): the fill, then the store,
// reported as the mean and p99 time of one miss (8 callers per CPU). It is
// the evidence for writing the store before the answer (BENCHMARKS.md).
func BenchmarkMissSlowOrigin(b *testing.B) {
	rs := redistest.Start(b)
	s, err := cache.New(rs.Client(b), cache.Config{Timeout: time.Second}, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"topic":12345,"name":"` + string(make([]byte, 512)) + `"}`)
	fill := func(context.Context) (*cache.Entry, error) {
		time.Sleep(20 * time.Millisecond)
		return &cache.Entry{Body: body, ContentType: "application/json"}, nil
	}
	scope := "cred-" + strconv.FormatInt(time.Now().UnixNano(), 36) // every key a miss
	var (
		n   atomic.Int64
		mu  sync.Mutex
		lat []time.Duration
	)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k, err := cache.NewKey(scope, "garantGetTopic", int(n.Add(1)), nil)
			if err != nil {
				b.Error(err)
				return
			}
			start := time.Now()
			if _, err := s.Fetch(context.Background(), k, cache.Policy{TTL: time.Hour}, fill, nil); err != nil {
				b.Error(err)
				return
			}
			d := time.Since(start)
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}
	})
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(len(lat))/1000, "ms/miss")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms/miss")
}
