package handlers_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
	"github.com/legalgate/legalgate/internal/upstreamguard"
	"github.com/legalgate/legalgate/internal/usage"
)

// guardedEnv is a Garant test gateway whose upstream guard is configured by
// gc, metering topic_info (300 a month) in an engine whose metrics are
// returned.
func guardedEnv(t *testing.T, gc upstreamguard.Config) (*garantEnv, *prometheus.Registry) {
	t.Helper()
	env := newGarantEnv(t, simConfig(), nil)
	qreg := prometheus.NewRegistry()
	q, err := quota.New(env.Deps.Redis, quota.Config{Rules: []quota.Rule{{Scope: quota.ScopeCredential, Upstream: "garant",
		Family: quota.FamilyTopicInfo, Period: quota.PeriodMonth, Limit: 300}}}, qreg)
	must(t, err)
	env.Deps.Quotas = &usage.Reports{Quota: q}
	env.Deps.Garant = garantGuarded(t, env.Deps.Redis, prometheus.NewRegistry(), env.simURL, gc)
	env.Deps.Garant.Quota = q
	env.Deps.Breakers = env.Deps.Garant.Guard.(*upstreamguard.Guard)
	return env, qreg
}

// quotaUnits sums a quota counter of the topic_info family.
func quotaUnits(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, err)
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "family" && l.GetValue() == quota.FamilyTopicInfo {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// TestGarantBreakerSpendsNoQuota: with Garant answering 503, the calls after
// the breaker opened answer a 503 problem with Retry-After at once, reach
// neither Garant nor the quota store (only the calls that reached Garant
// reserved, and got their units back), and /readyz counts the open breaker
// without naming the credential.
func TestGarantBreakerSpendsNoQuota(t *testing.T) {
	env, qreg := guardedEnv(t, upstreamguard.Config{Failures: 3, OpenFor: time.Minute})
	env.sim.Kit.SetFault(&simkit.Fault{Status: 503})
	topics := env.sim.Topics()
	var slowest time.Duration
	for i := range 10 {
		start := time.Now()
		status, h, body := env.send(t, "GET", fmt.Sprintf("/v1/garant/topics/%d", topics[i]), keyAlpha, nil)
		want := 503
		if i < 3 {
			want = 502
		} else {
			slowest = max(slowest, time.Since(start))
		}
		if status != want {
			t.Fatalf("call %d = %d, want %d; %s", i, status, want, body)
		}
		p := problemOf(t, status, h, body)
		if want == 503 && (h.Get("Retry-After") == "" || p.Upstream != "garant") {
			t.Errorf("call %d: problem %+v, Retry-After %q; want Garant's and a Retry-After", i, p, h.Get("Retry-After"))
		}
	}
	t.Logf("calls after the breaker opened: the slowest took %v", slowest)
	if n := env.sim.Kit.Calls.Total(); n != 3 {
		t.Errorf("Garant saw %d calls, want the 3 that opened the breaker", n)
	}
	reserved, refunded := quotaUnits(t, qreg, "gateway_quota_reserved_total"), quotaUnits(t, qreg, "gateway_quota_refunded_total")
	if reserved != 3 || refunded != 3 {
		t.Errorf("topic_info units reserved %v, refunded %v; want 3 and 3 (the refused calls reserve nothing)", reserved, refunded)
	}

	res := env.do(t, "GET", "/readyz", "", nil)
	var ready struct {
		Status    string           `json:"status"`
		Upstreams []map[string]any `json:"upstreams"`
		Checks    []struct{ Name, Status, Detail string }
	}
	must(t, json.NewDecoder(res.Body).Decode(&ready))
	if len(ready.Checks) != 2 || ready.Checks[1].Name != "garant" || ready.Checks[1].Status != "degraded" ||
		ready.Checks[1].Detail != "2 of 3 circuit breakers closed, 0 half-open, 1 open" {
		t.Errorf("GET /readyz checks = %+v, want redis, then garant degraded with 2 of 3 closed", ready.Checks)
	}
	want := []map[string]any{{"upstream": "garant", "closed": 2.0, "half_open": 0.0, "open": 1.0}}
	if res.StatusCode != 200 || ready.Status != "ok" || !cmp.Equal(ready.Upstreams, want) {
		t.Errorf("GET /readyz = %d %+v, want 200 ok with %v", res.StatusCode, ready, want)
	}
}

// TestGarantPacedSpendsNoQuota: calls whose turn under the credential's rate
// is past the longest wait answer a 429 problem of the rate family with
// Retry-After, and their quota comes back.
func TestGarantPacedSpendsNoQuota(t *testing.T) {
	env, qreg := guardedEnv(t, upstreamguard.Config{Failures: 1000, MaxWait: time.Millisecond})
	topics := env.sim.Topics()
	statuses := make([]int, 10)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			status, h, body := env.send(t, "GET", fmt.Sprintf("/v1/garant/topics/%d", topics[i]), keyAlpha, nil)
			statuses[i] = status
			if status == 429 {
				var p map[string]any
				must(t, json.Unmarshal(body, &p))
				if h.Get("Retry-After") == "" || p["family"] != "rate" || !strings.HasSuffix(p["type"].(string), "quota-exceeded") {
					t.Errorf("paced call %d: %s, Retry-After %q; want a rate quota-exceeded problem with Retry-After", i, body, h.Get("Retry-After"))
				}
			}
		})
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		switch s {
		case 200:
			ok++
		case 429:
		default:
			t.Errorf("statuses %v, want 200 or 429 each", statuses)
		}
	}
	kept := quotaUnits(t, qreg, "gateway_quota_reserved_total") - quotaUnits(t, qreg, "gateway_quota_refunded_total")
	if ok == 0 || ok == len(statuses) || int(kept) != ok || env.sim.Kit.Calls.Total() != ok {
		t.Errorf("%d of %d calls succeeded, %d reached Garant, %v units kept; want some paced away, one unit and one call per success",
			ok, len(statuses), env.sim.Kit.Calls.Total(), kept)
	}
}
