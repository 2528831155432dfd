package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/legalgate/legalgate/client"
	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

// syncBuffer is a bytes.Buffer safe for the gateway's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startGateway runs run() with args and env until the test ends and returns
// its base URL once /healthz answers.
func startGateway(t *testing.T, args []string, env map[string]string) (string, *syncBuffer) {
	t.Helper()
	base, out, _ := startGatewayCtx(t, context.Background(), args, env)
	return base, out
}

// startGatewayCtx is startGateway whose run() also stops when parent ends;
// the returned channel yields run()'s error.
func startGatewayCtx(t *testing.T, parent context.Context, args []string, env map[string]string) (string, *syncBuffer, <-chan error) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	if !slices.Contains(args, "-admin-addr") { // gateways of parallel tests must not share the default
		args = append(args, "-admin-addr", fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t)))
	}
	ctx, cancel := context.WithCancel(parent)
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append(args, "-addr", addr), func(k string) string { return env[k] }, out, out)
	}()
	// result yields run()'s error twice: once to the test, once to the cleanup.
	result := make(chan error, 2)
	go func() { err := <-done; result <- err; result <- err }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-result:
			if err != nil {
				t.Errorf("run() = %v, want nil after a graceful shutdown", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("run() did not return within 15s of cancellation")
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-result:
			t.Fatalf("run() returned early: %v\n%s", err, out.String())
		default:
		}
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return base, out, result
			}
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("gateway did not answer /healthz within 20s\n%s", out.String())
	return "", nil, nil
}

func bearer(key string) client.ClientOption {
	return client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+key)
		return nil
	})
}

