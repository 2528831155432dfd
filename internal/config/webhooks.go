package config

import (
	"fmt"
	"slices"
	"time"

	"github.com/legalgate/legalgate/internal/webhooks"
)

// TenantWebhooks are a tenant's webhook settings (internal/webhooks).
type TenantWebhooks struct {
	// Secrets sign every delivery: "whsec_" + base64 of 24 to 64 bytes, as
	// ${ENV}, file:/path or the literal value. Each signs (the
	// webhook-signature header lists one signature per secret), so during a
	// rotation list the new secret and the old one.
	Secrets []string `yaml:"secrets"`
	// Allow lists the URL prefixes a callback_url must start with:
	// scheme://host[:port]/path, compared as parsed URLs (host exactly,
	// the scheme's default port when none is given, ":*" for any port; the
	// path as a prefix, so end it with "/").
	Allow []string `yaml:"allow"`
	// AllowPrivate lets deliveries connect to loopback and private
	// addresses (link-local and metadata addresses stay refused).
	AllowPrivate bool `yaml:"allow_private"`
}

// Webhooks tunes deliveries for every tenant; zero values take the
// defaults of internal/webhooks.Config.
type Webhooks struct {
	BackoffBase time.Duration `yaml:"backoff_base"` // first retry's wait [5s]
	BackoffMax  time.Duration `yaml:"backoff_max"`  // longest wait between attempts [1h]
	RetryFor    time.Duration `yaml:"retry_for"`    // how long a delivery is retried [24h]
	Timeout     time.Duration `yaml:"timeout"`      // one attempt [10s]
	Workers     int           `yaml:"workers"`      // attempts at once per replica [16]
}

// Watches tunes the rounds of Garant watches (internal/watches); zero
// values take the defaults in brackets.
type Watches struct {
	Tick            time.Duration `yaml:"tick"`             // time between rounds [1m]
	MinInterval     time.Duration `yaml:"min_interval"`     // shortest interval a watch may ask for [1h]
	DefaultInterval time.Duration `yaml:"default_interval"` // a watch's interval when it asks for none [24h]
}

func (c *Config) validateWatches(bad func(string, string, ...any)) {
	w := c.Watches
	if w.Tick < 0 || w.Tick > 0 && w.Tick < 100*time.Millisecond {
		bad("watches.tick", "must be at least 100ms")
	}
	if w.MinInterval < 0 || w.MinInterval > 0 && w.MinInterval < time.Second {
		bad("watches.min_interval", "must be at least 1s")
	}
	if w.DefaultInterval < 0 || w.DefaultInterval > 0 && w.DefaultInterval < max(w.MinInterval, time.Second) {
		bad("watches.default_interval", "must be at least watches.min_interval")
	}
}

func (c *Config) resolveWebhookSecrets(getenv func(string) string) error {
	for id, t := range c.Tenants {
		if t.Webhooks == nil {
			continue
		}
		secrets := slices.Clone(t.Webhooks.Secrets)
		for i, s := range secrets {
			v, err := ResolveSecret(s, getenv)
			if err != nil {
				return fmt.Errorf("config: tenants.%s.webhooks.secrets[%d]: %w", id, i, err)
			}
			secrets[i] = v
		}
		w := *t.Webhooks
		w.Secrets = secrets
		t.Webhooks = &w
		c.Tenants[id] = t
	}
	return nil
}

func (c *Config) validateWebhooks(bad func(string, string, ...any)) {
	for id, t := range c.Tenants {
		if t.Webhooks == nil {
			continue
		}
		f := "tenants." + id + ".webhooks"
		if len(t.Webhooks.Secrets) == 0 || len(t.Webhooks.Secrets) > 2 {
			bad(f+".secrets", "one signing secret, or two during a rotation")
		}
		for i, s := range t.Webhooks.Secrets {
			if _, err := webhooks.ParseKey(s); err != nil {
				bad(fmt.Sprintf("%s.secrets[%d]", f, i), "want whsec_ + base64 of 24 to 64 bytes: %v", err)
			}
		}
		if len(t.Webhooks.Allow) == 0 {
			bad(f+".allow", "at least one callback URL prefix is required")
		}
		for i, a := range t.Webhooks.Allow {
			if _, err := webhooks.ParseRule(a); err != nil {
				bad(fmt.Sprintf("%s.allow[%d]", f, i), "%v, got %q", err, a)
			}
		}
	}
	w := c.Webhooks
	if w.BackoffBase < 0 || w.BackoffMax < 0 || w.RetryFor < 0 || w.Timeout < 0 || w.Workers < 0 {
		bad("webhooks", "durations and workers must not be negative")
	}
}

// WebhooksConfig returns the webhook settings of every tenant that has
// them, as internal/webhooks takes them (the config is valid).
func (c *Config) WebhooksConfig() map[string]webhooks.Tenant {
	out := map[string]webhooks.Tenant{}
	for id, t := range c.Tenants {
		if t.Webhooks == nil {
			continue
		}
		var wt webhooks.Tenant
		for _, s := range t.Webhooks.Secrets {
			if k, err := webhooks.ParseKey(s); err == nil {
				wt.Keys = append(wt.Keys, k)
			}
		}
		for _, a := range t.Webhooks.Allow {
			if r, err := webhooks.ParseRule(a); err == nil {
				wt.Allow = append(wt.Allow, r)
			}
		}
		wt.AllowPrivate = t.Webhooks.AllowPrivate
		out[id] = wt
	}
	return out
}
