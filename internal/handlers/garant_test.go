package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/garantsvc"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
	"github.com/legalgate/legalgate/internal/upstreamguard"
	"github.com/legalgate/legalgate/internal/usage"
)

// Extra tenants of the Garant tests.
const (
	keyGarantBeta = "test-key-garant-beta"    // second tenant of credential garant-test, not admin
	keyLimited    = "test-key-garant-limited" // credential with the tariff lacking sutyazhnik and exports
	keyBogus      = "test-key-garant-bogus"   // credential Garant rejects everywhere
)

// garantEnv is a test gateway wired to a Garant simulator over real HTTP.
type garantEnv struct {
	*gateway
	sim    *garantsim.Server
	simURL string
}

// simConfig is the demo configuration without the simulator's own rate
// limit, for tests about other things.
func simConfig() garantsim.Config {
	cfg := garantsim.DefaultConfig()
	cfg.RatePerSecond = 10000
	return cfg
}

func newGarantEnv(t *testing.T, simCfg garantsim.Config, tune func(*handlers.Deps)) *garantEnv {
	t.Helper()
	sim := garantsim.New(simCfg)
	ss := httptest.NewServer(sim)
	t.Cleanup(ss.Close)
	env := &garantEnv{sim: sim, simURL: ss.URL}
	env.gateway = newGateway(t, func(d *handlers.Deps) {
		reg := d.Tenants.Load()
		for _, c := range []*tenant.Credential{
			{Name: "garant-limited", Upstream: "garant", Secret: tenant.NewSecret(garantsim.DemoLimitedToken)},
			{Name: "garant-bogus", Upstream: "garant", Secret: tenant.NewSecret("not-a-garant-token")},
		} {
			reg.AddCredential(c)
		}
		for key, cred := range map[string]string{keyGarantBeta: "garant-test", keyLimited: "garant-limited", keyBogus: "garant-bogus"} {
			c, _ := reg.Credential(cred)
			id := strings.TrimPrefix(key, "test-key-")
			must(t, reg.AddTenant(&tenant.Tenant{ID: id, Credentials: map[string]*tenant.Credential{"garant": c}}, []string{config.HashKey(key)}))
		}
		d.Quotas = &usage.Reports{Quota: garantQuota(t, d.Redis)}
		d.Garant = garantDeps(t, d.Redis, d.Registry, ss.URL)
		if tune != nil {
			tune(d)
		}
	})
	return env
}

// garantQuota is the engine of the Garant tests: the documented monthly
// limits and a per-second rate below Garant's 20 (the window is fixed, so 10
// a second never makes 20 within any sliding second).
func garantQuota(t testing.TB, rdb redis.UniversalClient) *quota.Engine {
	t.Helper()
	var rules []quota.Rule
	for fam, limit := range map[string]int64{quota.FamilyExport: 30, quota.FamilyTopicInfo: 300, quota.FamilyLinksControl: 1000} {
		rules = append(rules, quota.Rule{Scope: quota.ScopeCredential, Upstream: "garant", Family: fam, Period: quota.PeriodMonth, Limit: limit})
	}
	rules = append(rules, quota.Rule{Scope: quota.ScopeCredential, Upstream: "garant", Family: quota.FamilyRate, Period: quota.PeriodSecond, Limit: 10})
	q, err := quota.New(rdb, quota.Config{Rules: rules, RateWait: 5 * time.Second,
		FailOpen: map[string]bool{"garant/" + quota.FamilyRate: true}}, prometheus.NewRegistry())
	must(t, err)
	return q
}

// garantDeps wires the Garant client through an upstream guard as the
// gateway does (pacing to 20 a second, Garant's 429s retried), with a
// breaker that only opens after many failures and a retry budget of the
// whole rate: the fault tests here count on every call reaching the
// simulator (the breaker and the budget have tests of their own).
func garantDeps(t testing.TB, rdb redis.UniversalClient, reg prometheus.Registerer, simURL string) *garantsvc.Service {
	t.Helper()
	return garantGuarded(t, rdb, reg, simURL, upstreamguard.Config{Failures: 1000, RetryShare: 1})
}

// garantGuarded is garantDeps with the guard configured by gc (its
// credentials and retried upstreams are filled in).
func garantGuarded(t testing.TB, rdb redis.UniversalClient, reg prometheus.Registerer, simURL string, gc upstreamguard.Config) *garantsvc.Service {
	t.Helper()
	for _, name := range []string{"garant-test", "garant-limited", "garant-bogus"} {
		gc.Credentials = append(gc.Credentials, upstreamguard.Credential{Upstream: "garant", Name: name, Rate: 20})
	}
	gc.RetryTooManyRequests = []string{"garant"}
	guard, err := upstreamguard.New(rdb, gc, reg)
	must(t, err)
	um := metrics.NewUpstream(reg)
	c, err := garant.New(garant.Config{BaseURL: simURL, Timeout: 5 * time.Second, // covers the guard's wait for a pacing turn (up to 2s)
		Transport: guard.Transport("garant", um.Transport("garant", http.DefaultTransport))})
	must(t, err)
	store, err := cache.New(rdb, cache.Config{}, reg)
	must(t, err)
	return &garantsvc.Service{Client: c, Cache: store, Guard: guard, Metrics: um}
}

