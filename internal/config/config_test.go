package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const validYAML = `
credentials:
  g: {upstream: garant, secret: "${G_TOKEN}", limits: [{family: export, period: month, limit: 30}]}
tenants:
  alpha:
    keys_sha256: [` + "5bff3ad2afa32f97bd6af0f4a9901aad72a21b9f711fb6d82e2648dbc18e8575" + `]
    credentials: {garant: g}
upstreams:
  garant: {base_url: "http://127.0.0.1:1"}
`

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseValid(t *testing.T) {
	c, err := Parse([]byte(validYAML), env(map[string]string{"G_TOKEN": "tok"}))
	if err != nil {
		t.Fatalf("Parse(valid) = %v", err)
	}
	if c.Credentials["g"].Secret != "tok" || c.Addr != "127.0.0.1:8080" || c.FSSP.MaxWait.Seconds() != 25 {
		t.Errorf("Parse(valid) = secret %q addr %q max_wait %v; want the env secret and defaults",
			c.Credentials["g"].Secret, c.Addr, c.FSSP.MaxWait)
	}
	// Request limits: a body that never comes is cut within 30s at most.
	if s := c.Server; s.BodyTimeout != 30*time.Second || s.BodyIdleTimeout != 10*time.Second || s.WriteTimeout != 90*time.Second ||
		s.BodyBudgetMiB != 64 || s.TenantBodyBudgetMiB != 32 || s.ReadHeaderTimeout != 10*time.Second {
		t.Errorf("Parse(valid).Server = %+v, want the documented limits", s)
	}
	if HashKey(DemoKeyAlpha) != c.Tenants["alpha"].KeysSHA256[0] {
		t.Errorf("HashKey(demo-alpha) does not match sha256sum")
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name, yaml, want string
		env              map[string]string
	}{
		{"unset env secret", validYAML, "credentials.g.secret", nil},
		{"unknown field", validYAML + "\nfoo: 1\n", "field foo not found", map[string]string{"G_TOKEN": "s3cr3t-value"}},
		{"bad period", strings.Replace(validYAML, "period: month", "period: fortnight", 1), "credentials.g.limits[0].period", map[string]string{"G_TOKEN": "s3cr3t-value"}},
		{"bad hash", strings.Replace(validYAML, "5bff3ad2", "XXXX", 1), "tenants.alpha.keys_sha256[0]", map[string]string{"G_TOKEN": "s3cr3t-value"}},
		{"unknown credential", strings.Replace(validYAML, "{garant: g}", "{garant: nope}", 1), "tenants.alpha.credentials.garant", map[string]string{"G_TOKEN": "s3cr3t-value"}},
		{"credential name with a colon", strings.Replace(strings.Replace(validYAML, "  g: {upstream", "  \"g:x\": {upstream", 1), "{garant: g}", "{garant: \"g:x\"}", 1), "credentials.g:x", map[string]string{"G_TOKEN": "s3cr3t-value"}},
		{"reserved credential name", strings.Replace(strings.Replace(validYAML, "  g: {upstream", "  shared: {upstream", 1), "{garant: g}", "{garant: shared}", 1), "credentials.shared", map[string]string{"G_TOKEN": "s3cr3t-value"}},
		{"slow redis timeout", validYAML + "\nredis: {timeout: 30s}\n", "redis.timeout", map[string]string{"G_TOKEN": "s3cr3t-value"}},
		{"bad base url", strings.Replace(validYAML, "http://127.0.0.1:1", "ftp://x", 1), "upstreams.garant.base_url", map[string]string{"G_TOKEN": "s3cr3t-value"}},
		{"negative body timeout", validYAML + "\nserver: {body_timeout: -1s}\n", "server.body_timeout", map[string]string{"G_TOKEN": "s3cr3t-value"}},
		{"idle longer than the whole body", validYAML + "\nserver: {body_timeout: 5s, body_idle_timeout: 6s}\n", "server.body_idle_timeout", map[string]string{"G_TOKEN": "s3cr3t-value"}},
		{"write timeout under the upstream's", validYAML + "\nserver: {write_timeout: 20s}\n", "server.write_timeout", map[string]string{"G_TOKEN": "s3cr3t-value"}},
		{"tenant budget over the whole", validYAML + "\nserver: {body_budget_mib: 16, tenant_body_budget_mib: 32}\n", "server.tenant_body_budget_mib", map[string]string{"G_TOKEN": "s3cr3t-value"}},
		{"negative budget", validYAML + "\nserver: {body_budget_mib: -1}\n", "server.body_budget_mib", map[string]string{"G_TOKEN": "s3cr3t-value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() = %v, want an error naming %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t-value") {
				t.Errorf("error %q may echo a secret", err)
			}
		})
	}
}

func TestSecretFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(path, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ResolveSecret("file:"+path, env(nil))
	if err != nil || got != "from-file" {
		t.Errorf("ResolveSecret(file:) = %q, %v; want from-file", got, err)
	}
	if _, err := ResolveSecret("file:/does/not/exist", env(nil)); err == nil {
		t.Errorf("ResolveSecret(missing file) = nil error, want one")
	}
}

func TestDemoIsValid(t *testing.T) {
	d := Demo(map[string]string{Garant: "http://127.0.0.1:1", FSSP: "http://127.0.0.1:2", FIPS: "http://127.0.0.1:3/api/v1"})
	if err := d.Validate(); err != nil {
		t.Errorf("Demo().Validate() = %v", err)
	}
	if d.Credentials["garant-demo"].Upstream != Garant || d.Tenants["alpha"].Credentials[Garant] != d.Tenants["beta"].Credentials[Garant] {
		t.Errorf("demo tenants do not share one Garant credential")
	}
	if d.Server.AdminAddr != "127.0.0.1:8081" || d.Server.Pprof {
		t.Errorf("demo admin listener = %q (pprof %v), want loopback 127.0.0.1:8081 without pprof", d.Server.AdminAddr, d.Server.Pprof)
	}
}

// TestDuplicateKeyHashRefused: one key hash under two tenants is refused at
// load, naming both places and not the hash; twice under one tenant is
// harmless.
func TestDuplicateKeyHashRefused(t *testing.T) {
	const h = "5bff3ad2afa32f97bd6af0f4a9901aad72a21b9f711fb6d82e2648dbc18e8575"
	y := strings.Replace(validYAML, "upstreams:", `  beta:
    keys_sha256: [`+HashKey("beta-key")+`, `+h+`]
    credentials: {garant: g}
upstreams:`, 1)
	_, err := Parse([]byte(y), env(map[string]string{"G_TOKEN": "tok"}))
	if err == nil || !strings.Contains(err.Error(), "tenants.beta.keys_sha256[1]") || !strings.Contains(err.Error(), "tenants.alpha.keys_sha256[0]") {
		t.Errorf("Parse(one key hash under alpha and beta) = %v, want an error naming both", err)
	}
	if err != nil && strings.Contains(err.Error(), h) {
		t.Errorf("error %q prints the key hash", err)
	}
	same := strings.Replace(validYAML, "keys_sha256: ["+h+"]", "keys_sha256: ["+h+", "+h+"]", 1)
	if _, err := Parse([]byte(same), env(map[string]string{"G_TOKEN": "tok"})); err != nil {
		t.Errorf("Parse(a key hash twice under one tenant) = %v, want it accepted", err)
	}
}

