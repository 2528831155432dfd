// Package deploy holds the deployment files; its test checks that they parse
// and agree with each other, since no Docker engine runs on CI machines.
package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

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

// rules is alerts.yml.
type rules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert  string `yaml:"alert"`
			Record string `yaml:"record"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) (alerts, records map[string]string) {
	t.Helper()
	var r rules
	readYAML(t, "alerts.yml", &r)
	alerts, records = map[string]string{}, map[string]string{}
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			if rule.Alert != "" {
				alerts[rule.Alert] = rule.Expr
			} else {
				records[rule.Record] = rule.Expr
			}
		}
	}
	return alerts, records
}

func TestPrometheus(t *testing.T) {
	var p struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus.yml", &p)
	if len(p.ScrapeConfigs) == 0 || p.ScrapeConfigs[0].MetricsPath != "/metrics" {
		t.Errorf("prometheus.yml does not scrape /metrics: %+v", p.ScrapeConfigs)
	}
	// Metrics are on the gateway's admin listener, the one compose starts it with.
	var c struct {
		Services map[string]struct {
			Command []string `yaml:"command"`
			Ports   []string `yaml:"ports"`
		} `yaml:"services"`
	}
	readYAML(t, "docker-compose.yml", &c)
	gw := c.Services["gateway"]
	adminPort := ""
	if i := slices.Index(gw.Command, "-admin-addr"); i >= 0 && i+1 < len(gw.Command) {
		adminPort = gw.Command[i+1][strings.LastIndex(gw.Command[i+1], ":")+1:]
	}
	if adminPort == "" || len(p.ScrapeConfigs) == 0 || len(p.ScrapeConfigs[0].StaticConfigs) == 0 ||
		!slices.Contains(p.ScrapeConfigs[0].StaticConfigs[0].Targets, "gateway:"+adminPort) {
		t.Errorf("prometheus.yml scrapes %+v, want the gateway's admin listener (-admin-addr port %q in docker-compose.yml)", p.ScrapeConfigs, adminPort)
	}
	for _, port := range gw.Ports {
		if strings.HasSuffix(port, ":"+adminPort) && !strings.HasPrefix(port, "127.0.0.1:") {
			t.Errorf("docker-compose.yml publishes the admin port (%s) on every host interface, want 127.0.0.1 only", port)
		}
	}
	// Relative to prometheus.yml, so that promtool check config passes
	// here as in the container.
	if len(p.RuleFiles) != 1 || p.RuleFiles[0] != "alerts.yml" {
		t.Errorf("prometheus.yml rule_files = %v, want [alerts.yml]", p.RuleFiles)
	}
	alerts, records := readRules(t)
	for alert, metric := range map[string]string{
		"QuotaAlmostSpent":        "legalgate_quota:used:max",
		"QuotaSpent":              "legalgate_quota:remaining:max",
		"QuotaRunsOutBeforeReset": "legalgate_quota:exhaustion_timestamp_seconds",
		"CredentialExpiresSoon":   "gateway_credential_expiry_timestamp_seconds",
		"CredentialRejected":      "gateway_credential_rejected_total",
		"ConfigReloadRefused":     "gateway_config_reload_total",
	} {
		if !strings.Contains(alerts[alert], metric) {
			t.Errorf("alert %s = %q, want an expression over %s", alert, alerts[alert], metric)
		}
	}
	// Each replica reports the shared quota gauges: the records the alerts
	// read take one series per quota, whatever labels the scrape adds.
	for _, r := range []string{"used", "limit", "remaining", "resets_at", "period_start"} {
		name := "legalgate_quota:" + r + ":max"
		if !strings.HasPrefix(records[name], "max by (job, scope, owner, upstream, family, period) (gateway_quota_") {
			t.Errorf("record %s = %q, want the gauge aggregated across replicas with max by the quota's labels", name, records[name])
		}
	}
	if !strings.Contains(alerts["QuotaAlmostSpent"], "0.8") {
		t.Errorf("QuotaAlmostSpent does not fire at 80%%: %q", alerts["QuotaAlmostSpent"])
	}
}

// TestEveryRuleIsTested: alerts_test.yml (promtool test rules, run by
// scripts/test.sh) has a case for every alert and every recording rule.
func TestEveryRuleIsTested(t *testing.T) {
	var tests struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
			PromQLExprTest []struct {
				Expr       string `yaml:"expr"`
				ExpSamples []any  `yaml:"exp_samples"`
			} `yaml:"promql_expr_test"`
		} `yaml:"tests"`
	}
	readYAML(t, "alerts_test.yml", &tests)
	if len(tests.RuleFiles) != 1 || tests.RuleFiles[0] != "alerts.yml" {
		t.Errorf("alerts_test.yml rule_files = %v, want [alerts.yml]", tests.RuleFiles)
	}
	fired, sampled := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			fired[a.Alertname] = fired[a.Alertname] || len(a.ExpAlerts) > 0
		}
		for _, e := range tc.PromQLExprTest {
			name, _, _ := strings.Cut(e.Expr, "{")
			sampled[name] = sampled[name] || len(e.ExpSamples) > 0
		}
	}
	alerts, records := readRules(t)
	for a := range alerts {
		if !fired[a] {
			t.Errorf("alert %s has no promtool test in which it fires", a)
		}
	}
	for r := range records {
		if !sampled[r] {
			t.Errorf("recording rule %s has no promtool test of its samples", r)
		}
	}
}

func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/dashboards/legalgate.json")
	if err != nil {
		t.Fatal(err)
	}
	type datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	var d struct {
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
				Type string `json:"type"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title       string      `json:"title"`
			Type        string      `json:"type"`
			Datasource  *datasource `json:"datasource"`
			FieldConfig struct {
				Defaults struct {
					Thresholds *struct {
						Steps []any `json:"steps"`
					} `json:"thresholds"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
			Targets []struct {
				Expr       string      `json:"expr"`
				Instant    bool        `json:"instant"`
				Datasource *datasource `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	for name, typ := range map[string]string{"datasource": "datasource", "job": "query", "instance": "query",
		"upstream": "query", "credential": "query", "tenant": "query"} {
		if vars[name] != typ {
			t.Errorf("dashboard variable %s is %q, want a %s variable", name, vars[name], typ)
		}
	}
	_, records := readRules(t)
	metricName := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	selector := regexp.MustCompile(`\b((?:gateway|legalgate|go)_[a-zA-Z0-9_:]*)(\{[^}]*\})?`)
	var all strings.Builder
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q datasource = %+v, want the ${datasource} variable", p.Title, p.Datasource)
		}
		if p.Type == "bargauge" && (p.FieldConfig.Defaults.Thresholds == nil || len(p.FieldConfig.Defaults.Thresholds.Steps) < 2) {
			t.Errorf("gauge panel %q has no thresholds", p.Title)
		}
		for _, tg := range p.Targets {
			all.WriteString(tg.Expr + "\n")
			if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: a query's datasource = %+v, want ${datasource}", p.Title, tg.Datasource)
			}
			if (p.Type == "table" || p.Type == "bargauge") && !tg.Instant {
				t.Errorf("panel %q (%s) runs a range query %q, want an instant one", p.Title, p.Type, tg.Expr)
			}
			// Every series the query reads is filtered by the job variable
			// (several deployments may share one Prometheus).
			for _, sel := range selector.FindAllStringSubmatch(tg.Expr, -1) {
				if !strings.Contains(sel[2], `job=~"$job"`) {
					t.Errorf("panel %q reads %s%s without the job filter", p.Title, sel[1], sel[2])
				}
			}
			// Recorded series must exist in alerts.yml.
			for _, name := range metricName.FindAllString(tg.Expr, -1) {
				if strings.Count(name, ":") == 2 && strings.HasPrefix(name, "legalgate_") {
					if _, ok := records[name]; !ok {
						t.Errorf("panel %q reads %s, which no recording rule defines", p.Title, name)
					}
				}
			}
		}
	}
	for _, m := range []string{
		"legalgate_quota:used:max", "legalgate_quota:remaining:max", "legalgate_quota:limit:max",
		"legalgate_quota:exhaustion_timestamp_seconds", "legalgate_quota:reserved:rate5m",
		"gateway_quota_reserved_total", "legalgate_http:requests:rate5m", "gateway_quota_rejected_total",
		`tenant=~"$tenant"`, `instance=~"$instance"`, `upstream=~"$upstream"`, `credential=~"$credential"`,
	} {
		if !strings.Contains(all.String(), m) {
			t.Errorf("dashboard has no panel over %s", m)
		}
	}
}

func TestExampleConfigsLoad(t *testing.T) {
	env := map[string]string{"GARANT_TOKEN": "g", "FSSP_TOKEN": "f", "FIPS_KEY": "k", "FIPS_KEY_ALPHA": "a", "FIPS_KEY_BETA": "b",
		"BILLING_WEBHOOK_SECRET": "whsec_ZGVtby1iZXRhLXdlYmhvb2stc2VjcmV0"}
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