// replica is one more gateway instance on the same Redis and simulator.
func (e *garantEnv) replica(t *testing.T) *httptest.Server {
	t.Helper()
	d := *e.Deps
	d.Registry = metrics.NewRegistry()
	d.HTTP = metrics.NewHTTP(d.Registry)
	d.Quotas = &usage.Reports{Quota: garantQuota(t, d.Redis)}
	d.Garant = garantDeps(t, d.Redis, d.Registry, e.simURL)
	d.Garant.Quota = d.Quotas.Quota
	h, err := handlers.NewServer(&d)
	must(t, err)
	srv := serveChecked(t, h)
	return srv
}

// send is gateway.do for any instance; it returns the status, headers and body.
func send(t *testing.T, srv *httptest.Server, method, path, key string, body any, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		must(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	must(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := srv.Client().Do(req)
	must(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(t, err)
	return res.StatusCode, res.Header, b
}

func (e *garantEnv) send(t *testing.T, method, path, key string, body any, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	return send(t, e.Server, method, path, key, body, hdr...)
}

func problemOf(t *testing.T, status int, h http.Header, b []byte) problemDoc {
	t.Helper()
	if ct := h.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d Content-Type %q, want a problem; body %s", status, ct, b)
	}
	var p problemDoc
	must(t, json.Unmarshal(b, &p))
	return p
}

func TestGarantOperations(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	from := time.Now().AddDate(0, 0, -5).Format(time.DateOnly)
	ops := []struct {
		name, method, path string
		body               any
		route              string // the simulator's route pattern
		ct                 string
		cached, metered    bool
		want               []string // substrings of the body
	}{
		{"search", "POST", "/v1/garant/search", map[string]any{"text": "трудовой кодекс", "env": "internet"}, "POST /v2/search", "application/json", true, false,
			[]string{`"absoluteUrl":"https://internet.garant.ru/#/document/`, `"url":"/#/document/`}},
		{"snippets", "POST", "/v1/garant/snippets", map[string]any{"topic": 57742222, "text": "44-фз о контрактной системе"}, "POST /v2/snippets", "application/json", true, false,
			[]string{`"relevance":`}},
		{"hyperlinks", "POST", "/v1/garant/hyperlinks", map[string]any{"text": "статья 70 Трудового кодекса РФ", "baseUrl": "https://internet.garant.ru"}, "POST /v2/find-hyperlinks", "application/json", true, true,
			[]string{`https://internet.garant.ru/#/document/`}},
		{"topic", "GET", "/v1/garant/topics/10103000", nil, "GET /v2/topic/{topic}", "application/json", true, true, []string{`"topic":10103000`}},
		{"editions", "GET", "/v1/garant/topics/10103000/editions", nil, "GET /v2/redactions/{topic}", "application/json", true, false, []string{`"status":"rs_Actual"`, `"from":"`}},
		{"html", "GET", "/v1/garant/topics/409276126/html", nil, "GET /v2/topic/{topic}/html", "application/json", true, true,
			[]string{`/v1/garant/images/36576886`, `/v1/garant/formulas?text=` + garantsim.FormulaExample}},
		{"entry html", "GET", "/v1/garant/topics/10900200/entries/36/html", nil, "GET /v2/topic/{topic}/entry/{entry}/html", "application/json", true, true, []string{`"entry":36`}},
		{"export pdf", "GET", "/v1/garant/topics/10900200/export/pdf", nil, "GET /v2/topic/{topic}/download-pdf", "application/pdf", true, true, []string{"%PDF"}},
		{"export rtf", "GET", "/v1/garant/topics/10900200/export/rtf", nil, "GET /v2/topic/{topic}/download", "application/rtf", true, true, []string{`{\rtf1`}},
		{"export odt", "GET", "/v1/garant/topics/10900200/export/odt", nil, "GET /v2/topic/{topic}/download-odt", "application/vnd.oasis.opendocument.text", true, true, []string{"mimetype"}},
		{"image", "GET", "/v1/garant/images/36576886", nil, "GET /v2/image/{object_id}", "image/png", true, true, []string{"PNG"}},
		{"formula", "GET", "/v1/garant/formulas?text=" + garantsim.FormulaExample + "&fmt=png", nil, "GET /v2/formula", "image/png", true, true, []string{"PNG"}},
		{"find modified", "POST", "/v1/garant/monitoring/documents", map[string]any{"topics": []int{garantsim.TopicAbolished, 5}, "modDate": "2018-01-01", "needEvents": true},
			"POST /v2/find-modified", "application/json", false, true, []string{`"modStatus":2`}},
		{"blocks changed", "POST", "/v1/garant/monitoring/fragments", map[string]any{"fromDate": "2018-01-01", "urlArray": []string{"https://internet.garant.ru/#/document/10900200/entry/1"}},
			"POST /v2/block-on-control/changed", "application/json", false, true, []string{`"urlArray":`}},
		{"prime categories", "GET", "/v1/garant/prime/categories", nil, "GET /v2/prime", "application/json", true, false, []string{`"id":1008`}},
		{"prime news", "POST", "/v1/garant/prime/news", map[string]any{"categories": []int{1008}, "fromDate": from}, "POST /v2/prime/create-news", "application/json", true, false, []string{`"news":`}},
		// Without fromDate the gateway asks for the 10 days Garant allows (the simulator requires fromDate).
		{"prime news, last 10 days", "POST", "/v1/garant/prime/news", map[string]any{"categories": []int{1008}}, "POST /v2/prime/create-news", "application/json", true, false, []string{`"news":`}},
		{"prime news, 10 days to toDate", "POST", "/v1/garant/prime/news", map[string]any{"categories": []int{1008}, "toDate": from}, "POST /v2/prime/create-news", "application/json", true, false, []string{`"news":`}},
		{"court practice", "POST", "/v1/garant/court-practice", map[string]any{"text": "неустойка по договору", "count": 3, "kind": []string{"302"}}, "POST /v2/sutyazhnik-search", "application/json", true, false, []string{`"kind":"302"`}},
		{"limits", "GET", "/v1/garant/limits", nil, "GET /v2/limits", "application/json", false, false, []string{`"title":"Экспорт"`}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			before := env.sim.Kit.Calls.Get(op.route)
			status, h, body := env.send(t, op.method, op.path, keyAlpha, op.body)
			if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), op.ct) {
				t.Fatalf("%s %s = %d %q, want 200 %s; body %.300s", op.method, op.path, status, h.Get("Content-Type"), op.ct, body)
			}
			for _, w := range op.want {
				if !bytes.Contains(body, []byte(w)) {
					t.Errorf("body lacks %q: %.400s", w, body)
				}
			}
			if bytes.Contains(body, []byte("/document/image?")) {
				t.Error("body still links /document/image")
			}
			if got := env.sim.Kit.Calls.Get(op.route); got != before+1 {
				t.Errorf("simulator calls of %s = %d, want %d", op.route, got, before+1)
			}
			if op.metered && (h.Get("RateLimit") == "" || h.Get("RateLimit-Policy") == "") {
				t.Errorf("metered answer lacks RateLimit fields: %v", h)
			}
			if !op.cached {
				if cs := h.Get("Cache-Status"); cs != "" {
					t.Errorf("uncached operation answered Cache-Status %q", cs)
				}
				return
			}
			if cs := h.Get("Cache-Status"); cs != cache.StatusStored {
				t.Errorf("first Cache-Status = %q, want %q", cs, cache.StatusStored)
			}
			status2, h2, body2 := env.send(t, op.method, op.path, keyAlpha, op.body)
			if status2 != 200 || h2.Get("Cache-Status") != cache.StatusHit || h2.Get("Age") == "" || !bytes.Equal(body, body2) {
				t.Errorf("second call = %d Cache-Status %q Age %q, same body %v; want a hit with the same body",
					status2, h2.Get("Cache-Status"), h2.Get("Age"), bytes.Equal(body, body2))
			}
			if h2.Get("Content-Length") != h.Get("Content-Length") && h.Get("Content-Length") != "" {
				t.Errorf("Content-Length %q then %q", h.Get("Content-Length"), h2.Get("Content-Length"))
			}
			if got := env.sim.Kit.Calls.Get(op.route); got != before+1 {
				t.Errorf("a cache hit called the simulator: %d calls, want %d", got, before+1)
			}
		})
	}

	// A tenant of another credential does not see these entries.
	if _, h, _ := env.send(t, "GET", "/v1/garant/prime/categories", keyLimited, nil); h.Get("Cache-Status") != cache.StatusStored {
		t.Errorf("another credential's first call = %q, want a miss", h.Get("Cache-Status"))
	}
	// The request body is normalised: the same search written differently hits.
	_, h, _ := env.send(t, "POST", "/v1/garant/search", keyAlpha, map[string]any{"env": "internet", "text": "трудовой кодекс", "page": 1, "sort": 0})
	if h.Get("Cache-Status") != cache.StatusHit {
		t.Errorf("equivalent search = %q, want a hit", h.Get("Cache-Status"))
	}
}

