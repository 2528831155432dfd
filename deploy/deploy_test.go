// Package deploy holds the deployment files; its test checks that they parse
// and agree with each other, since no Docker engine runs on CI machines.
package deploy

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/legalgate/legalgate/internal/config"
)

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
}

func TestCompose(t *testing.T) {
	var c struct {
		Services map[string]struct {
			Build   any      `yaml:"build"`
			Image   string   `yaml:"image"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	readYAML(t, "docker-compose.yml", &c)
	for _, name := range []string{"gateway", "redis", "prometheus", "grafana", "upstream-sim"} {
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("docker-compose.yml has no service %q", name)
			continue
		}
		if s.Build == nil && s.Image == "" {
			t.Errorf("service %q has neither build nor image", name)
		}
		for _, v := range s.Volumes {
			src := strings.SplitN(v, ":", 2)[0]
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("service %q mounts %s, which does not exist", name, src)
				}
			}
		}
	}
}

func TestPrometheus(t *testing.T) {
	var p struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			MetricsPath string `yaml:"metrics_path"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus.yml", &p)
	if len(p.ScrapeConfigs) == 0 || p.ScrapeConfigs[0].MetricsPath != "/metrics" {
		t.Errorf("prometheus.yml does not scrape /metrics: %+v", p.ScrapeConfigs)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, "alerts.yml", &rules)
	exprs := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs[r.Alert] = r.Expr
		}
	}
	for alert, metric := range map[string]string{
		"QuotaAlmostSpent":      "gateway_quota_used",
		"CredentialExpiresSoon": "gateway_credential_expiry_timestamp_seconds",
	} {
		if !strings.Contains(exprs[alert], metric) {
			t.Errorf("alert %s = %q, want an expression over %s", alert, exprs[alert], metric)
		}
	}
	// Each replica reports the shared quota gauges: the alerts aggregate them.
	for _, alert := range []string{"QuotaAlmostSpent", "QuotaSpent"} {
		if !strings.Contains(exprs[alert], "max without (instance)") {
			t.Errorf("alert %s = %q, want it aggregated across replicas with max without (instance)", alert, exprs[alert])
		}
	}
	if !strings.Contains(exprs["QuotaAlmostSpent"], "0.8") {
		t.Errorf("QuotaAlmostSpent does not fire at 80%%: %q", exprs["QuotaAlmostSpent"])
	}
}

func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/dashboards/legalgate.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	var all strings.Builder
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			all.WriteString(tg.Expr)
		}
	}
	for _, m := range []string{"gateway_quota_used", "gateway_quota_remaining", "gateway_http_requests_total", "gateway_quota_rejected_total"} {
		if !strings.Contains(all.String(), m) {
			t.Errorf("dashboard has no panel over %s", m)
		}
	}
}

func TestExampleConfigsLoad(t *testing.T) {
	env := map[string]string{"GARANT_TOKEN": "g", "FSSP_TOKEN": "f", "FIPS_KEY": "k", "FIPS_KEY_ALPHA": "a", "FIPS_KEY_BETA": "b"}
	secretDir := t.TempDir()
	b, err := os.ReadFile("gateway.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The example reads the FSSP token from a mounted secret file.
	if err := os.WriteFile(secretDir+"/fssp_token", []byte("f\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	example := strings.ReplaceAll(string(b), "file:/run/secrets/fssp_token", "file:"+secretDir+"/fssp_token")
	if _, err := config.Parse([]byte(example), func(k string) string { return env[k] }); err != nil {
		t.Errorf("gateway.example.yaml: %v", err)
	}
	if _, err := config.Load("gateway.compose.yaml", func(k string) string { return env[k] }); err != nil {
		t.Errorf("gateway.compose.yaml: %v", err)
	}
}
