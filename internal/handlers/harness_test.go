package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	apispec "github.com/legalgate/legalgate/api"
	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/usage"
	"github.com/legalgate/legalgate/internal/webhooks"
)

// gateway is a test gateway: the real router over real Redis.
type gateway struct {
	*httptest.Server
	Deps  *handlers.Deps
	Redis *redistest.Server
	Logs  *syncBuffer // written by the server's goroutines while a test reads it
}

// Tenant keys of the test gateway.
const (
	keyAlpha   = "test-key-alpha"   // garant, fssp, fips credentials
	keyOther   = "test-key-other"   // the same credentials as alpha, another tenant
	keyNoCreds = "test-key-nocreds" // no upstream credential at all
)

// newGateway builds the router with tenants alpha, other and nocreds. edit may add
// upstream dependencies to Deps before the router is built.
func newGateway(t testing.TB, edit func(*handlers.Deps)) *gateway {
	t.Helper()
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	tenants := tenant.NewRegistry()
	for _, c := range []*tenant.Credential{
		{Name: "garant-test", Upstream: "garant", Secret: tenant.NewSecret("demo-garant-token")},
		{Name: "fssp-test", Upstream: "fssp", Secret: tenant.NewSecret("demo-fssp-token")},
		{Name: "fips-test", Upstream: "fips", Secret: tenant.NewSecret("demo-fips-key")},
	} {
		tenants.AddCredential(c)
	}
	alpha := &tenant.Tenant{ID: "alpha", Admin: true, Credentials: map[string]*tenant.Credential{}}
	for _, up := range []string{"garant", "fssp", "fips"} {
		c, _ := tenants.Credential(up + "-test")
		alpha.Credentials[up] = c
	}
	must(t, tenants.AddTenant(alpha, []string{config.HashKey(keyAlpha)}))
	other := &tenant.Tenant{ID: "other", Credentials: alpha.Credentials}
	must(t, tenants.AddTenant(other, []string{config.HashKey(keyOther)}))
	must(t, tenants.AddTenant(&tenant.Tenant{ID: "nocreds"}, []string{config.HashKey(keyNoCreds)}))

	reg := metrics.NewRegistry()
	metrics.RegisterRedisPool(reg, rdb)
	q, err := quota.New(rdb, quota.Config{Rules: []quota.Rule{
		{Scope: quota.ScopeCredential, Owner: "garant-test", Upstream: "garant", Family: "export", Period: quota.PeriodMonth, Limit: 30},
	}}, reg)
	must(t, err)
	logs := &syncBuffer{}
	d := &handlers.Deps{
		Log: slog.New(slog.NewJSONHandler(logs, nil)), Tenants: tenants, Redis: rdb,
		Registry: reg, HTTP: metrics.NewHTTP(reg), Quotas: &usage.Reports{Quota: q}, SpecYAML: apispec.YAML,
		Webhooks: webhooks.New(rdb, webhooks.Config{}, nil, slog.New(slog.DiscardHandler)),
	}
	if edit != nil {
		edit(d)
	}
	if d.Garant != nil && d.Garant.Quota == nil {
		d.Garant.Quota = d.Quotas.Quota // the Garant service meters with the gateway's engine
	}
	h, err := handlers.NewServer(d)
	must(t, err)
	srv := serveChecked(t, h)
	return &gateway{Server: srv, Deps: d, Redis: rs, Logs: logs}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// do sends a request with an optional tenant key and JSON body.
func (g *gateway) do(t *testing.T, method, path, key string, body any, hdr ...string) *http.Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		must(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, g.URL+path, rd)
	must(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := g.Client().Do(req)
	must(t, err)
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// problemDoc is a decoded problem document.
type problemDoc struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance"`
	RequestID string `json:"request_id"`
	Upstream  string `json:"upstream"`
	Errors    []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// readProblem checks res is a problem with status and decodes it.
func readProblem(t *testing.T, res *http.Response, status int) problemDoc {
	t.Helper()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		t.Fatalf("%s %s = %d, want %d; body %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, body)
	}
	var p problemDoc
	must(t, json.Unmarshal(body, &p))
	if p.Status != status || p.RequestID == "" || p.RequestID != res.Header.Get("X-Request-ID") ||
		!strings.HasSuffix(p.Instance, p.RequestID) {
		t.Fatalf("problem %+v: status, request_id or instance wrong (X-Request-ID %q)", p, res.Header.Get("X-Request-ID"))
	}
	return p
}

var _ = prometheus.NewRegistry

func mustGather(t *testing.T, g *gateway) []*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Deps.Registry.Gather()
	must(t, err)
	return mfs
}
