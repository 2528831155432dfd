package webhooks

import "github.com/prometheus/client_golang/prometheus"

type dispatchMetrics struct {
	deliveries *prometheus.CounterVec
	duration   prometheus.Histogram
	claimed    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *dispatchMetrics {
	m := &dispatchMetrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_webhook_deliveries_total",
			Help: "Webhook delivery attempts by result: delivered, failed (retried later) or dead (failed past the retry window).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gateway_webhook_attempt_duration_seconds", Help: "Time of one webhook delivery attempt.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		claimed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_webhook_claimed_total", Help: "Webhook stream entries taken over from a consumer idle past the claim time.",
		}),
	}
	for _, r := range []string{"delivered", "failed", "dead"} {
		m.deliveries.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.deliveries, m.duration, m.claimed)
	}
	return m
}

func (m *dispatchMetrics) result(status string) {
	switch status {
	case StatusDelivered:
		m.deliveries.WithLabelValues("delivered").Inc()
	case StatusRetrying:
		m.deliveries.WithLabelValues("failed").Inc()
	case StatusDead:
		m.deliveries.WithLabelValues("dead").Inc()
	}
}
