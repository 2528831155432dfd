package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

func TestProbes(t *testing.T) {
	g := newGateway(t, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		res := g.do(t, "GET", path, "", nil)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
			t.Errorf("GET %s = %d %s, want 200 ok", path, res.StatusCode, body)
		}
	}
	var ready struct {
		ConfigGeneration int64 `json:"config_generation"`
		Checks           []struct{ Name, Status string }
	}
	if err := json.NewDecoder(g.do(t, "GET", "/readyz", "", nil).Body).Decode(&ready); err != nil ||
		ready.ConfigGeneration != 0 || len(ready.Checks) == 0 || ready.Checks[0].Name != "redis" || ready.Checks[0].Status != "ok" {
		t.Errorf("GET /readyz = %+v, %v; want config_generation 0 (a registry built by hand) and the redis check ok first", ready, err)
	}
	g.Redis.Stop()
	res := g.do(t, "GET", "/readyz", "", nil)
	raw, _ := io.ReadAll(res.Body)
	var notReady struct {
		Type   string
		Detail string
		Checks []struct{ Name, Status string }
	}
	if err := json.Unmarshal(raw, &notReady); err != nil || res.StatusCode != http.StatusServiceUnavailable ||
		!strings.HasSuffix(notReady.Type, "/not-ready") || !strings.Contains(notReady.Detail, "redis") ||
		len(notReady.Checks) == 0 || notReady.Checks[0].Status != "failing" {
		t.Errorf("GET /readyz with Redis down = %d %s, want 503 not-ready naming redis, its check failing", res.StatusCode, raw)
	}
	if res := g.do(t, "GET", "/healthz", "", nil); res.StatusCode != 200 {
		t.Errorf("GET /healthz with Redis down = %d, want 200 (liveness does not depend on Redis)", res.StatusCode)
	}
}

func TestAuth(t *testing.T) {
	g := newGateway(t, nil)
	for _, key := range []string{"", "wrong-key"} {
		res := g.do(t, "GET", "/v1/quotas", key, nil)
		p := readProblem(t, res, http.StatusUnauthorized)
		if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
			t.Errorf("WWW-Authenticate = %q, want Bearer", got)
		}
		if strings.Contains(p.Detail, key) && key != "" {
			t.Errorf("problem detail %q echoes the key", p.Detail)
		}
	}
	// Auth comes before parameter parsing: a bad path parameter without a key is 401.
	readProblem(t, g.do(t, "GET", "/v1/garant/topics/not-a-number", "", nil), http.StatusUnauthorized)
	// A tenant without a credential for the upstream: 403 naming it.
	p := readProblem(t, g.do(t, "GET", "/v1/fips/applications", keyNoCreds, nil), http.StatusForbidden)
	if p.Upstream != "fips" || !strings.Contains(p.Detail, "fips") {
		t.Errorf("403 problem = %+v, want it to name upstream fips", p)
	}
	if strings.Contains(g.Logs.String(), keyAlpha) || strings.Contains(g.Logs.String(), keyNoCreds) {
		t.Errorf("logs contain a tenant key")
	}
}

