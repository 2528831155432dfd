package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
)

// app is everything run builds from the config besides the HTTP layer.
type app struct {
	tenants *tenant.Registry
	quota   *quota.Engine
	stop    func() // stops background work; called after the server drained
}

func wire(ctx context.Context, cfg *config.Config, rdb redis.UniversalClient, reg *prometheus.Registry, log *slog.Logger) (*app, error) {
	tenants, err := buildTenants(cfg)
	if err != nil {
		return nil, err
	}
	registerCredentialExpiry(reg, tenants)
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("config: time_zone: %w", err)
	}
	failOpen := map[string]bool{}
	for _, f := range cfg.Quota.FailOpen {
		failOpen[f] = true
	}
	q, err := quota.New(rdb, quota.Config{
		Rules: quotaRules(cfg), Location: loc, FailOpen: failOpen, Timeout: cfg.Redis.Timeout * 2,
	}, reg)
	if err != nil {
		return nil, fmt.Errorf("quota: %w", err)
	}
	_, cancel := context.WithCancel(ctx)
	return &app{tenants: tenants, quota: q, stop: cancel}, nil
}

// buildTenants turns the config's credentials and tenants into the registry.
func buildTenants(cfg *config.Config) (*tenant.Registry, error) {
	reg := tenant.NewRegistry()
	for name, c := range cfg.Credentials {
		cred := &tenant.Credential{Name: name, Upstream: c.Upstream, Secret: tenant.NewSecret(c.Secret)}
		if c.ExpiresAt != nil {
			cred.ExpiresAt = *c.ExpiresAt
		}
		reg.AddCredential(cred)
	}
	for id, t := range cfg.Tenants {
		tn := &tenant.Tenant{ID: id, Admin: t.Admin, Credentials: map[string]*tenant.Credential{}}
		for upstream, name := range t.Credentials {
			c, _ := reg.Credential(name)
			tn.Credentials[upstream] = c
		}
		if err := reg.AddTenant(tn, t.KeysSHA256); err != nil {
			return nil, fmt.Errorf("config: tenants.%s: %w", id, err)
		}
	}
	return reg, nil
}

// quotaRules lists the credential and tenant limits of the config.
func quotaRules(cfg *config.Config) []quota.Rule {
	var rules []quota.Rule
	for name, c := range cfg.Credentials {
		for _, l := range c.Limits {
			rules = append(rules, quota.Rule{Scope: quota.ScopeCredential, Owner: name, Upstream: c.Upstream,
				Family: l.Family, Period: quota.Period(l.Period), Limit: l.Limit})
		}
	}
	for id, t := range cfg.Tenants {
		for _, l := range t.Limits {
			rules = append(rules, quota.Rule{Scope: quota.ScopeTenant, Owner: id, Upstream: strings.ToLower(l.Upstream),
				Family: l.Family, Period: quota.Period(l.Period), Limit: l.Limit})
		}
	}
	return rules
}

// registerCredentialExpiry exports each credential's configured expiry, for
// the "expires within 30 days" alert.
func registerCredentialExpiry(reg prometheus.Registerer, tenants *tenant.Registry) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gateway_credential_expiry_timestamp_seconds",
		Help: "When an upstream credential expires (Unix seconds), where configured.",
	}, []string{"credential", "upstream"})
	for _, c := range tenants.Credentials() {
		if !c.ExpiresAt.IsZero() {
			g.WithLabelValues(c.Name, c.Upstream).Set(float64(c.ExpiresAt.Unix()))
		}
	}
	reg.MustRegister(g)
}
