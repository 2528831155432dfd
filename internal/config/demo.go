package config

import (
	"crypto/sha256"
	"encoding/hex"
)

// Demo API keys of the built-in demo tenants. They are printed at start-up
// and must never be used outside the demo.
const (
	DemoKeyAlpha = "demo-alpha"
	DemoKeyBeta  = "demo-beta"
)

// Demo is the configuration used when none is given: embedded Redis, the
// in-process simulators at baseURLs (upstream name → base URL), and two tenants, alpha and beta, sharing one
// Garant and one FSSP credential with the official documented limits (the
// Garant credential paced to its documented 20 requests a second).
func Demo(baseURLs map[string]string) *Config {
	c := &Config{
		// One person trying every FIPS operation in Swagger UI goes faster
		// than the default per-tenant rate of 10 a second.
		Fairness: Fairness{Rates: map[string]Rate{FIPS: {PerSecond: 50, Burst: 100}}},
		Credentials: map[string]Credential{
			"garant-demo": {Upstream: Garant, Secret: "demo-garant-token", Limits: []Limit{
				{Family: "export", Period: "month", Limit: 30},
				{Family: "topic_info", Period: "month", Limit: 300},
				{Family: "links_control", Period: "month", Limit: 1000},
			}},
			"fssp-demo": {Upstream: FSSP, Secret: "demo-fssp-token", Limits: []Limit{
				{Family: "single", Period: "sliding_hour", Limit: 100},
				{Family: "single", Period: "sliding_day", Limit: 1000},
				{Family: "group", Period: "sliding_day", Limit: 5000},
			}},
			"fips-alpha": {Upstream: FIPS, Secret: "demo-fips-key"},
			"fips-beta":  {Upstream: FIPS, Secret: "demo-fips-key-2"},
		},
		Tenants: map[string]Tenant{
			"alpha": {KeysSHA256: []string{HashKey(DemoKeyAlpha)}, Admin: true,
				Credentials: map[string]string{Garant: "garant-demo", FSSP: "fssp-demo", FIPS: "fips-alpha"},
				Limits:      []Limit{{Upstream: Garant, Family: "export", Period: "month", Limit: 20}}},
			"beta": {KeysSHA256: []string{HashKey(DemoKeyBeta)},
				Credentials: map[string]string{Garant: "garant-demo", FSSP: "fssp-demo", FIPS: "fips-beta"}},
		},
	}
	for name, u := range c.Upstreams.blocks() {
		u.BaseURL = baseURLs[name]
	}
	c.applyDefaults()
	return c
}

// HashKey returns the lower-case hex SHA-256 of an API key, as stored in
// tenants.*.keys_sha256.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