func TestValidation(t *testing.T) {
	g := newGateway(t, nil)
	tests := []struct {
		name, method, path string
		body               any
		wantFields         []string
	}{
		{"missing required", "POST", "/v1/garant/search", map[string]any{"text": "x"}, []string{"body.env"}},
		{"bad enum and range", "POST", "/v1/garant/search", map[string]any{"text": "x", "env": "moon", "page": 0}, []string{"body.env", "body.page"}},
		{"path parameter", "GET", "/v1/garant/topics/abc", nil, []string{"path.topic"}},
		{"export format", "GET", "/v1/garant/topics/1/export/docx", nil, []string{"path.format"}},
		{"too many topics", "POST", "/v1/garant/monitoring/documents", map[string]any{"topics": make([]int, 101), "modDate": "2024-01-01"}, []string{"body.topics"}},
		{"malformed json", "POST", "/v1/garant/search", `{"text":`, []string{"body"}},
		{"query wait range", "GET", "/v1/fssp/tasks/abc?wait=99", nil, []string{"query.wait"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := readProblem(t, g.do(t, tt.method, tt.path, keyAlpha, tt.body), http.StatusBadRequest)
			var got []string
			for _, f := range p.Errors {
				got = append(got, f.Field)
			}
			for _, want := range tt.wantFields {
				found := false
				for _, f := range got {
					found = found || strings.HasPrefix(f, want)
				}
				if !found {
					t.Errorf("%s %s: error fields = %v, want one naming %s (problem %+v)", tt.method, tt.path, got, want, p)
				}
			}
		})
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	g := newGateway(t, nil)
	p := readProblem(t, g.do(t, "GET", "/v1/nope", keyAlpha, nil), http.StatusNotFound)
	if !strings.Contains(p.Detail, "/v1/nope") {
		t.Errorf("404 detail = %q, want the path", p.Detail)
	}
	readProblem(t, g.do(t, "DELETE", "/v1/garant/search", keyAlpha, nil), http.StatusMethodNotAllowed)
}

func TestBodyTooLarge(t *testing.T) {
	g := newGateway(t, nil)
	big := `{"text":"` + strings.Repeat("a", 2<<20) + `","env":"internet"}`
	readProblem(t, g.do(t, "POST", "/v1/garant/search", keyAlpha, big), http.StatusRequestEntityTooLarge)
}

func TestContractAndDocs(t *testing.T) {
	g := newGateway(t, nil)
	res := g.do(t, "GET", "/openapi.json", "", nil)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	must(t, json.NewDecoder(res.Body).Decode(&doc))
	if doc.OpenAPI != "3.0.3" || doc.Paths["/v1/garant/search"]["post"] == nil {
		t.Errorf("/openapi.json: openapi %q, %d paths; want 3.0.3 with /v1/garant/search", doc.OpenAPI, len(doc.Paths))
	}
	// The JSON is the contract as written: operation ids as in the YAML.
	if get, _ := doc.Paths["/v1/quotas"]["get"].(map[string]any); get["operationId"] != "getQuotas" {
		t.Errorf("/openapi.json operationId of GET /v1/quotas = %v, want getQuotas as in api/openapi.yaml", get["operationId"])
	}
	res = g.do(t, "GET", "/openapi.yaml", "", nil)
	body, _ := io.ReadAll(res.Body)
	if !strings.HasPrefix(string(body), "openapi: 3.0.3") {
		t.Errorf("/openapi.yaml starts %q, want openapi: 3.0.3", string(body[:min(40, len(body))]))
	}
	res = g.do(t, "GET", "/docs", "", nil)
	body, _ = io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(body), "swagger") || !strings.Contains(string(body), "/openapi.json") {
		t.Fatalf("GET /docs = %d, want the Swagger UI page loading /openapi.json; body %.300s", res.StatusCode, body)
	}
	res = g.do(t, "GET", "/docs/swagger-ui-bundle.js", "", nil)
	if res.StatusCode != 200 {
		t.Errorf("GET /docs/swagger-ui-bundle.js = %d, want 200 (assets embedded)", res.StatusCode)
	}
}

func TestMetrics(t *testing.T) {
	g := newGateway(t, nil)
	g.do(t, "GET", "/v1/quotas", keyAlpha, nil)
	g.do(t, "GET", "/v1/quotas", "", nil)
	// Metrics are served by the admin listener's handler only.
	admin := httptest.NewServer(handlers.NewAdmin(g.Deps.Registry, false))
	t.Cleanup(admin.Close)
	res, err := admin.Client().Get(admin.URL + "/metrics")
	must(t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	text := string(body)
	for _, want := range []string{
		`gateway_http_requests_total{code="200",operation="getQuotas",tenant="alpha"} 1`,
		`gateway_http_requests_total{code="401",operation="getQuotas",tenant=""} 1`,
		"gateway_http_request_duration_seconds_bucket", "go_goroutines", "gateway_redis_pool_connections",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(mustGather(t, g)).Lint()
	must(t, err)
	if len(problems) > 0 {
		t.Errorf("promlint: %v", problems)
	}
	if strings.Contains(text, keyAlpha) || strings.Contains(text, "demo-garant-token") {
		t.Errorf("/metrics contains a secret")
	}
}

// TestAdminRoutesOnlyOnAdmin: the public API answers 404 on /metrics and
// /debug/pprof/, with or without a key; the admin handler serves /metrics,
// and pprof only when switched on.
func TestAdminRoutesOnlyOnAdmin(t *testing.T) {
	g := newGateway(t, nil)
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/heap"} {
		for _, key := range []string{"", keyAlpha} {
			readProblem(t, g.do(t, "GET", path, key, nil), 404)
		}
	}
	for _, tc := range []struct {
		pprof bool
		path  string
		want  int
	}{
		{false, "/metrics", 200},
		{false, "/debug/pprof/", 404},
		{false, "/debug/pprof/heap", 404},
		{false, "/v1/quotas", 404},
		{true, "/debug/pprof/", 200},
		{true, "/debug/pprof/goroutine?debug=1", 200},
		{true, "/debug/pprof/cmdline", 200},
	} {
		admin := httptest.NewServer(handlers.NewAdmin(g.Deps.Registry, tc.pprof))
		res, err := admin.Client().Get(admin.URL + tc.path)
		must(t, err)
		res.Body.Close()
		admin.Close()
		if res.StatusCode != tc.want {
			t.Errorf("admin (pprof %v) GET %s = %d, want %d", tc.pprof, tc.path, res.StatusCode, tc.want)
		}
	}
}

func TestQuotas(t *testing.T) {
	g := newGateway(t, nil)
	res := g.do(t, "GET", "/v1/quotas", keyAlpha, nil)
	var got struct {
		Quotas []struct {
			Upstream, Family, Scope, Owner, Period string
			Limit, Used, Remaining                 int64
		} `json:"quotas"`
	}
	must(t, json.NewDecoder(res.Body).Decode(&got))
	type row struct {
		Upstream, Family, Scope, Owner, Period string
		Limit, Remaining                       int64
	}
	var rows []row
	for _, q := range got.Quotas {
		rows = append(rows, row{q.Upstream, q.Family, q.Scope, q.Owner, q.Period, q.Limit, q.Remaining})
	}
	want := []row{{"garant", "export", "credential", "garant-test", "month", 30, 30}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("GET /v1/quotas mismatch (-want +got):\n%s", diff)
	}
	var raw struct {
		Quotas []struct {
			Used     int64     `json:"used"`
			ResetsAt time.Time `json:"resets_at"`
			Source   string    `json:"source"`
		} `json:"quotas"`
	}
	res = g.do(t, "GET", "/v1/quotas", keyAlpha, nil)
	must(t, json.NewDecoder(res.Body).Decode(&raw))
	msk := time.FixedZone("MSK", 3*60*60)
	now := time.Now().In(msk)
	firstOfNext := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, msk)
	if q := raw.Quotas[0]; q.Used != 0 || q.Source != "config" || !q.ResetsAt.Equal(firstOfNext) {
		t.Errorf("quota = used %d, source %q, resets_at %v; want 0, config, %v (the 1st of next month, Moscow)", q.Used, q.Source, q.ResetsAt, firstOfNext)
	}
	// Redis down: the quota store is unavailable, a 503 problem, not a 500.
	g.Redis.Stop()
	readProblem(t, g.do(t, "GET", "/v1/quotas", keyAlpha, nil), http.StatusServiceUnavailable)
}

