package upstreamguard

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// series lists the counter series of reg as "name label=value ...", labels
// sorted.
func series(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.GetCounter() == nil {
				continue
			}
			s := mf.GetName()
			for _, l := range m.GetLabel() {
				s += " " + l.GetName() + "=" + l.GetValue()
			}
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// TestCountersExistAtZero: every counter series a guarded credential can
// produce exists at 0 from the start, and from a reload for a credential it
// adds, so that rate() and increase() see its first event.
func TestCountersExistAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	g, err := New(nil, Config{Credentials: []Credential{{Upstream: "garant", Name: "main"}}, RetryTooManyRequests: []string{"garant"}}, reg)
	if err != nil {
		t.Fatal(err)
	}
	// Retries only of the upstreams whose 429s are retried.
	want := func(upstream, name string, retried bool) []string {
		w := []string{
			"gateway_upstream_breaker_refusals_total credential=" + name + " upstream=" + upstream,
			"gateway_upstream_pacing_errors_total upstream=" + upstream,
			"gateway_upstream_pacing_late_total upstream=" + upstream,
			"gateway_upstream_pacing_refusals_total credential=" + name + " upstream=" + upstream,
		}
		if retried {
			w = append(w,
				"gateway_upstream_retries_total credential="+name+" outcome=refused upstream="+upstream,
				"gateway_upstream_retries_total credential="+name+" outcome=sent upstream="+upstream)
		}
		return w
	}
	check := func(when string, want []string) {
		t.Helper()
		got := series(t, reg)
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: no series %s; the counter series are:\n%s", when, w, strings.Join(got, "\n"))
			}
		}
	}
	check("at start", want("garant", "main", true))
	if err := g.SetCredentials([]Credential{{Upstream: "garant", Name: "main"}, {Upstream: "fips", Name: "legal"}}); err != nil {
		t.Fatal(err)
	}
	check("after a reload", append(want("garant", "main", true), want("fips", "legal", false)...))
}