func TestGarantBadInput(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	old := time.Now().AddDate(-2, 0, 0).Format(time.DateOnly)
	recent := time.Now().AddDate(0, 0, -20).Format(time.DateOnly)
	tooLate := time.Now().AddDate(0, 0, -5).Format(time.DateOnly)
	cases := []struct {
		name, method, path string
		body               any
	}{
		{"search without env", "POST", "/v1/garant/search", map[string]any{"text": "x"}},
		{"snippets with both", "POST", "/v1/garant/snippets", map[string]any{"topic": 1, "text": "x", "correspondent": map[string]int{"topic": 1, "entry": 2}}},
		{"snippets with neither", "POST", "/v1/garant/snippets", map[string]any{"topic": 1}},
		{"101 topics", "POST", "/v1/garant/monitoring/documents", map[string]any{"topics": make([]int, 101), "modDate": "2020-01-01"}},
		{"modDate before 2018", "POST", "/v1/garant/monitoring/documents", map[string]any{"topics": []int{1}, "modDate": "2017-12-31"}},
		{"not a fragment link", "POST", "/v1/garant/monitoring/fragments", map[string]any{"fromDate": "2020-01-01", "urlArray": []string{"https://example.com/x"}}},
		{"101 fragments", "POST", "/v1/garant/monitoring/fragments", map[string]any{"fromDate": "2020-01-01", "urlArray": slices.Repeat([]string{"https://internet.garant.ru/#/document/12125270/entry/70"}, 101)}},
		{"news older than a year", "POST", "/v1/garant/prime/news", map[string]any{"categories": []int{1008}, "fromDate": old}},
		{"news window over 10 days", "POST", "/v1/garant/prime/news", map[string]any{"categories": []int{1008}, "fromDate": recent, "toDate": tooLate}},
		{"court practice count 0", "POST", "/v1/garant/court-practice", map[string]any{"text": "x", "count": 0, "kind": []string{"301"}}},
		{"topic 0", "GET", "/v1/garant/topics/0", nil},
		{"export docx", "GET", "/v1/garant/topics/1/export/docx", nil},
		{"formula without text", "GET", "/v1/garant/formulas", nil},
		{"purge bad operation", "DELETE", "/v1/garant/cache?operation=nope", nil},
	}
	for _, tc := range cases {
		status, h, body := env.send(t, tc.method, tc.path, keyAlpha, tc.body)
		if status != 400 {
			t.Errorf("%s: %s %s = %d, want 400; body %s", tc.name, tc.method, tc.path, status, body)
			continue
		}
		problemOf(t, status, h, body)
	}
	if n := env.sim.Kit.Calls.Total(); n != 0 {
		t.Errorf("bad input reached the simulator %d times: %v", n, env.sim.Kit.Calls.Snapshot())
	}
}

