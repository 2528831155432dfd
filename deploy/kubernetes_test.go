package deploy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/legalgate/legalgate/internal/config"
)

// The parts of the Kubernetes objects these tests read.
type (
	k8sMeta struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	k8sObject struct {
		APIVersion string  `yaml:"apiVersion"`
		Kind       string  `yaml:"kind"`
		Metadata   k8sMeta `yaml:"metadata"`
	}
	k8sSelector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	k8sProbe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port any    `yaml:"port"` // a name or a number
		} `yaml:"httpGet"`
		PeriodSeconds    int `yaml:"periodSeconds"`
		TimeoutSeconds   int `yaml:"timeoutSeconds"`
		FailureThreshold int `yaml:"failureThreshold"`
	}
	k8sContainer struct {
		Name  string   `yaml:"name"`
		Image string   `yaml:"image"`
		Args  []string `yaml:"args"`
		Env   []struct {
			Name  string `yaml:"name"`
			Value string `yaml:"value"`
		} `yaml:"env"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
		LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
		Lifecycle      struct {
			PreStop struct {
				Sleep struct {
					Seconds int `yaml:"seconds"`
				} `yaml:"sleep"`
			} `yaml:"preStop"`
		} `yaml:"lifecycle"`
		Resources struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	}
	k8sDeployment struct {
		Spec struct {
			Replicas int         `yaml:"replicas"`
			Selector k8sSelector `yaml:"selector"`
			Template struct {
				Metadata k8sMeta `yaml:"metadata"`
				Spec     struct {
					TerminationGracePeriodSeconds int            `yaml:"terminationGracePeriodSeconds"`
					Containers                    []k8sContainer `yaml:"containers"`
					Volumes                       []struct {
						Name      string `yaml:"name"`
						ConfigMap *struct {
							Name  string `yaml:"name"`
							Items []struct {
								Key  string `yaml:"key"`
								Path string `yaml:"path"`
							} `yaml:"items"`
						} `yaml:"configMap"`
						Secret *struct {
							SecretName string `yaml:"secretName"`
						} `yaml:"secret"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	k8sService struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Port       int `yaml:"port"`
				TargetPort any `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	k8sPDB struct {
		Spec struct {
			MinAvailable   *int        `yaml:"minAvailable"`
			MaxUnavailable *int        `yaml:"maxUnavailable"`
			Selector       k8sSelector `yaml:"selector"`
		} `yaml:"spec"`
	}
)

// k8sManifests decodes every document of deploy/kubernetes/*.yaml, by kind
// and name, as raw YAML nodes to decode further.
func k8sManifests(t *testing.T) map[string]map[string]*yaml.Node {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	out := map[string]map[string]*yaml.Node{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s does not parse: %v", f, err)
			}
			var o k8sObject
			if err := n.Decode(&o); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "" || o.APIVersion == "" {
				t.Fatalf("%s: a document without kind or apiVersion", f)
			}
			if out[o.Kind] == nil {
				out[o.Kind] = map[string]*yaml.Node{}
			}
			out[o.Kind][o.Metadata.Name] = &n
		}
	}
	return out
}

func decodeOne[T any](t *testing.T, m map[string]map[string]*yaml.Node, kind string) (string, T) {
	t.Helper()
	var v T
	if len(m[kind]) != 1 {
		t.Fatalf("deploy/kubernetes has %d %s objects, want 1", len(m[kind]), kind)
	}
	for name, n := range m[kind] {
		if err := n.Decode(&v); err != nil {
			t.Fatalf("%s %s: %v", kind, name, err)
		}
		return name, v
	}
	return "", v
}

// matches reports whether selector selects labels.
func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestKubernetes parses deploy/kubernetes and checks that the pieces fit:
// three replicas with readiness on /readyz and liveness on /healthz at the
// port the config listens on, resources, scrape annotations on the admin
// port, a Service and a PodDisruptionBudget selecting the pods, and a
// mounted config that loads (secrets from the mounted Secret) with an
// external Redis.
func TestKubernetes(t *testing.T) {
	m := k8sManifests(t)
	_, dep := decodeOne[k8sDeployment](t, m, "Deployment")
	spec := dep.Spec.Template.Spec
	podLabels := dep.Spec.Template.Metadata.Labels
	if dep.Spec.Replicas != 3 {
		t.Errorf("Deployment replicas = %d, want 3", dep.Spec.Replicas)
	}
	if !matches(dep.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("Deployment selector %v does not select its pods %v", dep.Spec.Selector.MatchLabels, podLabels)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want the gateway alone", len(spec.Containers))
	}
	c := spec.Containers[0]
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	portOf := func(p any) int {
		switch v := p.(type) {
		case int:
			return v
		case string:
			return ports[v]
		}
		return 0
	}
	if !strings.Contains(c.Image, ":") || strings.HasSuffix(c.Image, ":latest") {
		t.Errorf("image %q, want a pinned tag or digest", c.Image)
	}

	// The config the container reads is the ConfigMap's gateway.yaml.
	cfgPath := flagValue(c.Args, "-config")
	var cfgYAML string
	mounted := map[string]string{} // volume name -> mount path
	for _, vm := range c.VolumeMounts {
		mounted[vm.Name] = vm.MountPath
		if !vm.ReadOnly {
			t.Errorf("volume %s is mounted writable", vm.Name)
		}
	}
	secretDir := ""
	for _, v := range spec.Volumes {
		dir, ok := mounted[v.Name]
		switch {
		case !ok:
			t.Errorf("volume %s is not mounted", v.Name)
		case v.ConfigMap != nil:
			for _, it := range v.ConfigMap.Items {
				if filepath.Join(dir, it.Path) != cfgPath {
					continue
				}
				var cm struct {
					Data map[string]string `yaml:"data"`
				}
				n, ok := m["ConfigMap"][v.ConfigMap.Name]
				if !ok {
					t.Fatalf("volume %s mounts ConfigMap %s, which is not in deploy/kubernetes", v.Name, v.ConfigMap.Name)
				}
				if err := n.Decode(&cm); err != nil {
					t.Fatal(err)
				}
				cfgYAML = cm.Data[it.Key]
			}
		case v.Secret != nil:
			if _, ok := m["Secret"][v.Secret.SecretName]; !ok {
				t.Errorf("volume %s mounts Secret %s, which is not in deploy/kubernetes", v.Name, v.Secret.SecretName)
			}
			secretDir = dir
		}
	}
	if cfgYAML == "" {
		t.Fatalf("-config %s is no mounted ConfigMap key", cfgPath)
	}
	// Its file: secrets are the mounted Secret's keys: load it with them.
	_, sec := decodeOne[struct {
		StringData map[string]string `yaml:"stringData"`
	}](t, m, "Secret")
	tmp := t.TempDir()
	for k, v := range sec.StringData {
		if err := os.WriteFile(filepath.Join(tmp, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if secretDir == "" || !strings.Contains(cfgYAML, "file:"+secretDir+"/") {
		t.Errorf("the config reads no secret from the mounted Secret (%q)", secretDir)
	}
	cfg, err := config.Parse([]byte(strings.ReplaceAll(cfgYAML, "file:"+secretDir+"/", "file:"+tmp+"/")), func(string) string { return "" })
	if err != nil {
		t.Fatalf("the mounted config does not load with the mounted secrets: %v", err)
	}
	if cfg.Redis.Embedded() {
		t.Errorf("the config has no Redis: every replica would have its own embedded one")
	}
	addr := cfg.Addr
	if a := flagValue(c.Args, "-addr"); a != "" {
		addr = a
	}
	httpPort, err := strconv.Atoi(port(t, addr))
	if err != nil || ports["http"] != httpPort {
		t.Errorf("the gateway listens on %s, the container port http is %d", addr, ports["http"])
	}

	// Probes: readiness on /readyz, liveness on /healthz, both at the API port.
	for name, p := range map[string]struct {
		probe *k8sProbe
		path  string
	}{"readiness": {c.ReadinessProbe, "/readyz"}, "liveness": {c.LivenessProbe, "/healthz"}} {
		switch {
		case p.probe == nil || p.probe.HTTPGet == nil:
			t.Errorf("no HTTP %s probe", name)
		case p.probe.HTTPGet.Path != p.path || portOf(p.probe.HTTPGet.Port) != httpPort:
			t.Errorf("%s probe GETs %s on port %v, want %s on %d", name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port, p.path, httpPort)
		case p.probe.PeriodSeconds == 0 || p.probe.TimeoutSeconds == 0 || p.probe.FailureThreshold == 0:
			t.Errorf("%s probe %+v, want period, timeout and failure threshold", name, *p.probe)
		}
	}

	// Resources: requests and a memory limit.
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" {
			t.Errorf("no %s request", r)
		}
	}
	memLimit := strings.TrimSuffix(c.Resources.Limits["memory"], "Mi")
	mib, err := strconv.Atoi(memLimit)
	if err != nil || mib < 128 {
		t.Errorf("memory limit %q, want at least 128Mi", c.Resources.Limits["memory"])
	}
	// The Go runtime's soft limit leaves the container room (README: about
	// 80 % of the memory limit).
	goMem := ""
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			goMem = e.Value
		}
	}
	checkGoMemLimit(t, "the Deployment", goMem, float64(mib))
	// The drain (server.shutdown_timeout) fits in the grace period after preStop.
	grace := time.Duration(spec.TerminationGracePeriodSeconds-c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	if grace <= cfg.Server.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds %d - preStop %ds leaves %s, want more than server.shutdown_timeout %s",
			spec.TerminationGracePeriodSeconds, c.Lifecycle.PreStop.Sleep.Seconds, grace, cfg.Server.ShutdownTimeout)
	}

	// Prometheus scrapes the admin listener the container opens.
	ann := dep.Spec.Template.Metadata.Annotations
	admin := ""
	for _, e := range c.Env {
		if e.Name == "GATEWAY_ADMIN_ADDR" {
			admin = e.Value
		}
	}
	if admin == "" {
		t.Fatal("GATEWAY_ADMIN_ADDR is not set: /metrics would stay on loopback")
	}
	if host, p, err := net.SplitHostPort(admin); err != nil || host == "127.0.0.1" || host == "localhost" ||
		p != strconv.Itoa(ports["admin"]) || ann["prometheus.io/port"] != p ||
		ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("admin listener %q, container port admin %d, annotations %v; want them to agree on a reachable port with /metrics",
			admin, ports["admin"], ann)
	}

	// The Service and the PodDisruptionBudget select the pods.
	_, svc := decodeOne[k8sService](t, m, "Service")
	if !matches(svc.Spec.Selector, podLabels) {
		t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, podLabels)
	}
	for _, p := range svc.Spec.Ports {
		if portOf(p.TargetPort) != httpPort {
			t.Errorf("Service port %d targets %v, want the API port %d", p.Port, p.TargetPort, httpPort)
		}
	}
	_, pdb := decodeOne[k8sPDB](t, m, "PodDisruptionBudget")
	if !matches(pdb.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the pods %v", pdb.Spec.Selector.MatchLabels, podLabels)
	}
	if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable < 1 || *pdb.Spec.MinAvailable >= dep.Spec.Replicas {
		t.Errorf("PodDisruptionBudget minAvailable %d, want at least 1 and fewer than %d replicas", deref(pdb.Spec.MinAvailable), dep.Spec.Replicas)
	}

	// kustomization.yaml lists every manifest.
	var k struct {
		Resources []string `yaml:"resources"`
	}
	readYAML(t, "kubernetes/kustomization.yaml", &k)
	files, _ := filepath.Glob("kubernetes/*.yaml")
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(k.Resources, base) {
			t.Errorf("kustomization.yaml does not list %s", base)
		}
	}
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
