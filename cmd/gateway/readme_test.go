package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
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
func TestREADMETryIt(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "grep", "cut", "head"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's steps need %s: %v", tool, err)
		}
	}
	script := readmeTryIt(t)
	t.Run("demo", func(t *testing.T) {
		t.Parallel()
		base, _ := startGateway(t, nil, nil)
		checkREADMESteps(t, script, base)
	})
	t.Run("compose", func(t *testing.T) {
		t.Parallel()
		base, _ := startGateway(t, []string{"-config", composeConfig(t)}, composeEnv(t))
		checkREADMESteps(t, script, base)
	})
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

// checkREADMESteps runs script with GW pointing at a recording proxy in front
// of base and checks every answer.
func checkREADMESteps(t *testing.T, script, base string) {
	t.Helper()
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		calls []answered
	)
	proxy := httputil.NewSingleHostReverseProxy(target)
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		proxy.ServeHTTP(sw, r)
		mu.Lock()
		calls = append(calls, answered{r.Method, r.URL.Path, sw.status})
		mu.Unlock()
	}))
	defer rec.Close()

	const gwLine = "GW=localhost:8080"
	if !strings.Contains(script, gwLine) {
		t.Fatalf("the README's steps no longer set %s; update this test", gwLine)
	}
	script = strings.Replace(script, gwLine, "GW="+strings.TrimPrefix(rec.URL, "http://"), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = "../.." // the FIPS step uploads README.md
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's steps: %v\n%s", err, out)
	}

	mu.Lock()
	defer mu.Unlock()
	var exports, exported, refused, invalid int
	seen := map[string]bool{}
	for _, c := range calls {
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