func TestGarantErrors(t *testing.T) {
	env := newGarantEnv(t, simConfig(), func(d *handlers.Deps) {
		d.Garant.TTL = map[string]time.Duration{"garantGetTopicEditions": 300 * time.Millisecond}
	})
	sim := env.sim
	cases := []struct {
		name   string
		fault  *simkit.Fault
		key    string
		path   string
		status int
		detail string
	}{
		{"400 with Garant's reason", &simkit.Fault{Status: 400, Body: `{"error":"query syntax error near MorphoText"}`}, keyAlpha, "/v1/garant/topics/10103000", 400, "query syntax error near MorphoText"},
		{"401 on one method", nil, keyLimited, "/v1/garant/topics/10103000/export/pdf", 403, "tariff"},
		{"401 on everything", nil, keyBogus, "/v1/garant/topics/10103000", 502, "upstream credential rejected"},
		{"404", nil, keyAlpha, "/v1/garant/topics/1", 404, ""},
		{"403 on a topic", &simkit.Fault{Status: 403}, keyAlpha, "/v1/garant/topics/10108000", 403, "lacks the permission"},
		{"429 persistent", &simkit.Fault{Status: 429}, keyAlpha, "/v1/garant/topics/12125268", 429, ""},
		{"503", &simkit.Fault{Status: 503}, keyAlpha, "/v1/garant/topics/12125267", 502, ""},
		{"timeout", &simkit.Fault{Hang: true}, keyAlpha, "/v1/garant/topics/12125270", 504, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim.Kit.SetFault(tc.fault)
			defer sim.Kit.SetFault(nil)
			status, h, body := env.send(t, "GET", tc.path, tc.key, nil)
			if status != tc.status {
				t.Fatalf("GET %s = %d, want %d; body %s", tc.path, status, tc.status, body)
			}
			p := problemOf(t, status, h, body)
			if !strings.Contains(p.Detail, tc.detail) || p.Upstream != "garant" {
				t.Errorf("problem %+v, want upstream garant and detail containing %q", p, tc.detail)
			}
			if status == 429 && h.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			for _, token := range []string{garantsim.DemoToken, garantsim.DemoLimitedToken, "not-a-garant-token"} {
				if bytes.Contains(body, []byte(token)) || bytes.Contains(env.Logs.Bytes(), []byte(token)) {
					t.Errorf("the Garant token %q leaked into a problem or a log line", token)
				}
			}
		})
	}

	t.Run("429 then success", func(t *testing.T) {
		before := sim.Kit.Calls.Get("GET /v2/prime")
		sim.Kit.SetFault(&simkit.Fault{Status: 429, Remaining: 2, PathPrefix: "/v2/prime"})
		defer sim.Kit.SetFault(nil)
		status, _, body := env.send(t, "GET", "/v1/garant/prime/categories", keyAlpha, nil)
		if status != 200 || sim.Kit.Calls.Get("GET /v2/prime") != before+3 {
			t.Errorf("prime categories after two 429s = %d (%d calls), want 200 after 3 calls; %s", status, sim.Kit.Calls.Get("GET /v2/prime")-before, body)
		}
	})

	t.Run("stale instead of an error", func(t *testing.T) {
		path := "/v1/garant/topics/10103000/editions"
		if status, _, _ := env.send(t, "GET", path, keyAlpha, nil); status != 200 {
			t.Fatalf("editions = %d", status)
		}
		time.Sleep(400 * time.Millisecond)
		sim.Kit.SetFault(&simkit.Fault{Status: 503})
		defer sim.Kit.SetFault(nil)
		status, h, _ := env.send(t, "GET", path, keyAlpha, nil)
		if status != 200 || h.Get("Cache-Status") != cache.StatusStale {
			t.Errorf("editions while Garant fails = %d %q, want 200 %q", status, h.Get("Cache-Status"), cache.StatusStale)
		}
		status, h, _ = env.send(t, "GET", path, keyAlpha, nil, "Cache-Control", "max-stale=3600")
		if status != 200 || h.Get("Cache-Status") != cache.StatusStale {
			t.Errorf("editions with max-stale = %d %q, want a stale hit", status, h.Get("Cache-Status"))
		}
	})
}