// TestEndToEnd boots the whole gateway through run() with a config file,
// real Redis and the three simulators, and talks to it with the generated
// public client.
func TestEndToEnd(t *testing.T) {
	rs := redistest.Start(t)
	garant := httptest.NewServer(garantsim.New(garantsim.DefaultConfig()))
	fssp := httptest.NewServer(fsspsim.New(fsspsim.DefaultConfig()))
	fips := httptest.NewServer(fipssim.New(fipssim.DefaultConfig()))
	t.Cleanup(garant.Close)
	t.Cleanup(fssp.Close)
	t.Cleanup(fips.Close)

	cfg := fmt.Sprintf(`
redis: {url: %q}
credentials:
  garant-main: {upstream: garant, secret: "${GARANT_TOKEN}", limits: [{family: export, period: month, limit: 30}]}
  fssp-main: {upstream: fssp, secret: "${FSSP_TOKEN}"}
tenants:
  billing:
    keys_sha256: [%s]
    credentials: {garant: garant-main, fssp: fssp-main}
upstreams:
  garant: {base_url: %q}
  fssp: {base_url: %q}
  fips: {base_url: %q}
`, rs.URL(), config.HashKey("billing-key"), garant.URL, fssp.URL, fips.URL+"/api/v1")
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	runCtx, stopGateway := context.WithCancel(context.Background())
	defer stopGateway()
	admin := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	base, logs, result := startGatewayCtx(t, runCtx, []string{"-config", path, "-admin-addr", admin},
		map[string]string{"GARANT_TOKEN": "demo-garant-token", "FSSP_TOKEN": "demo-fssp-token"})
	ctx := context.Background()

	anon, err := client.NewClientWithResponses(base)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewClientWithResponses(base, bearer("billing-key"))
	if err != nil {
		t.Fatal(err)
	}

	if res, err := anon.GetReadyzWithResponse(ctx); err != nil || res.StatusCode() != 200 {
		t.Fatalf("GET /readyz = %v, %v; want 200", status(res), err)
	}
	// Auth: no key is 401; a tenant without a FIPS credential is 403.
	if res, err := anon.GetQuotasWithResponse(ctx); err != nil || res.StatusCode() != 401 || res.ApplicationproblemJSON401 == nil {
		t.Errorf("GET /v1/quotas without a key = %v, %v; want a 401 problem", status(res), err)
	}
	if res, err := c.FipsListApplicationsWithResponse(ctx, nil); err != nil || res.StatusCode() != 403 {
		t.Errorf("GET /v1/fips/applications without a FIPS credential = %v, %v; want 403", status(res), err)
	}
	// Quotas come from the config.
	q, err := c.GetQuotasWithResponse(ctx)
	if err != nil || q.JSON200 == nil {
		t.Fatalf("GET /v1/quotas = %v, %v; want 200", status(q), err)
	}
	if len(q.JSON200.Quotas) != 1 || q.JSON200.Quotas[0].Limit != 30 || q.JSON200.Quotas[0].Family != "export" {
		t.Errorf("GET /v1/quotas = %+v, want the export limit of 30", q.JSON200.Quotas)
	}
	// Validation: a 400 problem naming the field, never forwarded upstream.
	before := garantCalls(t, garant.URL)
	res, err := c.GarantSearchWithResponse(ctx, nil, client.GarantSearchJSONRequestBody{Text: "кодекс", Env: "moon"})
	if err != nil || res.StatusCode() != 400 || res.ApplicationproblemJSON400 == nil {
		t.Fatalf("POST /v1/garant/search with env=moon = %v, %v; want a 400 problem", status(res), err)
	}
	if got := res.ApplicationproblemJSON400.Errors; len(got) == 0 || got[0].Field != "body.env" {
		t.Errorf("400 problem errors = %+v, want body.env", got)
	}
	if after := garantCalls(t, garant.URL); after != before {
		t.Errorf("simulator calls went from %d to %d on an invalid request, want no call", before, after)
	}
	// 404 and 405 problems; the contract and Swagger UI.
	for _, tc := range []struct {
		method, path string
		want         int
		ctype        string
	}{
		{"GET", "/v1/nothing", 404, "application/problem+json"},
		{"PUT", "/v1/quotas", 405, "application/problem+json"},
		{"GET", "/openapi.json", 200, "application/json"},
		{"GET", "/openapi.yaml", 200, "application/yaml"},
		{"GET", "/docs", 200, "text/html"},
		{"GET", "/metrics", 404, "application/problem+json"}, // on the admin listener only
		{"GET", "admin/metrics", 200, "text/plain"},
	} {
		url := base + tc.path
		if rest, ok := strings.CutPrefix(tc.path, "admin"); ok {
			url = "http://" + admin + rest
		}
		req, _ := http.NewRequest(tc.method, url, nil)
		req.Header.Set("Authorization", "Bearer billing-key")
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("%s %s = %d %q, want %d %s; body %.200s", tc.method, tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.want, tc.ctype, body)
		}
		if tc.path == "admin/metrics" && !strings.Contains(string(body), `gateway_http_requests_total{code="400",operation="garantSearch",tenant="billing"} 1`) {
			t.Errorf("/metrics lacks the 400 of garantSearch for tenant billing")
		}
	}
	// FSSP: a search is accepted with a task to poll; the FSSP token travels
	// in the upstream's query string and must not reach a log line.
	fs, err := c.FsspSearchPhysicalWithResponse(ctx, nil, client.FsspSearchPhysicalJSONRequestBody{
		Region: 77, Lastname: "ИВАНОВ", Firstname: "ИВАН"})
	if err != nil || fs.StatusCode() != 202 || fs.JSON202 == nil || !strings.HasPrefix(fs.HTTPResponse.Header.Get("Location"), "/v1/fssp/tasks/") {
		t.Fatalf("POST /v1/fssp/searches/physical = %v, %v; want 202 with a task Location", status(fs), err)
	}
	if task, err := c.FsspGetTaskWithResponse(ctx, fs.JSON202.ID, nil); err != nil || task.JSON200 == nil || task.JSON200.ID != fs.JSON202.ID {
		t.Errorf("GET /v1/fssp/tasks/%s = %v, %v; want the task", fs.JSON202.ID, status(task), err)
	}

	// Stop the gateway so that every log line is flushed, then read them all:
	// secrets never reach the logs, and every request has an access line.
	stopGateway()
	if err := <-result; err != nil {
		t.Fatalf("run() = %v after shutdown", err)
	}
	all := logs.String()
	for _, secret := range []string{"billing-key", "demo-garant-token", "demo-fssp-token", config.HashKey("billing-key")} {
		if strings.Contains(all, secret) {
			t.Errorf("logs contain the secret %q", secret)
		}
	}
	if n := strings.Count(all, `"msg":"request"`); n < 10 || !strings.Contains(all, `"request_id"`) || !strings.Contains(all, `"tenant":"billing"`) {
		t.Errorf("%d access log lines, want one per request with request_id and tenant", n)
	}
}

// TestH2C: the gateway speaks cleartext HTTP/2 to a client with prior
// knowledge, so long-polls can share a connection.
func TestH2C(t *testing.T) {
	base, _ := startGateway(t, nil, nil)
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
	res, err := c.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ProtoMajor != 2 || res.StatusCode != 200 {
		t.Errorf("GET /healthz over h2c = %s %d, want HTTP/2.0 200", res.Proto, res.StatusCode)
	}
	c.CloseIdleConnections()
}

