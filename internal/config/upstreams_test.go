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
