package quota

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus series. Labels are bounded: owners are
// configured tenant ids and credential names, never tokens.
type metrics struct {
	limit, used, remaining       *prometheus.GaugeVec   // scope, owner, upstream, family, period
	reserved, refunded, rejected *prometheus.CounterVec // scope, owner, upstream, family
	unavailable                  *prometheus.CounterVec // upstream, family
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help},
			[]string{"scope", "owner", "upstream", "family", "period"})
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	owner := []string{"scope", "owner", "upstream", "family"}
	m := &metrics{
		limit:     gauge("gateway_quota_limit", "Configured quota limit, as of the last check."),
		used:      gauge("gateway_quota_used", "Quota units used in the current period, as of the last check."),
		remaining: gauge("gateway_quota_remaining", "Quota units left in the current period, as of the last check."),
		reserved:  counter("gateway_quota_reserved_total", "Quota units reserved for upstream calls.", owner...),
		refunded:  counter("gateway_quota_refunded_total", "Quota units refunded after failed upstream calls.", owner...),
		rejected:  counter("gateway_quota_rejected_total", "Requests rejected for lack of quota, by the deciding policy.", owner...),
		unavailable: counter("gateway_quota_unavailable_total",
			"Quota checks that could not reach Redis.", "upstream", "family"),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.limit, m.used, m.remaining, m.reserved, m.refunded, m.rejected, m.unavailable} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("quota: register metrics: %w", err)
		}
	}
	return m, nil
}

// observe sets the gauges of every checked rule.
func (m *metrics) observe(outs []outcome) {
	for i := range outs {
		r := &outs[i].c.rule
		m.set(r, outs[i].used)
	}
}

func (m *metrics) set(r *Rule, used int64) {
	lv := [...]string{string(r.Scope), r.Owner, r.Upstream, r.Family, string(r.Period)}
	m.limit.WithLabelValues(lv[:]...).Set(float64(r.Limit))
	m.used.WithLabelValues(lv[:]...).Set(float64(used))
	m.remaining.WithLabelValues(lv[:]...).Set(float64(max(r.Limit-used, 0)))
}

// units adds the units of checks to c, once per scope, owner and family.
func (m *metrics) units(c *prometheus.CounterVec, upstream string, checks []check) {
	for i := range checks {
		r := &checks[i].rule
		seen := false
		for j := range i {
			q := &checks[j].rule
			seen = seen || (q.Scope == r.Scope && q.Owner == r.Owner && q.Family == r.Family)
		}
		if !seen {
			c.WithLabelValues(string(r.Scope), r.Owner, upstream, r.Family).Add(float64(checks[i].units))
		}
	}
}

func (m *metrics) reject(rej *Rejection) {
	m.rejected.WithLabelValues(string(rej.Scope), rej.owner, rej.Upstream, rej.Family).Inc()
}