// TestDemo boots the no-config demo: embedded Redis and in-process simulators.
func TestDemo(t *testing.T) {
	base, logs := startGateway(t, nil, nil)
	c, err := client.NewClientWithResponses(base, bearer(config.DemoKeyAlpha))
	if err != nil {
		t.Fatal(err)
	}
	q, err := c.GetQuotasWithResponse(context.Background())
	if err != nil || q.JSON200 == nil {
		t.Fatalf("GET /v1/quotas as demo-alpha = %v, %v; want 200", status(q), err)
	}
	if len(q.JSON200.Quotas) == 0 {
		t.Errorf("demo quotas are empty, want the documented Garant and FSSP limits")
	}
	// Each upstream answers through its in-process simulator.
	ctx := context.Background()
	topic, err := c.GarantGetTopicWithResponse(ctx, garantsim.TopicCivilCode, nil)
	if err != nil || topic.JSON200 == nil || topic.JSON200.Topic != garantsim.TopicCivilCode {
		t.Errorf("GET /v1/garant/topics/%d = %v, %v; want the document's info", garantsim.TopicCivilCode, status(topic), err)
	}
	apps, err := c.FipsListApplicationsWithResponse(ctx, nil)
	if err != nil || apps.JSON200 == nil || len(apps.JSON200.Applications) == 0 {
		t.Errorf("GET /v1/fips/applications = %v, %v; want the demo applicant's applications", status(apps), err)
	}
	// README's /compat/fips step: FIPS's own list, the key raw in Authorization.
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/compat/fips/applications", nil)
	req.Header.Set("Authorization", config.DemoKeyAlpha)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("GET /compat/fips/applications as demo-alpha = %v, %v; want 200", res, err)
	} else {
		var native []map[string]any
		if err := json.NewDecoder(res.Body).Decode(&native); err != nil || len(native) == 0 {
			t.Errorf("GET /compat/fips/applications = %v, %v; want FIPS's own list of the demo applicant's applications", native, err)
		}
		res.Body.Close()
	}
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && !strings.Contains(logs.String(), "DEMO MODE"); {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "EMBEDDED") || !strings.Contains(logs.String(), "DEMO MODE") || !strings.Contains(logs.String(), config.DemoKeyAlpha) {
		t.Errorf("the demo does not warn loudly about the embedded Redis and demo mode, or does not print the demo keys")
	}
	// It prints where its metrics are (on loopback), and warns of no plain-http
	// upstream: its simulators are in-process.
	if !waitLog(logs, `"msg":"admin listening","addr":"127.0.0.1:`) || strings.Contains(logs.String(), "plain http") {
		t.Errorf("the demo does not log its loopback admin address, or warns of its in-process simulators")
	}
}

func TestBadConfigNamesTheField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte("tenants:\n  a:\n    keys_sha256: [nothex]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"-config", path}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "tenants.a.keys_sha256[0]") {
		t.Errorf("run() with a bad key hash = %v, want an error naming tenants.a.keys_sha256[0]", err)
	}
}

func status(r interface{ StatusCode() int }) any {
	if r == nil {
		return "no response"
	}
	return r.StatusCode()
}

func garantCalls(t *testing.T, base string) int {
	t.Helper()
	res, err := http.Get(base + "/_sim/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var calls map[string]int
	if err := json.NewDecoder(res.Body).Decode(&calls); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range calls {
		total += n
	}
	return total
}

// TestGracefulShutdownDrains cancels run() while a request is in flight: the
// request completes, then run() returns nil.
func TestGracefulShutdownDrains(t *testing.T) {
	rs := redistest.Start(t)
	sim := garantsim.New(garantsim.DefaultConfig())
	garant := httptest.NewServer(sim)
	t.Cleanup(garant.Close)
	sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/v2/search", Latency: simkit.Duration(time.Second)})
	cfg := fmt.Sprintf(`
redis: {url: %q}
credentials:
  g: {upstream: garant, secret: demo-garant-token}
tenants:
  t: {keys_sha256: [%s], credentials: {garant: g}}
upstreams:
  garant: {base_url: %q}
`, rs.URL(), config.HashKey("k"), garant.URL)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	base, _, result := startGatewayCtx(t, ctx, []string{"-config", path}, nil)

	got := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", base+"/v1/garant/search", strings.NewReader(`{"text":"кодекс","env":"internet"}`))
		req.Header.Set("Authorization", "Bearer k")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- 0
			return
		}
		res.Body.Close()
		got <- res.StatusCode
	}()
	time.Sleep(300 * time.Millisecond) // the request is now waiting on the slow upstream
	cancel()
	select {
	case code := <-got:
		if code != 200 {
			t.Errorf("in-flight request during shutdown = %d, want 200", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("in-flight request did not complete during shutdown")
	}
	select {
	case err := <-result:
		if err != nil {
			t.Errorf("run() after drain = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run() did not return after the drain")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("the gateway still answers after shutdown")
	}
}

// startWithConfig writes yaml (with %s for the Redis URL) to a file and boots
// run() on it with an admin listener of its own; it returns the public and
// admin base URLs and the logs.
func startWithConfig(t *testing.T, yaml string, env map[string]string) (base, admin string, logs *syncBuffer) {
	t.Helper()
	rs := redistest.Start(t)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(yaml, rs.URL())), 0o600); err != nil {
		t.Fatal(err)
	}
	adminAddr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	base, logs = startGateway(t, []string{"-config", path, "-admin-addr", adminAddr}, env)
	return base, "http://" + adminAddr, logs
}

