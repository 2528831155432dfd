package fssptasks_test

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

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
	want := []string{"gateway_fssp_task_duration_seconds", "gateway_fssp_tasks", "gateway_fssp_upstream_polls_total", "gateway_fssp_waiters"}
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
}