func TestRequestIDEchoed(t *testing.T) {
	g := newGateway(t, nil)
	res := g.do(t, "GET", "/healthz", "", nil, "X-Request-ID", "client-chosen-id-123")
	if got := res.Header.Get("X-Request-ID"); got != "client-chosen-id-123" {
		t.Errorf("X-Request-ID = %q, want the caller's", got)
	}
	res = g.do(t, "GET", "/healthz", "", nil, "X-Request-ID", "bad id with spaces")
	if got := res.Header.Get("X-Request-ID"); got == "" || strings.Contains(got, " ") {
		t.Errorf("X-Request-ID = %q, want a fresh id", got)
	}
}

// TestEscapedPathsAreGuarded: a path chi routes on its raw, escaped form is
// still authenticated and validated; no operation runs without the guard.
func TestEscapedPathsAreGuarded(t *testing.T) {
	g := newGateway(t, nil)
	for _, path := range []string{
		"/v1/fips/applications/TMA26%2F1", "/v1/fips/applications/..%2F1", "/v1/fips/applications/a%20b",
		"/v1/garant/topics/1%2F2",
	} {
		res := g.do(t, "GET", path, "", nil)
		if res.StatusCode != http.StatusUnauthorized && res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s without a key = %d, want 401 (or 404 when no route matches)", path, res.StatusCode)
		}
		if res := g.do(t, "GET", path, keyNoCreds, nil); res.StatusCode == http.StatusOK || res.StatusCode == http.StatusNotImplemented {
			t.Errorf("GET %s as a tenant without credentials = %d, want a refusal by the guard", path, res.StatusCode)
		}
	}
}

// TestStreamedUploadNeedsLength: a chunked upload is refused before it is read.
func TestStreamedUploadNeedsLength(t *testing.T) {
	g := newGateway(t, nil)
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write([]byte("--b\r\n")); _ = pw.Close() }()
	req, _ := http.NewRequest("PUT", g.URL+"/v1/fips/applications/1/documents/2/file", pr)
	req.Header.Set("Authorization", "Bearer "+keyAlpha)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	res, err := g.Client().Do(req)
	must(t, err)
	defer res.Body.Close()
	readProblem(t, res, http.StatusLengthRequired)
}

// TestEveryKindHasAStatus: the one table maps every error kind.
func TestEveryKindHasAStatus(t *testing.T) {
	for k := apperr.Internal; k <= apperr.UpstreamTimeout; k++ {
		if got := handlers.StatusOf(&apperr.Error{Kind: k}); got == http.StatusInternalServerError && k != apperr.Internal {
			t.Errorf("StatusOf(kind %v) = 500, want its own status", k)
		}
	}
}
