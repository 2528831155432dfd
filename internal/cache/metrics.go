package cache

import "github.com/prometheus/client_golang/prometheus"

type storeMetrics struct {
	requests  *prometheus.CounterVec
	coalesced *prometheus.CounterVec
	localHits *prometheus.CounterVec
	errors    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*storeMetrics, error) {
	m := &storeMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_cache_requests_total",
			Help: "Cache lookups by upstream, operation id and result (hit, miss, stale, bypass, error).",
		}, []string{"upstream", "operation", "result"}),
		coalesced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_cache_coalesced_total",
			Help: "Requests answered by another request's upstream call (in this process or another), by upstream and operation id.",
		}, []string{"upstream", "operation"}),
		localHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_cache_local_hits_total",
			Help: "Cache hits answered from the in-process L1 without a Redis call (also counted as hits in gateway_cache_requests_total), by upstream and operation id.",
		}, []string{"upstream", "operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_cache_redis_errors_total",
			Help: "Redis failures the cache ignored (it fails open), by command.",
		}, []string{"command"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.coalesced, m.localHits, m.errors} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// results are the values of gateway_cache_requests_total's result label.
var results = []string{"hit", "miss", "stale", "bypass", "error"}

// AddOperations makes the cache series of each operation exist at 0 (every
// result, coalesced and L1 hits), so that rate() and increase() see their
// first events.
func (s *Store) AddOperations(operations ...string) {
	for _, op := range operations {
		for _, r := range results {
			s.m.requests.WithLabelValues(s.cfg.Upstream, op, r)
		}
		s.m.coalesced.WithLabelValues(s.cfg.Upstream, op)
		s.m.localHits.WithLabelValues(s.cfg.Upstream, op)
	}
}

func (m *storeMetrics) result(upstream, operation, result string) {
	m.requests.WithLabelValues(upstream, operation, result).Inc()
}
