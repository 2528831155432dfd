package fssptasks_test

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/legalgate/legalgate/internal/fssptasks"
)

// TestMetricsLint runs a task on an engine of its own, so that every metric
// has a series, and lints what the registry gathers.
func TestMetricsLint(t *testing.T) {
	v := newEnv(t, simConfig(), nil)
	v.stop() // the task must be polled by the engine under test
	reg := prometheus.NewRegistry()
	e, stop := v.run(fssptasks.New(v.rdb, v.client, nil, fastConfig(v.clock), reg, quiet()))
	task := submit(t, e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП")))
	if got := waitFinal(t, e, tenantA, task.ID); got.Status != fssptasks.Succeeded {
		t.Fatalf("Wait(%s) = %s, want succeeded", task.ID, got.Status)
	}
	stop() // the poller records the duration after the waiters wake

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	want := []string{"gateway_fssp_task_duration_seconds", "gateway_fssp_tasks", "gateway_fssp_tasks_finished_total",
		"gateway_fssp_upstream_polls_total", "gateway_fssp_waiters", "gateway_fssp_wakeup_seconds"}
	if !slices.Equal(names, want) {
		t.Errorf("Gather() names = %v, want %v", names, want)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatalf("Lint() = %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}

	// The values after one succeeded task, its poller and waiter gone.
	values := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				values[name] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				values[name] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				values[name+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for name, want := range map[string]float64{
		"gateway_fssp_tasks_finished_total{status=succeeded}":        1,
		"gateway_fssp_task_duration_seconds{status=succeeded}_count": 1,
		"gateway_fssp_upstream_polls_total{endpoint=result}":         1,
		"gateway_fssp_tasks{status=queued}":                          0,
		"gateway_fssp_tasks{status=running}":                         0,
		"gateway_fssp_waiters":                                       0,
	} {
		if got, ok := values[name]; !ok || got != want {
			t.Errorf("%s = %v (present %t), want %v", name, got, ok, want)
		}
	}
	// The simulator queues, runs, then answers done: at least two polls.
	if got := values["gateway_fssp_upstream_polls_total{endpoint=status}"]; got < 2 || got != float64(v.sim.Kit.Calls.Get("GET /status")) {
		t.Errorf("gateway_fssp_upstream_polls_total{endpoint=status} = %v, want the simulator's %d (at least 2)", got, v.sim.Kit.Calls.Get("GET /status"))
	}
	// The waiter was woken (1) unless the task finished before it waited (0).
	if got, ok := values["gateway_fssp_wakeup_seconds_count"]; !ok || got > 1 {
		t.Errorf("gateway_fssp_wakeup_seconds_count = %v (present %t), want 0 or 1", got, ok)
	}
	if n := len(values); n != 8 {
		t.Errorf("series = %v, want the 8 above and no others (bounded labels)", values)
	}
}
