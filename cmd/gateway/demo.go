package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

// startDemo starts the three simulators in-process on loopback and returns
// the demo configuration pointing at them.
func startDemo(log *slog.Logger, stdout io.Writer) (*config.Config, func(), error) {
	var stops []func()
	stopAll := func() {
		for _, stop := range stops {
			stop()
		}
	}
	var urls [3]string
	for i, h := range []http.Handler{
		garantsim.New(garantsim.DefaultConfig()), fsspsim.New(fsspsim.DefaultConfig()), fipssim.New(fipssim.DefaultConfig()),
	} {
		url, stop, err := listenLoopback(h)
		if err != nil {
			stopAll()
			return nil, nil, fmt.Errorf("start simulator: %w", err)
		}
		urls[i], stops = url, append(stops, stop)
	}
	garantURL, fsspURL, fipsURL := urls[0], urls[1], urls[2]
	// Keys never go into log lines, not even the demo's public ones: the
	// banner goes to the terminal.
	log.Warn("DEMO MODE: no config given; upstreams are in-process simulators and the tenant keys are public demo keys",
		"garant_sim", garantURL, "fssp_sim", fsspURL, "fips_sim", fipsURL)
	fmt.Fprintf(stdout, "\nlegalgate demo: tenants alpha and beta, keys %q and %q (demo only)\n"+
		"  try: curl -H 'Authorization: Bearer %s' http://<addr>/v1/quotas\n\n",
		config.DemoKeyAlpha, config.DemoKeyBeta, config.DemoKeyAlpha)
	return config.Demo(config.DemoUpstreams{Garant: garantURL, FSSP: fsspURL, FIPS: fipsURL + "/api/v1"}), stopAll, nil
}
