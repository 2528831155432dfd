package main

import (
	"context"
	"log/slog"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

// startDemo starts the three simulators in-process on loopback and returns
// the demo configuration pointing at them.
func startDemo(ctx context.Context, log *slog.Logger) (*config.Config, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	garantURL, err := listenLoopback(ctx, garantsim.New(garantsim.DefaultConfig()))
	if err != nil {
		cancel()
		return nil, nil, err
	}
	fsspURL, err := listenLoopback(ctx, fsspsim.New(fsspsim.DefaultConfig()))
	if err != nil {
		cancel()
		return nil, nil, err
	}
	fipsURL, err := listenLoopback(ctx, fipssim.New(fipssim.DefaultConfig()))
	if err != nil {
		cancel()
		return nil, nil, err
	}
	log.Warn("DEMO MODE: no config given; upstreams are in-process simulators and the tenant keys are public demo keys",
		"tenant_alpha_key", config.DemoKeyAlpha, "tenant_beta_key", config.DemoKeyBeta,
		"garant_sim", garantURL, "fssp_sim", fsspURL, "fips_sim", fipsURL)
	return config.Demo(config.DemoUpstreams{Garant: garantURL, FSSP: fsspURL, FIPS: fipsURL + "/api/v1"}), cancel, nil
}
