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
	urls := map[string]string{}
	for _, sim := range demoSimulators() {
		url, stop, err := listenLoopback(sim.handler)
		if err != nil {
			stopAll()
			return nil, nil, fmt.Errorf("start simulator: %w", err)
		}
		urls[sim.upstream], stops = url+sim.basePath, append(stops, stop)
	}
	// Keys never go into log lines, not even the demo's public ones: the
	// banner goes to the terminal.
	log.Warn("DEMO MODE: no config given; upstreams are in-process simulators and the tenant keys are public demo keys",
		"simulators", urls)
	fmt.Fprintf(stdout, "\nlegalgate demo: tenants alpha and beta, keys %q and %q (demo only)\n"+
		"  try: curl -H 'Authorization: Bearer %s' http://<addr>/v1/quotas\n\n",
		config.DemoKeyAlpha, config.DemoKeyBeta, config.DemoKeyAlpha)
	return config.Demo(urls), stopAll, nil
}

// demoSimulator is the simulator of one upstream: its handler, and the path
// of the API's base URL on it.
type demoSimulator struct {
	upstream, basePath string
	handler            http.Handler
}

// demoSimulators are the demo's upstreams, one simulator each.
func demoSimulators() []demoSimulator {
	return []demoSimulator{
		{config.Garant, "", garantsim.New(garantsim.DefaultConfig())},
		{config.FSSP, "", fsspsim.New(fsspsim.DefaultConfig())},
		{config.FIPS, "/api/v1", fipssim.New(fipssim.DefaultConfig())},
	}
}
