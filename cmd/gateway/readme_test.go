package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

// TestREADMETryIt runs the shell block of the README's "Try it" section as
// written (bash and curl) against the demo and against the compose stack's
// configuration (deploy/gateway.compose.yaml with compose's environment, its
// Redis and simulators replaced by local ones), through a proxy that records
// every answer. Every step succeeds except those the README says fail: the
// exports past alpha's allocation of 20 (429) and the invalid search (400).
// The metrics step reads the gateway's admin listener. Then the README's
// other commands for the demo ("In the demo: `curl ...`") run against it.
func TestREADMETryIt(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "grep", "cut", "head"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's steps need %s: %v", tool, err)
		}
	}
	script, demoCommands := readmeTryIt(t), readmeDemoCommands(t)
	t.Run("demo", func(t *testing.T) {
		t.Parallel()
		admin := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
		base, _ := startGateway(t, []string{"-admin-addr", admin}, nil)
		checkREADMESteps(t, script, base, admin)
		checkREADMEDemoCommands(t, demoCommands, base)
	})
	t.Run("compose", func(t *testing.T) {
		t.Parallel()
		admin := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
		base, _ := startGateway(t, []string{"-config", composeConfig(t), "-admin-addr", admin}, composeEnv(t))
		checkREADMESteps(t, script, base, admin)
		checkREADMEDemoCommands(t, demoCommands, base)
	})
}

// readmeDemoCommands returns the README's inline commands for the demo
// outside "Try it" (each "In the demo: `curl ...`"), a line break inside
// one read as a space, as a reader pasting it would.
func readmeDemoCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile("In the demo:\\s+`([^`]+)`").FindAllStringSubmatch(string(b), -1) {
		out = append(out, strings.Join(strings.Fields(m[1]), " "))
	}
	if len(out) < 3 {
		t.Fatalf("README has %d \"In the demo: `...`\" commands, want the three of \"Migrating\" (Garant, FSSP, FIPS); update this test", len(out))
	}
	return out
}

// checkREADMEDemoCommands runs each command, its localhost:8080 pointing at
// a recording proxy in front of base: each must call the gateway and every
// answer must be a success.
func checkREADMEDemoCommands(t *testing.T, commands []string, base string) {
	t.Helper()
	for _, command := range commands {
		if strings.Count(command, "localhost:8080") != 1 {
			t.Errorf("README command %q does not call localhost:8080 once; update this test", command)
			continue
		}
		rec, calls := recordingProxy(t, base)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-c", strings.Replace(command, "localhost:8080", strings.TrimPrefix(rec.URL, "http://"), 1))
		out, err := cmd.CombinedOutput()
		cancel()
		rec.Close()
		got := calls()
		if err != nil || len(got) == 0 {
			t.Errorf("README command %q: %v, %d calls\n%s", command, err, len(got), out)
			continue
		}
		for _, c := range got {
			if c.status < 200 || c.status > 299 {
				t.Errorf("README command %q: %s %s = %d, want a success\n%.300s", command, c.method, c.path, c.status, out)
			}
		}
	}
}

// readmeTryIt returns the first sh block of README.md's "Try it" section.
func readmeTryIt(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Try it\n")
	if !ok {
		t.Fatal(`README.md has no "## Try it" section`)
	}
	_, block, ok := strings.Cut(section, "```sh\n")
	if !ok {
		t.Fatal(`README "Try it" has no sh block`)
	}
	block, _, _ = strings.Cut(block, "```")
	return block
}

// composeEnv is the gateway service's environment in deploy/docker-compose.yml.
func composeEnv(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Services["gateway"].Environment
}

// composeConfig writes deploy/gateway.compose.yaml with compose's Redis and
// simulator hosts replaced by a real redis-server and in-process simulators.
func composeConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/gateway.compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	rs := redistest.Start(t)
	for _, r := range []struct {
		from string
		to   http.Handler
	}{
		{"http://upstream-sim:9101", garantsim.New(garantsim.DefaultConfig())},
		{"http://upstream-sim:9102", fsspsim.New(fsspsim.DefaultConfig())},
		{"http://upstream-sim:9103", fipssim.New(fipssim.DefaultConfig())},
	} {
		srv := httptest.NewServer(r.to)
		t.Cleanup(srv.Close)
		cfg = replaceOnce(t, cfg, r.from, srv.URL)
	}
	cfg = replaceOnce(t, cfg, "redis://redis:6379/0", rs.URL())
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func replaceOnce(t *testing.T, s, from, to string) string {
	t.Helper()
	if strings.Count(s, from) != 1 {
		t.Fatalf("deploy/gateway.compose.yaml has %q %d times, want once", from, strings.Count(s, from))
	}
	return strings.Replace(s, from, to, 1)
}

