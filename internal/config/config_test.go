package config

import (
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
	if c.Credentials["g"].Secret != "tok" || c.Addr != "127.0.0.1:8080" || c.FSSP.MaxWait.Seconds() != 25 || c.Server.HeapFloorMiB != 64 {
		t.Errorf("Parse(valid) = secret %q addr %q max_wait %v heap_floor_mib %d; want the env secret and defaults",
			c.Credentials["g"].Secret, c.Addr, c.FSSP.MaxWait, c.Server.HeapFloorMiB)
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
		{"bad heap floor", validYAML + "\nserver: {heap_floor_mib: -2}\n", "server.heap_floor_mib", map[string]string{"G_TOKEN": "s3cr3t-value"}},
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
	d := Demo(DemoUpstreams{Garant: "http://127.0.0.1:1", FSSP: "http://127.0.0.1:2", FIPS: "http://127.0.0.1:3/api/v1"})
	if err := d.Validate(); err != nil {
		t.Errorf("Demo().Validate() = %v", err)
	}
	if d.Credentials["garant-demo"].Upstream != Garant || d.Tenants["alpha"].Credentials[Garant] != d.Tenants["beta"].Credentials[Garant] {
		t.Errorf("demo tenants do not share one Garant credential")
	}
}