// waitLog waits up to 3 s for the gateway's batched logs to contain s.
func waitLog(logs *syncBuffer, s string) bool {
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(logs.String(), s) {
			return true
		}
	}
	return false
}

// get answers the status and body of a GET, with the demo key when key is set.
func get(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// adminTestConfig is one tenant k of one Garant credential g that is
// never called (startWithConfig fills in the Redis URL).
var adminTestConfig = `
redis: {url: %q}
credentials:
  g: {upstream: garant, secret: demo-garant-token}
tenants:
  t: {keys_sha256: [` + config.HashKey("k") + `], credentials: {garant: g}}
upstreams:
  garant: {base_url: "https://garant.invalid"}
`

// TestAdminListener: metrics (and pprof, off by default) are served on
// server.admin_addr only; the public port answers 404 there, with or
// without a key; the address is logged.
func TestAdminListener(t *testing.T) {
	cfg := adminTestConfig
	base, admin, logs := startWithConfig(t, cfg, nil)
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/heap"} {
		for _, key := range []string{"", "k"} {
			if code, body := get(t, base+path, key); code != 404 {
				t.Errorf("public GET %s (key %q) = %d, want 404; %.200s", path, key, code, body)
			}
		}
	}
	if code, body := get(t, admin+"/metrics", ""); code != 200 || !strings.Contains(body, `gateway_http_requests_total{code="200",operation="getHealthz"`) {
		t.Errorf("admin GET /metrics = %d, want 200 with the gateway's metrics; %.300s", code, body)
	}
	if code, _ := get(t, admin+"/debug/pprof/", ""); code != 404 {
		t.Errorf("admin GET /debug/pprof/ with pprof off (the default) = %d, want 404", code)
	}
	if !waitLog(logs, `"msg":"admin listening","addr":"`+strings.TrimPrefix(admin, "http://")+`"`) {
		t.Errorf("the admin address is not logged:\n%s", logs.String())
	}

	// Switched on, pprof is on the admin listener, still not on the public port.
	base, admin, _ = startWithConfig(t, cfg+"server: {pprof: true}\n", nil)
	if code, body := get(t, admin+"/debug/pprof/goroutine?debug=1", ""); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("admin GET /debug/pprof/goroutine with pprof on = %d, want 200; %.200s", code, body)
	}
	if code, _ := get(t, base+"/debug/pprof/goroutine?debug=1", "k"); code != 404 {
		t.Errorf("public GET /debug/pprof/goroutine with pprof on = %d, want 404", code)
	}
}

