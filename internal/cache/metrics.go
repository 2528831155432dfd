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

func (m *storeMetrics) result(upstream, operation, result string) {
	m.requests.WithLabelValues(upstream, operation, result).Inc()
}
