package upstreamguard

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the guard's Prometheus metrics; every label is an upstream,
// a configured credential name or a fixed word.
type metrics struct {
	g          *Guard
	refusals   *prometheus.CounterVec
	paceWait   *prometheus.HistogramVec
	paceRefuse *prometheus.CounterVec
	paceErrors *prometheus.CounterVec
	late       *prometheus.CounterVec
	retries    *prometheus.CounterVec
	state      *prometheus.Desc
}

func newMetrics(g *Guard, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		g: g,
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_upstream_breaker_refusals_total",
			Help: "Calls not sent because the credential's circuit breaker was open (or busy probing), by upstream and credential.",
		}, []string{"upstream", "credential"}),
		paceWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_upstream_pacing_wait_seconds",
			Help:    "How long requests waited in line for their turn under the credential's rate, by upstream.",
			Buckets: []float64{0, .01, .05, .1, .25, .5, 1, 2, 5, 10},
		}, []string{"upstream"}),
		paceRefuse: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_upstream_pacing_refusals_total",
			Help: "Calls not sent because their turn under the credential's rate was more than the longest wait away, by upstream and credential.",
		}, []string{"upstream", "credential"}),
		paceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_upstream_pacing_errors_total",
			Help: "Requests paced by this replica alone because Redis did not answer the pacing call, by upstream.",
		}, []string{"upstream"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_upstream_pacing_late_total",
			Help: "Requests that woke up well after their turn (the process stalled) and took a new one, by upstream.",
		}, []string{"upstream"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_upstream_retries_total",
			Help: "Retries of upstream 429 answers, by upstream, credential and outcome (sent, or refused: no budget or no turn in time).",
		}, []string{"upstream", "credential", "outcome"}),
		state: prometheus.NewDesc("gateway_upstream_breaker_state",
			"The credential's circuit breaker: 0 closed, 1 half-open (probing), 2 open (calls fail at once).",
			[]string{"upstream", "credential"}, nil),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.refusals, m.paceWait, m.paceRefuse, m.paceErrors, m.late, m.retries, m} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// add makes the counter series of credential c exist at 0, so that rate()
// and increase() see its first event; retries of the upstreams whose 429s
// are retried.
func (m *metrics) add(c Credential, retried bool) {
	m.refusals.WithLabelValues(c.Upstream, c.Name)
	m.paceRefuse.WithLabelValues(c.Upstream, c.Name)
	m.paceErrors.WithLabelValues(c.Upstream)
	m.late.WithLabelValues(c.Upstream)
	if retried {
		m.retries.WithLabelValues(c.Upstream, c.Name, "sent")
		m.retries.WithLabelValues(c.Upstream, c.Name, "refused")
	}
}

func (m *metrics) refused(c *guarded) { m.refusals.WithLabelValues(c.Upstream, c.Name).Inc() }
func (m *metrics) paced(c *guarded)   { m.paceRefuse.WithLabelValues(c.Upstream, c.Name).Inc() }
func (m *metrics) retried(c *guarded, outcome string) {
	m.retries.WithLabelValues(c.Upstream, c.Name, outcome).Inc()
}
func (m *metrics) waited(c *guarded, d time.Duration) {
	m.paceWait.WithLabelValues(c.Upstream).Observe(d.Seconds())
}

// Describe and Collect export the breakers' states, read when gathered.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.state }

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range *m.g.creds.Load() {
		ch <- prometheus.MustNewConstMetric(m.state, prometheus.GaugeValue, float64(c.cb.State()), c.Upstream, c.Name)
	}
}
