package deploy

import (
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/legalgate/legalgate/internal/config"
)

// composeFile is the part of docker-compose.yml these tests read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Build       any               `yaml:"build"`
	Image       string            `yaml:"image"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Restart     string            `yaml:"restart"`
	MemLimit    string            `yaml:"mem_limit"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test     []string `yaml:"test"`
		Interval string   `yaml:"interval"`
		Timeout  string   `yaml:"timeout"`
		Retries  int      `yaml:"retries"`
	} `yaml:"healthcheck"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	readYAML(t, "docker-compose.yml", &c)
	for _, name := range []string{"gateway", "upstream-sim", "redis", "prometheus", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("docker-compose.yml has no service %q", name)
		}
	}
	return c
}

// flagValue returns the value after flag in args ("" when absent).
func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

func port(t *testing.T, hostport string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%q is not host:port: %v", hostport, err)
	}
	return p
}

// TestComposeChecksItself: every service has a healthcheck and a restart
// policy, nothing starts before what it depends on is healthy, the gateway
// probes its own /readyz with its -probe mode (the image has no shell), and
// Prometheus scrapes the gateway's admin listener.
func TestComposeChecksItself(t *testing.T) {
	c := readCompose(t)
	for name, s := range c.Services {
		if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 || s.Healthcheck.Test[0] != "CMD" {
			t.Errorf("service %s: healthcheck %+v, want a CMD test", name, s.Healthcheck)
		} else if s.Healthcheck.Interval == "" || s.Healthcheck.Timeout == "" || s.Healthcheck.Retries == 0 {
			t.Errorf("service %s: healthcheck %+v, want interval, timeout and retries", name, *s.Healthcheck)
		}
		if !slices.Contains([]string{"always", "unless-stopped", "on-failure"}, s.Restart) {
			t.Errorf("service %s: restart %q, want a restart policy", name, s.Restart)
		}
		for dep, d := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("service %s depends on %s, which is not a service", name, dep)
			}
			if d.Condition != "service_healthy" {
				t.Errorf("service %s depends on %s with condition %q, want service_healthy", name, dep, d.Condition)
			}
		}
	}
	gw := c.Services["gateway"]
	for _, dep := range []string{"redis", "upstream-sim"} {
		if _, ok := gw.DependsOn[dep]; !ok {
			t.Errorf("gateway does not depend on %s", dep)
		}
	}

	// The gateway's healthcheck is its own binary probing /readyz on its -addr port.
	addr := flagValue(gw.Command, "-addr")
	want := []string{"CMD", imageBinary(t), "-probe", "http://127.0.0.1:" + port(t, addr) + "/readyz"}
	if d := cmp.Diff(want, gw.Healthcheck.Test); d != "" {
		t.Errorf("gateway healthcheck (-want +got):\n%s", d)
	}
	// The simulators run from the same image: its gateway binary probes one of them.
	sim := c.Services["upstream-sim"]
	if ht := sim.Healthcheck.Test; len(ht) != 4 || ht[1] != imageBinary(t) || ht[2] != "-probe" {
		t.Errorf("upstream-sim healthcheck = %v, want the image's gateway -probe", ht)
	} else if u, err := url.Parse(ht[3]); err != nil || !slices.Contains(sim.Command, "0.0.0.0:"+u.Port()) {
		t.Errorf("upstream-sim healthcheck probes %s, not a port the simulators listen on (%v)", ht[3], sim.Command)
	}

	// Prometheus scrapes the admin listener, which compose does not publish.
	admin := gw.Environment["GATEWAY_ADMIN_ADDR"]
	if admin == "" {
		t.Fatal("the gateway service sets no GATEWAY_ADMIN_ADDR: Prometheus could not reach /metrics")
	}
	var p struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus.yml", &p)
	if len(p.ScrapeConfigs) == 0 || len(p.ScrapeConfigs[0].StaticConfigs) == 0 ||
		!slices.Contains(p.ScrapeConfigs[0].StaticConfigs[0].Targets, "gateway:"+port(t, admin)) {
		t.Errorf("prometheus.yml scrapes %+v, want gateway:%s (GATEWAY_ADMIN_ADDR)", p.ScrapeConfigs, port(t, admin))
	}
	// The admin port may be published on the host's loopback only (the
	// README's metrics step reads it there, as in the demo), never on every
	// interface: the metrics carry tenant ids, credential names and usage.
	for _, published := range gw.Ports {
		if strings.HasSuffix(published, ":"+port(t, admin)) && !strings.HasPrefix(published, "127.0.0.1:") {
			t.Errorf("the gateway publishes its admin port on every host interface (%s), want 127.0.0.1 only", published)
		}
	}
}

// checkGoMemLimit checks that GOMEMLIMIT (in MiB) is about 80 % (70-90 %)
// of a container's memory limit of limitMiB, as the README says.
func checkGoMemLimit(t *testing.T, where, goMemLimit string, limitMiB float64) {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSuffix(goMemLimit, "MiB"), 64)
	if err != nil || !strings.HasSuffix(goMemLimit, "MiB") {
		t.Errorf("%s: GOMEMLIMIT %q, want a size in MiB", where, goMemLimit)
		return
	}
	if r := v / limitMiB; limitMiB <= 0 || r < 0.7 || r > 0.9 {
		t.Errorf("%s: GOMEMLIMIT %s of a %.0f MiB memory limit, want about 80 %% of it", where, goMemLimit, limitMiB)
	}
}

// TestComposeMemory: the gateway has a memory limit and its GOMEMLIMIT is
// about 80 % of it.
func TestComposeMemory(t *testing.T) {
	gw := readCompose(t).Services["gateway"]
	limit, ok := strings.CutSuffix(gw.MemLimit, "m")
	mib, err := strconv.ParseFloat(limit, 64)
	if !ok || err != nil {
		t.Fatalf("gateway mem_limit %q, want one in MiB (512m)", gw.MemLimit)
	}
	checkGoMemLimit(t, "compose's gateway", gw.Environment["GOMEMLIMIT"], mib)
}

// hostPorts are the host ports compose publishes, each with the host
// address it binds ("" for every interface).
func hostPorts(t *testing.T, c composeFile) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range c.Services {
		for _, p := range s.Ports {
			parts := strings.Split(p, ":")
			switch len(parts) {
			case 2:
				out[parts[0]] = ""
			case 3:
				out[parts[1]] = parts[0]
			default:
				t.Fatalf("compose port %q: want HOST:CONTAINER or IP:HOST:CONTAINER", p)
			}
		}
	}
	return out
}

// loadComposeConfig loads gateway.compose.yaml with the gateway service's
// compose environment, as the container does.
func loadComposeConfig(t *testing.T, c composeFile) *config.Config {
	t.Helper()
	env := c.Services["gateway"].Environment
	cfg, err := config.Load("gateway.compose.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("gateway.compose.yaml with the compose environment: %v", err)
	}
	return cfg
}

// TestComposeConfigIsTheDemo: compose's gateway has exactly the demo's
// credentials (secrets included, from the compose environment), tenants and
// fair-share settings, and points at compose's Redis and simulators.
func TestComposeConfigIsTheDemo(t *testing.T) {
	c := readCompose(t)
	cfg := loadComposeConfig(t, c)
	demo := config.Demo(nil)
	if d := cmp.Diff(demo.Credentials, cfg.Credentials); d != "" {
		t.Errorf("compose credentials differ from the demo's (-demo +compose):\n%s", d)
	}
	if d := cmp.Diff(demo.Tenants, cfg.Tenants); d != "" {
		t.Errorf("compose tenants differ from the demo's (-demo +compose):\n%s", d)
	}
	// The demo's fair-share rates: trying every FIPS operation out in
	// Swagger UI goes faster than the default per-tenant rate.
	if d := cmp.Diff(demo.Fairness, cfg.Fairness); d != "" {
		t.Errorf("compose fairness differs from the demo's (-demo +compose):\n%s", d)
	}
	if u, err := url.Parse(cfg.Redis.URL); err != nil || u.Hostname() != "redis" {
		t.Errorf("compose redis.url = %q, want the redis service", cfg.Redis.URL)
	}
	sim := c.Services["upstream-sim"]
	for name, base := range map[string]string{
		"garant": cfg.Upstreams.Garant.BaseURL, "fssp": cfg.Upstreams.FSSP.BaseURL, "fips": cfg.Upstreams.FIPS.BaseURL,
	} {
		u, err := url.Parse(base)
		if err != nil || u.Hostname() != "upstream-sim" || flagValue(sim.Command, "-addr-"+name) != "0.0.0.0:"+u.Port() {
			t.Errorf("compose upstreams.%s.base_url = %q, want the upstream-sim port of -addr-%s (%v)", name, base, name, sim.Command)
		}
	}
}

// TestREADMEMatchesCompose: the README's "Try it" uses keys of compose's
// tenants, only upstreams those tenants have credentials for, and the
// allocation it describes is the one compose configures.
func TestREADMEMatchesCompose(t *testing.T) {
	cfg := loadComposeConfig(t, readCompose(t))
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## Try it")
	if start < 0 {
		t.Fatal(`README.md has no "## Try it" section`)
	}
	tryIt := readme[start:]
	if end := strings.Index(tryIt[len("## Try it"):], "\n## "); end >= 0 {
		tryIt = tryIt[:len("## Try it")+end]
	}
	byKey := map[string]string{}
	for id, tn := range cfg.Tenants {
		for _, h := range tn.KeysSHA256 {
			byKey[h] = id
		}
	}
	keys := regexp.MustCompile(`Bearer ([A-Za-z0-9._-]+)`).FindAllStringSubmatch(tryIt, -1)
	if len(keys) == 0 {
		t.Fatal(`README "Try it" sends no Bearer key`)
	}
	// Every address the steps call on localhost is one compose publishes.
	published := hostPorts(t, readCompose(t))
	for _, m := range regexp.MustCompile(`localhost:(\d+)`).FindAllStringSubmatch(tryIt, -1) {
		if ip, ok := published[m[1]]; !ok || (ip != "" && ip != "127.0.0.1") {
			t.Errorf("README \"Try it\" calls localhost:%s, which compose does not publish on the host's loopback (%v)", m[1], published)
		}
	}
	upstreams := regexp.MustCompile(`/v1/(garant|fssp|fips)/`).FindAllStringSubmatch(tryIt, -1)
	for _, k := range keys {
		id, ok := byKey[config.HashKey(k[1])]
		if !ok {
			t.Errorf("README key %q is no compose tenant's key", k[1])
			continue
		}
		for _, up := range upstreams {
			if _, ok := cfg.Tenants[id].Credentials[up[1]]; !ok {
				t.Errorf("README calls /v1/%s/ as %s, which has no %s credential in compose", up[1], id, up[1])
			}
		}
	}
	// "alpha's allocation is 20 of the credential's 30 exports a month"
	m := regexp.MustCompile(`(\w+)'s allocation is (\d+) of the credential's (\d+) exports`).FindStringSubmatch(tryIt)
	if m == nil {
		t.Fatal(`README "Try it" no longer states the export allocation; update this test`)
	}
	tn, ok := cfg.Tenants[m[1]]
	if !ok {
		t.Fatalf("README names tenant %q, which compose does not have", m[1])
	}
	limit := func(ls []config.Limit) string {
		for _, l := range ls {
			if l.Family == "export" && l.Period == "month" {
				return strconv.FormatInt(l.Limit, 10)
			}
		}
		return "none"
	}
	if got := limit(tn.Limits); got != m[2] {
		t.Errorf("compose gives %s an export allocation of %s, README says %s", m[1], got, m[2])
	}
	if got := limit(cfg.Credentials[tn.Credentials[config.Garant]].Limits); got != m[3] {
		t.Errorf("compose's Garant credential allows %s exports, README says %s", got, m[3])
	}
}

// TestComposeConfigReloads: compose mounts the config's folder, not the
// file (the reloader watches the folder; a single-file bind mount never
// shows a file an editor replaced by renaming), and -config names the
// mounted file.
func TestComposeConfigReloads(t *testing.T) {
	c := readCompose(t)
	gw := c.Services["gateway"]
	if !slices.Contains(gw.Volumes, ".:/etc/legalgate:ro") {
		t.Errorf("gateway volumes = %q, want the config's folder (.:/etc/legalgate:ro)", gw.Volumes)
	}
	i := slices.Index(gw.Command, "-config")
	if i < 0 || i+1 >= len(gw.Command) || gw.Command[i+1] != "/etc/legalgate/gateway.compose.yaml" {
		t.Errorf("gateway command = %q, want -config /etc/legalgate/gateway.compose.yaml", gw.Command)
	}
}
