package fairshare

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Limiter's series. Labels are bounded: configured tenant
// ids and credential names, the limits' names and upstream names.
type metrics struct {
	refused   *prometheus.CounterVec // limit, tenant
	fallbacks *prometheus.CounterVec // upstream
}

func newMetrics(l *Limiter, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_fair_refused_total",
			Help: "Requests refused by a fair-share cap or rate, by the limit's configuration key."}, []string{"limit", "tenant"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_fair_rate_fallbacks_total",
			Help: "Fair-share rate checks counted in process because Redis did not answer."}, []string{"upstream"}),
	}
	if reg == nil {
		return m, nil
	}
	h := &held{l: l,
		polls: prometheus.NewDesc("gateway_fair_long_polls",
			"Long polls open on this replica, by tenant.", []string{"tenant"}, nil),
		calls: prometheus.NewDesc("gateway_fair_upstream_calls",
			"Upstream calls in flight on this replica, by tenant and credential.", []string{"tenant", "credential"}, nil),
	}
	for _, c := range []prometheus.Collector{m.refused, m.fallbacks, h} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("fairshare: register metrics: %w", err)
		}
	}
	return m, nil
}

// held reports what is held at scrape time, read from the counters.
type held struct {
	l            *Limiter
	polls, calls *prometheus.Desc
}

func (h *held) Describe(ch chan<- *prometheus.Desc) { ch <- h.polls; ch <- h.calls }

func (h *held) Collect(ch chan<- prometheus.Metric) {
	h.l.tenantPolls.Range(func(k, v any) bool {
		ch <- prometheus.MustNewConstMetric(h.polls, prometheus.GaugeValue, float64(v.(*atomic.Int64).Load()), k.(string))
		return true
	})
	h.l.tenantCalls.Range(func(k, v any) bool {
		key := k.(callKey)
		ch <- prometheus.MustNewConstMetric(h.calls, prometheus.GaugeValue, float64(v.(*atomic.Int64).Load()), key.tenant, key.credential)
		return true
	})
}