// TestSeriesExistAtZero: before any traffic, the cache's series of each
// cached Garant operation (and of the Garant bytes a /compat route reads)
// and each Garant credential's permission-denial series exist at 0, so
// that rate() and increase() see the first event.
func TestSeriesExistAtZero(t *testing.T) {
	cfg := adminTestConfig
	_, admin, _ := startWithConfig(t, cfg, nil)
	_, body := get(t, admin+"/metrics", "")
	for _, want := range []string{
		`gateway_cache_requests_total{operation="garantGetTopic",result="hit",upstream="garant"} 0`,
		`gateway_cache_requests_total{operation="garantGetTopic",result="stale",upstream="garant"} 0`,
		`gateway_cache_requests_total{operation="garantGetTopic.garant",result="miss",upstream="garant"} 0`,
		`gateway_cache_coalesced_total{operation="garantSearch",upstream="garant"} 0`,
		`gateway_cache_local_hits_total{operation="garantSearch",upstream="garant"} 0`,
		`gateway_credential_denied_total{credential="g",method="search",upstream="garant"} 0`,
		`gateway_credential_denied_total{credential="g",method="topic/download-pdf",upstream="garant"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, `gateway_cache_requests_total{operation="garantPurgeCache"`) {
		t.Errorf("/metrics has cache series of an operation that is not cached (garantPurgeCache)")
	}
}

// TestAdminAddrFromEnv: GATEWAY_ADMIN_ADDR moves the admin listener; the
// same address as the public one is refused.
func TestAdminAddrFromEnv(t *testing.T) {
	rs := redistest.Start(t)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	cfg := fmt.Sprintf(`
redis: {url: %q}
credentials:
  g: {upstream: garant, secret: demo-garant-token}
tenants:
  t: {keys_sha256: [%s], credentials: {garant: g}}
upstreams:
  garant: {base_url: "https://garant.invalid"}
`, rs.URL(), config.HashKey("k"))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	adminAddr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	// startGatewayCtx adds -admin-addr unless given; the flag would win over
	// the variable, so read the variable through a run of our own.
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	publicAddr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	go func() {
		done <- run(ctx, []string{"-config", path}, func(k string) string {
			return map[string]string{"GATEWAY_ADMIN_ADDR": adminAddr, "GATEWAY_ADDR": publicAddr}[k]
		}, out, out)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run() = %v", err)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if res, err := http.Get("http://" + adminAddr + "/metrics"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GATEWAY_ADMIN_ADDR %s does not serve /metrics\n%s", adminAddr, out.String())
		}
		time.Sleep(30 * time.Millisecond)
	}
	same := run(context.Background(), []string{"-config", path, "-addr", publicAddr, "-admin-addr", publicAddr},
		func(string) string { return "" }, io.Discard, io.Discard)
	if same == nil || !strings.Contains(same.Error(), "server.admin_addr") {
		t.Errorf("run() with admin_addr = addr: %v, want an error naming server.admin_addr", same)
	}
}

// TestPlainHTTPUpstreamWarns: outside the demo, an upstream reached over
// plain http:// is a start-up warning naming it; https is not.
func TestPlainHTTPUpstreamWarns(t *testing.T) {
	cfg := `
redis: {url: %q}
credentials:
  g: {upstream: garant, secret: demo-garant-token}
  f: {upstream: fssp, secret: demo-fssp-token}
tenants:
  t: {keys_sha256: [` + config.HashKey("k") + `], credentials: {garant: g, fssp: f}}
upstreams:
  garant: {base_url: "http://garant.internal:8080"}
  fssp: {base_url: "https://fssp.invalid"}
`
	_, _, logs := startWithConfig(t, cfg, nil)
	waitLog(logs, `"msg":"gateway listening"`) // logs are written in batches
	var warned []string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, "plain http") {
			warned = append(warned, line)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], `"level":"WARN"`) || !strings.Contains(warned[0], `"upstream":"garant","base_url":"http://garant.internal:8080"`) {
		t.Errorf("plain-http warnings = %q, want one WARN line naming garant", warned)
	}
}

// TestRedisURLFromEnvironment: redis.url may come from ${ENV} (a password
// included); a malformed one fails start-up without printing the password.
func TestRedisURLFromEnvironment(t *testing.T) {
	rs := redistest.Start(t, "--requirepass", "r3dis-pw")
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	cfg := `
redis: {url: "${REDIS_URL}"}
credentials:
  g: {upstream: garant, secret: demo-garant-token}
tenants:
  t: {keys_sha256: [` + config.HashKey("k") + `], credentials: {garant: g}}
upstreams:
  garant: {base_url: "https://garant.invalid"}
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	good := "redis://:r3dis-pw@" + rs.Addr + "/0"
	base, logs := startGateway(t, []string{"-config", path}, map[string]string{"REDIS_URL": good})
	if code, body := get(t, base+"/readyz", ""); code != 200 {
		t.Errorf("GET /readyz with redis.url from ${REDIS_URL} = %d %s, want 200 (Redis authenticated)", code, body)
	}
	var stderr syncBuffer
	err := run(context.Background(), []string{"-config", path, "-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0"},
		func(k string) string {
			return map[string]string{"REDIS_URL": "redis://:r3dis-pw@" + rs.Addr + "/zero"}[k]
		}, &stderr, &stderr)
	if err == nil || !strings.Contains(err.Error(), "redis.url") {
		t.Errorf("run() with a malformed redis.url = %v, want an error naming redis.url", err)
	}
	for _, out := range []string{fmt.Sprint(err), stderr.String(), logs.String()} {
		if strings.Contains(out, "r3dis-pw") {
			t.Errorf("the password of redis.url is printed: %.300s", out)
		}
	}
}