// TestRedisURLIsASecret: redis.url may come from ${ENV} or file:, like the
// other secrets, and no error about it prints its password.
func TestRedisURLIsASecret(t *testing.T) {
	withURL := func(v string) string { return validYAML + "\nredis: {url: \"" + v + "\"}\n" }
	c, err := Parse([]byte(withURL("${REDIS_URL}")), env(map[string]string{"G_TOKEN": "tok", "REDIS_URL": "redis://:pa55word@redis:6379/1"}))
	if err != nil || c.Redis.URL != "redis://:pa55word@redis:6379/1" {
		t.Errorf("Parse(redis.url from ${REDIS_URL}) = %v, URL %q; want the variable's value", err, c.Redis.URL)
	}
	path := filepath.Join(t.TempDir(), "redis_url")
	if err := os.WriteFile(path, []byte("rediss://app:pa55word@redis:6380/0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Parse([]byte(withURL("file:"+path)), env(map[string]string{"G_TOKEN": "tok"}))
	if err != nil || c.Redis.URL != "rediss://app:pa55word@redis:6380/0" {
		t.Errorf("Parse(redis.url from file:) = %v, URL %q; want the file's content", err, c.Redis.URL)
	}
	if _, err := Parse([]byte(withURL("${REDIS_URL}")), env(map[string]string{"G_TOKEN": "tok"})); err == nil || !strings.Contains(err.Error(), "redis.url") {
		t.Errorf("Parse(redis.url from an unset variable) = %v, want an error naming redis.url", err)
	}
	for _, bad := range []string{
		"redis://user:s3cr3t-value@host:port/0",   // net/url quotes the whole URL
		"redis://:s3cr3t-value@host:6379/x",       // a bad database number
		"redis://:s3cr%zzt-value@host:6379/0",     // an invalid escape in the password
		"http://:s3cr3t-value@host:6379/0",        // not a Redis scheme
		"redis://:s3cr3t-value@host:6379/0?foo=1", // an unknown option
		"redis://s3cr3t-value@host:6379/s3cr3t-value",
	} {
		_, err := Parse([]byte(withURL("${REDIS_URL}")), env(map[string]string{"G_TOKEN": "tok", "REDIS_URL": bad}))
		if err == nil || !strings.Contains(err.Error(), "redis.url") {
			t.Errorf("Parse(redis.url %s) = %v, want an error naming redis.url", bad, err)
		}
		if err != nil && (strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "zzt")) {
			t.Errorf("Parse(a malformed redis.url) = %q: prints (part of) its password", err)
		}
	}
	// A base URL with credentials in it is not printed with them either.
	_, err = Parse([]byte(strings.Replace(validYAML, "http://127.0.0.1:1", "ftp://user:s3cr3t-value@x", 1)), env(map[string]string{"G_TOKEN": "tok"}))
	if err == nil || !strings.Contains(err.Error(), "upstreams.garant.base_url") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("Parse(ftp base_url with a password) = %v, want an error naming the field without the password", err)
	}
}