// TestGarant423 checks that Garant's 423 becomes the quota engine's 429 and
// that the family stays shut without further upstream calls.
func TestGarant423(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	must(t, env.sim.SetUsed(garantsim.DemoToken, garantsim.FamilyTopicInfo, 300))
	must(t, env.sim.SetUsed(garantsim.DemoToken, garantsim.FamilyExport, 25))
	status, h, body := env.send(t, "GET", "/v1/garant/topics/10103000", keyAlpha, nil)
	p := problemOf(t, status, h, body)
	if status != 429 || !strings.HasSuffix(p.Type, "quota-exceeded") || h.Get("Retry-After") == "" || h.Get("RateLimit") == "" {
		t.Fatalf("topic with Garant's quota spent = %d %+v (Retry-After %q, RateLimit %q)", status, p, h.Get("Retry-After"), h.Get("RateLimit"))
	}
	var ext map[string]any
	must(t, json.Unmarshal(body, &ext))
	if ext["scope"] != "credential" || ext["family"] != "topic_info" {
		t.Errorf("problem members scope %v family %v, want credential topic_info", ext["scope"], ext["family"])
	}
	before := env.sim.Kit.Calls.Get("GET /v2/topic/{topic}")
	if status, _, _ := env.send(t, "GET", "/v1/garant/topics/10900200", keyGarantBeta, nil); status != 429 {
		t.Errorf("another tenant of the credential = %d, want 429", status)
	}
	if got := env.sim.Kit.Calls.Get("GET /v2/topic/{topic}"); got != before {
		t.Errorf("a spent family still called Garant (%d calls)", got-before)
	}
	if env.sim.Kit.Calls.Get("GET /v2/limits") < 1 {
		t.Error("the 423 did not sync /v2/limits")
	}
	// The sync lowered the export family to Garant's 5 left.
	u, err := env.Deps.Quotas.Quota.Usage(context.Background(), "alpha", map[string]string{"garant": "garant-test"})
	must(t, err)
	found := false
	for _, x := range u {
		if x.Family == quota.FamilyExport && x.Scope == quota.ScopeCredential {
			found = true
			if x.Remaining != 5 {
				t.Errorf("export remaining after the sync = %d, want 5", x.Remaining)
			}
		}
	}
	if !found {
		t.Errorf("Usage has no credential export row: %+v", u)
	}
}

// TestGarantCoalescing: 50 concurrent identical uncached topic-info
// requests over 3 gateway instances sharing one Redis make 1 upstream call,
// spend 1 quota unit and get 50 identical answers.
func TestGarantCoalescing(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	env.sim.Kit.SetFault(&simkit.Fault{Latency: simkit.Duration(300 * time.Millisecond)})
	instances := []*httptest.Server{env.Server, env.replica(t), env.replica(t)}
	var wg sync.WaitGroup
	bodies := make([][]byte, 50)
	statuses := make([]int, 50)
	for i := range 50 {
		wg.Go(func() {
			statuses[i], _, bodies[i] = send(t, instances[i%3], "GET", "/v1/garant/topics/10900200", keyAlpha, nil)
		})
	}
	wg.Wait()
	for i := range 50 {
		if statuses[i] != 200 || !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatalf("request %d = %d %.200s, want 200 and the same body as the first", i, statuses[i], bodies[i])
		}
	}
	if n := env.sim.Kit.Calls.Get("GET /v2/topic/{topic}"); n != 1 {
		t.Errorf("upstream calls = %d, want 1", n)
	}
	u, err := env.Deps.Quotas.Quota.Usage(context.Background(), "alpha", map[string]string{"garant": "garant-test"})
	must(t, err)
	found := false
	for _, x := range u {
		if x.Family == quota.FamilyTopicInfo && x.Scope == quota.ScopeCredential {
			found = true
			if x.Used != 1 {
				t.Errorf("topic_info units spent = %d, want 1", x.Used)
			}
		}
	}
	if !found {
		t.Errorf("Usage has no credential topic_info row: %+v", u)
	}
}

