package config_test

import (
	"slices"
	"testing"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/ops"
)

// TestUpstreamsMatchContract: the upstreams the config has blocks for are
// the contract's x-gateway-upstreams, the one list of upstreams: adding one
// to the contract without its config block (or the other way) fails here.
func TestUpstreamsMatchContract(t *testing.T) {
	table, err := ops.Contract()
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(table.Upstreams()))
	if got := (&config.Upstreams{}).Names(); !slices.Equal(got, want) {
		t.Errorf("config's upstreams = %v, want the contract's x-gateway-upstreams %v", got, want)
	}
	// The demo gives each a base URL.
	urls := map[string]string{}
	for _, up := range want {
		urls[up] = "http://127.0.0.1:1/" + up
	}
	d := config.Demo(urls)
	if d.Upstreams.Garant.BaseURL != urls[config.Garant] || d.Upstreams.FSSP.BaseURL != urls[config.FSSP] || d.Upstreams.FIPS.BaseURL != urls[config.FIPS] {
		t.Errorf("Demo(%v).Upstreams = %+v, want each base URL set", urls, d.Upstreams)
	}
}

// TestRatedUpstreams: fairness.rates applies to the upstreams with an
// unmetered call in the contract, read from the operation table.
func TestRatedUpstreams(t *testing.T) {
	table, err := ops.Contract()
	if err != nil {
		t.Fatal(err)
	}
	for _, up := range table.Upstreams() {
		free := false
		for _, o := range table.Of(up) {
			free = free || o.Share == ops.ShareFreeCall
		}
		if got := slices.Contains(config.RatedUpstreams(), up); got != free {
			t.Errorf("RatedUpstreams() has %s = %v, want %v (its unmetered calls)", up, got, free)
		}
	}
	if got := config.RatedUpstreams(); !slices.Equal(got, []string{"garant", "fips"}) {
		t.Errorf("RatedUpstreams() = %v, want [garant fips]", got)
	}
}
