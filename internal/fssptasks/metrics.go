package fssptasks

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// engineMetrics are the engine's own metrics; upstream calls are also
// counted by the shared metrics.Upstream transport of the client.
type engineMetrics struct {
	tasks    *prometheus.GaugeVec
	finishes *prometheus.CounterVec
	waiters  prometheus.Gauge
	polls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	wakeup   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *engineMetrics {
	m := &engineMetrics{
		tasks: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gateway_fssp_tasks",
			Help: "Unfinished FSSP tasks whose poller runs on this replica, by status (queued, running). " +
				"Each task is polled by one replica, so the sum over replicas counts the unfinished tasks being polled; " +
				"a task whose poller died counts nowhere until another replica takes it over.",
		}, []string{"status"}),
		finishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_fssp_tasks_finished_total",
			Help: "FSSP tasks that reached a final state on this replica, by final status (succeeded, partial, failed).",
		}, []string{"status"}),
		waiters: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gateway_fssp_waiters",
			Help: "Requests on this replica waiting for an FSSP task to finish.",
		}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_fssp_upstream_polls_total",
			Help: "Polls of FSSP for task state, by endpoint (status, result).",
		}, []string{"endpoint"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_fssp_task_duration_seconds",
			Help:    "Time from accepting an FSSP task to its final state, by final status.",
			Buckets: []float64{1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900},
		}, []string{"status"}),
		wakeup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gateway_fssp_wakeup_seconds",
			Help: "Time from an FSSP task's final state being saved to a request waiting for it getting it: " +
				"for a parked HTTP/1.x long poll, until its answer is written to the socket.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.tasks, m.finishes, m.waiters, m.polls, m.duration, m.wakeup)
	}
	return m
}

// finished records a task that reached its final state.
func (m *engineMetrics) finished(r *record) {
	if r.Task.FinishedAt == nil {
		return
	}
	m.finishes.WithLabelValues(string(r.Task.Status)).Inc()
	m.duration.WithLabelValues(string(r.Task.Status)).Observe(r.Task.FinishedAt.Sub(r.Task.CreatedAt).Seconds())
}

// wokeUp records a waiter handed task t, final, at now.
func (m *engineMetrics) wokeUp(t *Task, now time.Time) {
	if t != nil && t.FinishedAt != nil {
		m.wakeup.Observe(max(0, now.Sub(*t.FinishedAt).Seconds()))
	}
}