func TestPlainHTTPUpstreams(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(validYAML, "http://127.0.0.1:1", "http://user:pw@garant.internal", 1)), env(map[string]string{"G_TOKEN": "tok"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PlainHTTPUpstreams(); len(got) != 1 || got[Garant] != "http://user:xxxxx@garant.internal" {
		t.Errorf("PlainHTTPUpstreams() = %v, want garant with its password redacted", got)
	}
	c, err = Parse([]byte(strings.Replace(validYAML, "http://127.0.0.1:1", "https://api.garant.ru", 1)), env(map[string]string{"G_TOKEN": "tok"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PlainHTTPUpstreams(); len(got) != 0 {
		t.Errorf("PlainHTTPUpstreams() with https = %v, want none", got)
	}
}

// TestUpstreamGuard: the guard's defaults, each credential's pace (the
// documented rate unless the config gives one) and what is refused.
func TestUpstreamGuard(t *testing.T) {
	e := env(map[string]string{"G_TOKEN": "tok"})
	yaml := strings.Replace(validYAML, "tenants:", `  f: {upstream: fssp, secret: x}
  slow: {upstream: garant, secret: y, limits: [{family: rate, period: second, limit: 5}]}
  fast: {upstream: garant, secret: z, limits: [{family: rate, period: second, limit: 50}]}
tenants:`, 1) + "  fssp: {base_url: \"http://127.0.0.1:2\"}\n"
	c, err := Parse([]byte(yaml), e)
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	g := c.Guard
	if g.Breaker.Failures != 5 || g.Breaker.OpenFor != 30*time.Second || g.Breaker.Probes != 1 ||
		g.Pacing.MaxWait != 2*time.Second || g.Pacing.Margin != 250*time.Millisecond || g.Pacing.RetryShare != 0.1 {
		t.Errorf("upstream_guard defaults = %+v", g)
	}
	for name, want := range map[string]int{"g": 20, "f": 0, "slow": 5, "fast": 50} {
		if got := c.CredentialRate(name); got != want {
			t.Errorf("CredentialRate(%s) = %d, want %d", name, got, want)
		}
	}
	if w := c.RateWarnings(); len(w) != 1 || !strings.Contains(w[0], "credentials.fast") || !strings.Contains(w[0], "20") {
		t.Errorf("RateWarnings() = %q, want one naming credentials.fast and the documented 20", w)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"rate 0", strings.Replace(validYAML, "limit: 30}", "limit: 30}, {family: rate, period: second, limit: 0}", 1), "credentials.g.limits[1].limit"},
		{"two rates", strings.Replace(validYAML, "limit: 30}", "limit: 30}, {family: rate, period: second, limit: 5}, {family: rate, period: second, limit: 6}", 1), "credentials.g.limits[2]"},
		{"no failures", validYAML + "\nupstream_guard: {breaker: {failures: -1}}\n", "upstream_guard.breaker.failures"},
		{"short open", validYAML + "\nupstream_guard: {breaker: {open_for: 10ms}}\n", "upstream_guard.breaker.open_for"},
		{"long wait", validYAML + "\nupstream_guard: {pacing: {max_wait: 5m}}\n", "upstream_guard.pacing.max_wait"},
		{"retry share", validYAML + "\nupstream_guard: {pacing: {retry_share: 2}}\n", "upstream_guard.pacing.retry_share"},
	} {
		if _, err := Parse([]byte(tc.yaml), e); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s) = %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
}

func TestWebhooksConfig(t *testing.T) {
	base := `
tenants:
  a:
    keys_sha256: ["` + HashKey("k") + `"]
    webhooks: %s
`
	for _, tc := range []struct {
		block, wantErr string
	}{
		{`{secrets: ["whsec_ZGVtby1hbHBoYS13ZWJob29rLXNlY3JldA=="], allow: ["https://hooks.example.com/"]}`, ""},
		{`{secrets: ["${WH}"], allow: ["https://hooks.example.com/"]}`, ""},
		{`{secrets: ["whsec_c2hvcnQ="], allow: ["https://hooks.example.com/"]}`, "tenants.a.webhooks.secrets[0]"},
		{`{secrets: [], allow: ["https://hooks.example.com/"]}`, "tenants.a.webhooks.secrets"},
		{`{secrets: ["whsec_ZGVtby1hbHBoYS13ZWJob29rLXNlY3JldA=="], allow: []}`, "tenants.a.webhooks.allow"},
		{`{secrets: ["whsec_ZGVtby1hbHBoYS13ZWJob29rLXNlY3JldA=="], allow: ["hooks.example.com"]}`, "tenants.a.webhooks.allow[0]"},
	} {
		getenv := func(string) string { return "whsec_ZGVtby1iZXRhLXdlYmhvb2stc2VjcmV0" }
		c, err := Parse([]byte(fmt.Sprintf(base, tc.block)), getenv)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("Parse(%s) = %v, want nil", tc.block, err)
			} else if w := c.WebhooksConfig()["a"]; len(w.Keys) != 1 || len(w.Allow) != 1 {
				t.Errorf("WebhooksConfig(%s) = %+v, want one key and one rule", tc.block, w)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr+":") {
			t.Errorf("Parse(%s) = %v, want an error naming %s", tc.block, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "c2hvcnQ") {
			t.Errorf("Parse(%s) error repeats the secret: %v", tc.block, err)
		}
	}
}

func TestWatchesConfig(t *testing.T) {
	e := env(map[string]string{"G_TOKEN": "tok"})
	c, err := Parse([]byte(validYAML+"\nwatches: {tick: 30s, min_interval: 10m, default_interval: 6h}\n"), e)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Watches, (Watches{Tick: 30 * time.Second, MinInterval: 10 * time.Minute, DefaultInterval: 6 * time.Hour}); got != want {
		t.Errorf("Watches = %+v, want %+v", got, want)
	}
	for _, tc := range []struct{ block, want string }{
		{"{tick: 10ms}", "watches.tick"},
		{"{min_interval: 500ms}", "watches.min_interval"},
		{"{min_interval: 2h, default_interval: 1h}", "watches.default_interval"},
		{"{every: 1m}", "every"},
	} {
		if _, err := Parse([]byte(validYAML+"\nwatches: "+tc.block+"\n"), e); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(watches: %s) = %v, want an error naming %s", tc.block, err, tc.want)
		}
	}
}

// TestSecretFiles lists every file: secret a reload reads again, a tenant's
// webhook secrets included, and none of the other forms.
func TestSecretFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	cfg := `
redis: {url: "file:/run/secrets/redis/url"}
credentials:
  g: {upstream: garant, secret: "file:/run/secrets/garant/token"}
  f: {upstream: fssp, secret: "${FSSP_TOKEN}"}
tenants:
  a:
    keys_sha256: ["` + HashKey("k") + `"]
    webhooks: {secrets: ["file:/run/secrets/hooks/a", "whsec_ZGVtby1hbHBoYS13ZWJob29rLXNlY3JldA=="], allow: ["https://hooks.example.com/"]}
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	got := SecretFiles(path)
	want := []string{"/run/secrets/garant/token", "/run/secrets/hooks/a", "/run/secrets/redis/url"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("SecretFiles = %q, want %q", got, want)
	}
}