type answered struct {
	method, path string
	status       int
}

// recordingProxy is a proxy in front of base that records every answer;
// calls returns those recorded so far.
func recordingProxy(t *testing.T, base string) (rec *httptest.Server, calls func() []answered) {
	t.Helper()
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got []answered
	)
	proxy := httputil.NewSingleHostReverseProxy(target)
	rec = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		proxy.ServeHTTP(sw, r)
		mu.Lock()
		got = append(got, answered{r.Method, r.URL.Path, sw.status})
		mu.Unlock()
	}))
	t.Cleanup(rec.Close)
	return rec, func() []answered {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// checkREADMESteps runs script with GW pointing at a recording proxy in front
// of base, and the admin listener's localhost:8081 at admin, and checks every
// answer.
func checkREADMESteps(t *testing.T, script, base, admin string) {
	t.Helper()
	rec, recorded := recordingProxy(t, base)
	defer rec.Close()

	const gwLine, adminAddr = "GW=localhost:8080", "localhost:8081"
	if !strings.Contains(script, gwLine) || !strings.Contains(script, adminAddr+"/metrics") {
		t.Fatalf("the README's steps no longer set %s or read %s/metrics; update this test", gwLine, adminAddr)
	}
	script = strings.Replace(script, gwLine, "GW="+strings.TrimPrefix(rec.URL, "http://"), 1)
	script = strings.ReplaceAll(script, adminAddr, admin)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = "../.." // the FIPS step uploads README.md
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's steps: %v\n%s", err, out)
	}
	// The metrics step prints the quota gauges.
	if !regexp.MustCompile(`(?m)^gateway_quota_remaining\{.*\} \d+$`).Match(out) {
		t.Errorf("the README's metrics step printed no gateway_quota_remaining line; the script's output:\n%s", out)
	}

	var exports, exported, refused, invalid int
	seen := map[string]bool{}
	for _, c := range recorded() {
		seen[c.method+" "+routeOf(c.path)] = true
		switch {
		case c.method == "GET" && strings.HasSuffix(c.path, "/export/pdf"):
			exports++
			switch c.status {
			case 200:
				exported++
			case 429:
				refused++
			default:
				t.Errorf("%s %s = %d, want 200, or 429 past the allocation", c.method, c.path, c.status)
			}
		case c.status == 400 && c.method == "POST" && c.path == "/v1/garant/search":
			invalid++
		case c.status < 200 || c.status > 299:
			t.Errorf("%s %s = %d, want a success", c.method, c.path, c.status)
		}
	}
	if exports != 22 || exported != 20 || refused != 2 {
		t.Errorf("%d exports: %d answered, %d refused; want 22: 20 within alpha's allocation, 2 refused with 429", exports, exported, refused)
	}
	if invalid != 1 {
		t.Errorf("%d searches answered 400, want the README's one invalid search", invalid)
	}
	for _, want := range []string{
		"GET /healthz", "GET /v1/quotas", "POST /v1/garant/search", "GET /v1/garant/topics/{topic}",
		"POST /v1/fssp/searches/physical", "POST /v1/fips/applications", "POST /v1/fips/applications/{id}/documents",
		"PUT /v1/fips/applications/{id}/documents/{id}/file", "GET /v1/fips/applications/{id}/documents/{id}/file",
	} {
		if !seen[want] {
			t.Errorf("the README's steps made no %s call (the script's output:\n%s)", want, out)
		}
	}
}

// routeOf replaces the ids in a path by placeholders.
func routeOf(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if p != "" && strings.Trim(p, "0123456789") == "" {
			if i > 0 && parts[i-1] == "topics" {
				parts[i] = "{topic}"
			} else {
				parts[i] = "{id}"
			}
		}
	}
	return strings.Join(parts, "/")
}

// statusWriter remembers the status the proxy answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