// TestGarantExportQuota: with a credential limit of 30 exports, 30 distinct
// exports succeed, the 31st is a 429, the 30 stay served from the cache, a
// second tenant of the credential is refused too, and Garant saw 30 calls.
func TestGarantExportQuota(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	topics := env.sim.Topics()
	for _, topic := range topics[:30] {
		if status, _, body := env.send(t, "GET", fmt.Sprintf("/v1/garant/topics/%d/export/pdf", topic), keyAlpha, nil); status != 200 {
			t.Fatalf("export %d = %d %s", topic, status, body)
		}
	}
	status, h, body := env.send(t, "GET", fmt.Sprintf("/v1/garant/topics/%d/export/pdf", topics[30]), keyAlpha, nil)
	p := problemOf(t, status, h, body)
	if status != 429 || h.Get("Retry-After") == "" || !strings.HasSuffix(p.Type, "quota-exceeded") {
		t.Fatalf("31st export = %d %+v Retry-After %q, want a 429 quota problem", status, p, h.Get("Retry-After"))
	}
	for _, topic := range topics[:30] {
		status, h, _ := env.send(t, "GET", fmt.Sprintf("/v1/garant/topics/%d/export/pdf", topic), keyAlpha, nil)
		if status != 200 || h.Get("Cache-Status") != cache.StatusHit {
			t.Fatalf("cached export %d = %d %q, want a hit", topic, status, h.Get("Cache-Status"))
		}
	}
	if status, _, _ := env.send(t, "GET", fmt.Sprintf("/v1/garant/topics/%d/export/pdf", topics[31]), keyGarantBeta, nil); status != 429 {
		t.Errorf("second tenant's export = %d, want 429", status)
	}
	if n := env.sim.Kit.Calls.Get("GET /v2/topic/{topic}/download-pdf"); n != 30 {
		t.Errorf("simulator export calls = %d, want 30", n)
	}
}

// TestGarantRateLimit: a burst of distinct calls stays under Garant's 20
// requests a second, so the simulator never answers 429.
func TestGarantRateLimit(t *testing.T) {
	env := newGarantEnv(t, garantsim.DefaultConfig(), nil)
	var wg sync.WaitGroup
	for i := range 25 {
		wg.Go(func() {
			if status, _, body := env.send(t, "POST", "/v1/garant/search", keyAlpha, map[string]any{"text": fmt.Sprintf("закон %d", i), "env": "internet"}); status != 200 {
				t.Errorf("search %d = %d %s", i, status, body)
			}
		})
	}
	wg.Wait()
	if env.sim.Kit.Calls.Get("POST /v2/search") != 25 {
		t.Errorf("search calls = %d, want 25 (none refused with 429 and retried)", env.sim.Kit.Calls.Get("POST /v2/search"))
	}
}

func TestGarantCacheControlAndPurge(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	path := "/v1/garant/topics/10103000"
	env.send(t, "GET", path, keyAlpha, nil)
	_, h, _ := env.send(t, "GET", path, keyAlpha, nil, "Cache-Control", "no-cache")
	if h.Get("Cache-Status") != cache.StatusRefreshed || h.Get("RateLimit") == "" || env.sim.Kit.Calls.Get("GET /v2/topic/{topic}") != 2 {
		t.Errorf("no-cache = %q (RateLimit %q), %d calls; want a fresh metered call", h.Get("Cache-Status"), h.Get("RateLimit"), env.sim.Kit.Calls.Get("GET /v2/topic/{topic}"))
	}
	if status, h, body := env.send(t, "DELETE", "/v1/garant/cache", keyGarantBeta, nil); status != 403 {
		t.Errorf("purge by a non-admin = %d, want 403", status)
	} else {
		problemOf(t, status, h, body)
	}
	status, _, body := env.send(t, "DELETE", "/v1/garant/cache?operation=garantGetTopic&topic=10103000", keyAlpha, nil)
	if status != 200 || !bytes.Contains(body, []byte(`"deleted":1`)) {
		t.Errorf("purge = %d %s, want 1 deleted", status, body)
	}
	if _, h, _ := env.send(t, "GET", path, keyGarantBeta, nil); h.Get("Cache-Status") != cache.StatusStored {
		t.Errorf("after purge = %q, want a miss", h.Get("Cache-Status"))
	}
}

// TestGarantCacheFailsOpen: with Redis gone, an unmetered operation (whose
// rate family is configured to fail open) still answers from Garant.
func TestGarantCacheFailsOpen(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	env.Redis.Stop()
	start := time.Now()
	status, _, body := env.send(t, "GET", "/v1/garant/prime/categories", keyAlpha, nil)
	if status != 200 {
		t.Fatalf("prime categories without Redis = %d %s", status, body)
	}
	// Bounded, not hung: a loaded machine takes seconds, a wait for Redis
	// would take the client's whole timeout and more.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v without Redis", d)
	}
}

