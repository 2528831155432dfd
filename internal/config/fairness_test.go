package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFairnessDefaults(t *testing.T) {
	c, err := Parse([]byte(validYAML+`
fairness:
  rates: {fips: {per_second: 40}}
  tenants:
    alpha: {long_polls: 5000, rates: {garant: {per_second: -1}}}
`), env(map[string]string{"G_TOKEN": "tok"}))
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	want := Fairness{
		LongPolls:     LongPollCaps{PerTenant: 1000, Global: 20000},
		UpstreamCalls: UpstreamCallCaps{PerTenant: 16, PerCredential: 64},
		Rates:         map[string]Rate{Garant: {PerSecond: 5, Burst: 10}, FIPS: {PerSecond: 40, Burst: 80}},
		Tenants:       map[string]TenantFairness{"alpha": {LongPolls: 5000, Rates: map[string]Rate{Garant: {PerSecond: -1}}}},
	}
	if diff := cmp.Diff(want, c.Fairness); diff != "" {
		t.Errorf("Parse().Fairness differs (-want +got):\n%s", diff)
	}
}

func TestFairnessErrorsNameTheField(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"negative cap", "fairness: {long_polls: {per_tenant: -2}}", "fairness.long_polls.per_tenant"},
		{"negative credential cap", "fairness: {upstream_calls: {per_credential: -5}}", "fairness.upstream_calls.per_credential"},
		{"fssp rate", "fairness: {rates: {fssp: {per_second: 1}}}", "fairness.rates.fssp"},
		{"negative burst", "fairness: {rates: {garant: {per_second: 1, burst: -1}}}", "fairness.rates.garant.burst"},
		{"unknown tenant", "fairness: {tenants: {nobody: {long_polls: 1}}}", "fairness.tenants.nobody"},
		{"tenant rate", "fairness: {tenants: {alpha: {rates: {garant: {per_second: -3}}}}}", "fairness.tenants.alpha.rates.garant.per_second"},
		{"quota rate for a tenant", strings.Replace(validYAML, "credentials: {garant: g}",
			"credentials: {garant: g}\n    limits: [{upstream: garant, family: rate, period: second, limit: 5}]", 1), "tenants.alpha.limits[0].family"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			y := tt.yaml
			if !strings.Contains(y, "credentials:") {
				y = validYAML + y + "\n"
			}
			_, err := Parse([]byte(y), env(map[string]string{"G_TOKEN": "tok"}))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}
