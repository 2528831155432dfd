package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/fairshare"
)

// wireFairness builds the fair-share limiter from the config's fairness
// section (defaults applied): -1 (off) becomes fairshare's 0 (no cap), and a
// tenant's own caps and rates replace the defaults one by one.
func wireFairness(cfg *config.Config, rdb redis.UniversalClient, reg prometheus.Registerer, log *slog.Logger) (*fairshare.Limiter, error) {
	return fairshare.New(rdb, fairConfig(cfg), reg, log)
}

// fairConfig is the fair-share limiter's config from cfg.
func fairConfig(cfg *config.Config) fairshare.Config {
	f := cfg.Fairness
	def := fairshare.Limits{
		LongPolls: capOf(f.LongPolls.PerTenant), UpstreamCalls: capOf(f.UpstreamCalls.PerTenant), Rates: ratesOf(f.Rates, nil),
	}
	fc := fairshare.Config{
		Default: def, LongPolls: capOf(f.LongPolls.Global), CredentialCalls: capOf(f.UpstreamCalls.PerCredential),
		Timeout: cfg.Redis.Timeout, Tenants: map[string]fairshare.Limits{},
	}
	for id, t := range f.Tenants {
		own := fairshare.Limits{LongPolls: def.LongPolls, UpstreamCalls: def.UpstreamCalls, Rates: ratesOf(f.Rates, t.Rates)}
		if t.LongPolls != 0 {
			own.LongPolls = capOf(t.LongPolls)
		}
		if t.UpstreamCalls != 0 {
			own.UpstreamCalls = capOf(t.UpstreamCalls)
		}
		fc.Tenants[id] = own
	}
	return fc
}

func capOf(n int) int { return max(n, 0) }

// ratesOf is the default rates with a tenant's own replacing them by upstream.
func ratesOf(def, own map[string]config.Rate) map[string]fairshare.Rate {
	out := map[string]fairshare.Rate{}
	for _, m := range []map[string]config.Rate{def, own} {
		for up, r := range m {
			if r.PerSecond != 0 {
				out[up] = fairshare.Rate{PerSecond: capOf(r.PerSecond), Burst: r.Burst}
			}
		}
	}
	return out
}