// TestGarantLoad measures, side by side in one run and with wrk as the load
// generator, GET topic info three ways: straight from the simulator
// (direct), through the gateway from the cache (hit), and through the
// gateway with the entry expired (miss: Redis GET, fill lock, quota
// reservation, the simulator, Redis SET, unlock). It writes a Markdown table
// to the test log. It is a measurement, not a check:
//
//	GARANT_LOAD=1 go test -count=1 -run TestGarantLoad -v ./internal/handlers/
func TestGarantLoad(t *testing.T) {
	if os.Getenv("GARANT_LOAD") == "" {
		t.Skip("a load measurement: run with GARANT_LOAD=1 (needs wrk)")
	}
	wrk, err := exec.LookPath("wrk")
	must(t, err)
	simCfg := simConfig()
	simCfg.Tokens = map[string]garantsim.Token{garantsim.DemoToken: {}} // no monthly quotas
	quiet := func(d *handlers.Deps) {
		d.Log = slog.New(slog.NewJSONHandler(io.Discard, nil)) // still encodes every access-log line
		q, err := quota.New(d.Redis, quota.Config{Rules: []quota.Rule{{Scope: quota.ScopeCredential, Upstream: "garant",
			Family: quota.FamilyTopicInfo, Period: quota.PeriodMonth, Limit: 1 << 40}}}, prometheus.NewRegistry())
		must(t, err)
		d.Quotas = &usage.Reports{Quota: q}
	}
	env := newGarantEnv(t, simCfg, quiet)
	missDeps := *env.Deps
	missDeps.Registry = metrics.NewRegistry()
	missDeps.HTTP = metrics.NewHTTP(missDeps.Registry)
	missDeps.Garant = garantDeps(t, missDeps.Redis, missDeps.Registry, env.simURL)
	missDeps.Garant.Quota = missDeps.Quotas.Quota
	missDeps.Garant.TTL = map[string]time.Duration{"garantGetTopic": time.Millisecond}
	h, err := handlers.NewServer(&missDeps)
	must(t, err)
	missSrv := serveChecked(t, h)

	path := fmt.Sprintf("/v1/garant/topics/%d", garantsim.TopicCivilCode)
	if status, _, body := env.send(t, "GET", path, keyAlpha, nil); status != 200 {
		t.Fatalf("prime the cache: %d %s", status, body)
	}
	targets := []struct{ name, url, auth string }{
		{"direct", env.simURL + fmt.Sprintf("/v2/topic/%d", garantsim.TopicCivilCode), garantsim.DemoToken},
		{"hit", env.URL + path, keyAlpha},
		{"miss", missSrv.URL + path, keyAlpha},
	}
	type sample struct{ rps, p50, p99 float64 }
	results := map[string][]sample{}
	run := func(name, url, auth string, conns int, dur string) sample {
		out, err := exec.Command(wrk, "-t1", fmt.Sprintf("-c%d", conns), "-d"+dur, "--latency",
			"-H", "Authorization: Bearer "+auth, url).CombinedOutput()
		must(t, err)
		s := parseWrk(t, string(out))
		if strings.Contains(string(out), "Non-2xx") {
			t.Fatalf("%s: non-2xx answers:\n%s", name, out)
		}
		return s
	}
	for _, tg := range targets { // warm-up
		run(tg.name, tg.url, tg.auth, 50, "2s")
	}
	for range 3 {
		for _, tg := range targets {
			results[tg.name+" c50"] = append(results[tg.name+" c50"], run(tg.name, tg.url, tg.auth, 50, "5s"))
			results[tg.name+" c1"] = append(results[tg.name+" c1"], run(tg.name, tg.url, tg.auth, 1, "3s"))
		}
	}
	median := func(xs []sample, f func(sample) float64) float64 {
		v := make([]float64, len(xs))
		for i, x := range xs {
			v[i] = f(x)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| target | connections | rps | p50 ms | p99 ms | rps ratio to direct |\n|---|---:|---:|---:|---:|---:|\n")
	for _, c := range []string{"c50", "c1"} {
		direct := median(results["direct "+c], func(s sample) float64 { return s.rps })
		for _, tg := range targets {
			xs := results[tg.name+" "+c]
			rps := median(xs, func(s sample) float64 { return s.rps })
			fmt.Fprintf(&b, "| %s | %s | %.0f | %.3f | %.3f | %.2f |\n", tg.name, strings.TrimPrefix(c, "c"), rps,
				median(xs, func(s sample) float64 { return s.p50 }), median(xs, func(s sample) float64 { return s.p99 }), rps/direct)
		}
	}
	t.Log(b.String())
	if n := env.sim.Kit.Calls.Get("GET /v2/topic/{topic}"); n == 0 {
		t.Error("the miss target never reached the simulator")
	}
}

var wrkLatency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)

// parseWrk reads requests/s and the p50 and p99 latencies (ms) of wrk --latency.
func parseWrk(t *testing.T, out string) (s struct{ rps, p50, p99 float64 }) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Requests/sec:"); ok {
			s.rps, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	for _, m := range wrkLatency.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if m[1] == "50" {
			s.p50 = v
		} else {
			s.p99 = v
		}
	}
	if s.rps == 0 || s.p50 == 0 {
		t.Fatalf("cannot read wrk output:\n%s", out)
	}
	return s
}

// TestGarantStaleWhenQuotaSpent: an expired entry stands in for a 429 when
// the monthly quota is spent.
func TestGarantStaleWhenQuotaSpent(t *testing.T) {
	env := newGarantEnv(t, simConfig(), func(d *handlers.Deps) {
		d.Garant.TTL = map[string]time.Duration{"garantGetImage": 200 * time.Millisecond}
	})
	path := fmt.Sprintf("/v1/garant/images/%d", garantsim.ImageExample)
	if status, _, _ := env.send(t, "GET", path, keyAlpha, nil); status != 200 {
		t.Fatalf("image = %d", status)
	}
	time.Sleep(300 * time.Millisecond)
	must(t, env.sim.SetUsed(garantsim.DemoToken, garantsim.FamilyExport, 30))
	status, h, body := env.send(t, "GET", path, keyAlpha, nil)
	if status != 200 || h.Get("Cache-Status") != cache.StatusStale || !bytes.HasPrefix(body, []byte("\x89PNG")) {
		t.Errorf("image with the export quota spent = %d %q, want 200 %q with the PNG", status, h.Get("Cache-Status"), cache.StatusStale)
	}
	if status, _, _ := env.send(t, "GET", "/v1/garant/images/30000001", keyAlpha, nil); status != 429 {
		t.Errorf("an image never cached with the quota spent = %d, want 429", status)
	}
}

// TestGarantHitWritesStoredBytes: the cache stores the JSON body exactly as
// the client receives it, and a hit (from Redis on another replica, or from
// this replica's L1) writes those bytes with Cache-Status and Age. A purge
// clears the purging replica's L1 at once; another replica may serve its L1
// copy for up to the L1 lifetime (1s by default).
func TestGarantHitWritesStoredBytes(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	other := env.replica(t)
	path := "/v1/garant/topics/10103000"
	status, h, body := env.send(t, "GET", path, keyAlpha, nil)
	if status != 200 || h.Get("Cache-Status") != cache.StatusStored || !bytes.HasSuffix(body, []byte("}\n")) {
		t.Fatalf("first GET = %d %q %q, want a stored JSON body ending in a newline", status, h.Get("Cache-Status"), body)
	}
	keys, err := env.Redis.Client(t).Keys(context.Background(), "lg:gc:garant-test:garantGetTopic:*").Result()
	must(t, err)
	if len(keys) != 1 {
		t.Fatalf("entries = %v, want 1", keys)
	}
	raw, err := env.Redis.Client(t).Get(context.Background(), keys[0]).Bytes()
	must(t, err)
	if !bytes.HasSuffix(raw, body) {
		t.Errorf("stored entry %q does not end in the body the client got %q", raw, body)
	}
	for name, srv := range map[string]*httptest.Server{"redis hit on a replica": other, "L1 hit": env.Server} {
		status, h2, body2 := send(t, srv, "GET", path, keyAlpha, nil)
		if status != 200 || h2.Get("Cache-Status") != cache.StatusHit || h2.Get("Age") == "" ||
			h2.Get("Content-Type") != "application/json" || !bytes.Equal(body2, body) {
			t.Errorf("%s = %d %q Age %q %q, same body %v; want a hit with the stored bytes",
				name, status, h2.Get("Cache-Status"), h2.Get("Age"), h2.Get("Content-Type"), bytes.Equal(body2, body))
		}
	}
	if n := env.sim.Kit.Calls.Get("GET /v2/topic/{topic}"); n != 1 {
		t.Errorf("upstream calls = %d, want 1", n)
	}
	if status, _, b := env.send(t, "DELETE", "/v1/garant/cache?operation=garantGetTopic", keyAlpha, nil); status != 200 {
		t.Fatalf("purge = %d %s", status, b)
	}
	if _, h, _ := env.send(t, "GET", path, keyAlpha, nil); h.Get("Cache-Status") != cache.StatusStored {
		t.Errorf("the purging replica after a purge = %q, want a miss", h.Get("Cache-Status"))
	}
	time.Sleep(1100 * time.Millisecond) // the other replica's L1 copy has lapsed
	if _, h, _ := send(t, other, "GET", path, keyAlpha, nil); h.Get("Cache-Status") != cache.StatusHit || env.sim.Kit.Calls.Get("GET /v2/topic/{topic}") != 2 {
		t.Errorf("another replica after the L1 lifetime = %q, want a hit of the refilled entry", h.Get("Cache-Status"))
	}
}
