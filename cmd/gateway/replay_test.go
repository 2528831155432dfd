package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/fairshare"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

// TestAttackReplay replays every row of issue 12's table ("what was tried")
// against one running gateway built as the demo builds it (config.Demo: the
// tenants alpha and beta, the three simulators over real HTTP) with a real
// redis-server, and asserts the fixed behaviour of each row within bounded
// time and memory. The rows run in the table's order; the breaker rows last,
// since they open Garant's breaker.
func TestAttackReplay(t *testing.T) {
	g := startReplayGateway(t)
	for _, row := range []struct {
		name string
		run  func(t *testing.T, g *replayGateway)
	}{
		{"18 MB padded hyperlinks body", replayPaddedBody},
		{"GET with a body on /healthz", replayGETWithBody},
		{"Content-Length without a body", replayAbsentBody},
		{"cross-tenant cache probe", replayCacheProbe},
		{"thousands of long polls from one tenant", replayLongPolls},
		{"one tenant flooding unmetered Garant operations and FIPS", replayFlood},
		{"/metrics on the public port", replayPublicMetrics},
		{"another tenant's FIPS id", replayFIPSIDs},
		{"FIPS dictionaries across credentials", replayFIPSDictionaries},
		{"idempotency Complete fails after FIPS created", replayCompleteFails},
		{"Garant answers 503", replayGarant503},
		{"Garant hangs", replayGarantHangs},
		{"redis.url with a password", replayRedisPassword},
		{"the same key hash under two tenants", replayDuplicateKeyHash},
	} {
		t.Run(row.name, func(t *testing.T) { row.run(t, g) })
	}
}

// replayGateway is the demo gateway of TestAttackReplay and what it runs on.
type replayGateway struct {
	base, admin string
	out         *syncBuffer
	redis       *redistest.Server
	garant      *garantsim.Server
	fips        *fipssim.Server
	fsspTask    string // an FSSP task of alpha's that stays queued

	// afterCreate, when set, runs once after FIPS created an application
	// (before the gateway reads the answer).
	afterCreate atomic.Pointer[func()]
}

// startReplayGateway runs the demo's configuration through run(): the
// simulators are the test's (so that it can count and break them), Redis is
// a redis-server, and a few deadlines are shortened so that the rows are
// quick: body deadlines of 2 s and 1 s, Garant's timeout 2 s, a breaker
// open for 1 s, FIPS at the default per-tenant rate (the demo raises it for
// Swagger UI). FSSP tasks stay queued, so long polls wait.
func startReplayGateway(t *testing.T) *replayGateway {
	g := &replayGateway{redis: redistest.Start(t)}
	g.garant = garantsim.New(garantsim.DefaultConfig())
	fsspCfg := fsspsim.DefaultConfig()
	fsspCfg.QueueFor = time.Hour
	g.fips = fipssim.New(fipssim.DefaultConfig())
	fips := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" && r.URL.Path == "/api/v1/applications" {
			if f := g.afterCreate.Swap(nil); f != nil {
				rec := httptest.NewRecorder()
				g.fips.ServeHTTP(rec, r)
				(*f)()
				maps.Copy(w.Header(), rec.Header())
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
				return
			}
		}
		g.fips.ServeHTTP(w, r)
	})
	urls := map[string]string{}
	for _, sim := range demoSimulators() {
		h := map[string]http.Handler{config.Garant: g.garant, config.FSSP: fsspsim.New(fsspCfg), config.FIPS: fips}[sim.upstream]
		if h == nil {
			t.Fatalf("the demo's simulator of %s has no stand-in here", sim.upstream)
		}
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		urls[sim.upstream] = s.URL + sim.basePath
	}
	cfg := config.Demo(urls)
	cfg.Redis.URL = g.redis.URL()
	cfg.Server.BodyTimeout, cfg.Server.BodyIdleTimeout = 2*time.Second, time.Second
	cfg.Upstreams.Garant.Timeout = 2 * time.Second
	cfg.Guard.Breaker.OpenFor = time.Second
	cfg.Fairness.Rates[config.FIPS] = config.DefaultRates()[config.FIPS]
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	g.admin = fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	g.base, g.out = startGateway(t, []string{"-config", path, "-admin-addr", g.admin}, nil)
	r := g.do(t, config.DemoKeyAlpha, "POST", "/v1/fssp/searches/ip", `{"number":"12345/24/77001-ИП"}`)
	var task struct{ ID string }
	if r.status != http.StatusAccepted || json.Unmarshal(r.body, &task) != nil || task.ID == "" {
		t.Fatalf("POST /v1/fssp/searches/ip = %d %s, want 202 with a task", r.status, r.body)
	}
	g.fsspTask = task.ID
	return g
}

// reply is one answer of the gateway.
type reply struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// problem decodes the answer's problem document (nil if it is none).
func (r reply) problem() map[string]any {
	var p map[string]any
	if r.header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(r.body, &p) != nil {
		return nil
	}
	return p
}

func (r reply) String() string {
	if r.err != nil {
		return r.err.Error()
	}
	return fmt.Sprintf("%d %.300s", r.status, r.body)
}

// send sends one request with key (none if empty) and a JSON body (none if
// empty) and extra header fields as name, value pairs; a transport error is
// in the reply.
func (g *replayGateway) send(ctx context.Context, c *http.Client, key, method, path string, body []byte, fields ...string) reply {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, rd)
	if err != nil {
		return reply{err: err}
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(fields); i += 2 {
		req.Header.Set(fields[i], fields[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, b, err}
}

// do is send with the default client that fails the test on a transport error.
func (g *replayGateway) do(t *testing.T, key, method, path, body string, fields ...string) reply {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	r := g.send(context.Background(), &http.Client{Timeout: time.Minute}, key, method, path, b, fields...)
	if r.err != nil {
		t.Fatalf("%s %s: %v", method, path, r.err)
	}
	return r
}

// wantProblem reports whether r is a problem of status with a request id
// and, when limit is not empty, naming that limit and carrying a Retry-After.
func wantProblem(t *testing.T, what string, r reply, status int, limit string) {
	t.Helper()
	p := r.problem()
	if r.status != status || p == nil || p["request_id"] == nil || p["status"] != float64(status) ||
		(limit != "" && (!strings.HasPrefix(fmt.Sprint(p["limit"]), limit) || r.header.Get("Retry-After") == "")) {
		t.Errorf("%s = %v (Retry-After %q), want a %d problem with a request id%s", what, r, r.header.Get("Retry-After"), status,
			map[bool]string{true: " naming " + limit + " with a Retry-After"}[limit != ""])
	}
}

// replayPaddedBody: an 18 MB hyperlinks body with a valid text (or none)
// and a 9-million-element pad array is refused (the schema is closed) in
// bounded time, spending no quota and reaching no upstream, without reading
// the rest of the body: the process allocates well under the 40 MB.
func replayPaddedBody(t *testing.T, g *replayGateway) {
	pad := bytes.Repeat([]byte("0,"), 9_000_000)
	pad = append(pad[:len(pad)-1], "]}"...)
	for _, head := range []string{`{"text":"Статья 70 ТК РФ","baseUrl":"https://internet.garant.ru","pad":[`, `{"baseUrl":"https://internet.garant.ru","pad":[`} {
		body := append([]byte(head), pad...)
		calls := g.garant.Kit.Calls.Total()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		r := g.send(context.Background(), &http.Client{Timeout: time.Minute}, config.DemoKeyAlpha, "POST", "/v1/garant/hyperlinks", body)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		if r.err != nil {
			t.Fatalf("%.40s…: %v", head, r.err)
		}
		wantProblem(t, "padded body", r, http.StatusBadRequest, "")
		if !strings.Contains(string(r.body), `"body.pad"`) || took > 10*time.Second {
			t.Errorf("padded body %.40s… = %v after %s, want a 400 naming body.pad well within 10 s", head, r, took)
		}
		if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 40<<20 {
			t.Errorf("padded body: the process allocated %d MB while it was refused, want under 40 MB", allocated>>20)
		}
		if n := g.garant.Kit.Calls.Total() - calls; n != 0 {
			t.Errorf("padded body: Garant saw %d calls, want none", n)
		}
	}
	r := g.do(t, config.DemoKeyAlpha, "GET", "/v1/quotas", "")
	var q struct {
		Quotas []struct {
			Family string
			Used   int64
		}
	}
	_ = json.Unmarshal(r.body, &q)
	links := 0
	for _, x := range q.Quotas {
		if x.Family == "links_control" {
			links++
			if x.Used != 0 {
				t.Errorf("links_control used after the padded bodies = %d, want 0", x.Used)
			}
		}
	}
	if links == 0 {
		t.Errorf("GET /v1/quotas = %v, want the links_control family", r)
	}
}

// replayGETWithBody: a GET with a body neither panics the server nor
// holds the connection.
func replayGETWithBody(t *testing.T, g *replayGateway) {
	res, _, closed := exchangeRaw(t, g.base, "GET /healthz HTTP/1.1\r\nHost: gw\r\nContent-Length: 1", "x", 10*time.Second)
	if res.StatusCode != http.StatusOK || !closed {
		t.Errorf("GET /healthz with a body = %d (closed %v), want 200 and the connection closed", res.StatusCode, closed)
	}
	// Announced and never sent.
	res, after, closed := exchangeRaw(t, g.base, "GET /healthz HTTP/1.1\r\nHost: gw\r\nContent-Length: 5", "", 10*time.Second)
	if res.StatusCode != http.StatusOK || !closed || after > 5*time.Second {
		t.Errorf("GET /healthz announcing a body = %d after %s (closed %v), want 200 within the body deadline, the connection closed",
			res.StatusCode, after, closed)
	}
	waitNoPanic(t, g.out)
}

// replayAbsentBody: a body announced and never sent is cut within the
// body deadline (2 s here), with or without a key, and the connection is
// closed rather than drained.
func replayAbsentBody(t *testing.T, g *replayGateway) {
	search := "POST /v1/garant/search HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 5"
	for _, tc := range []struct {
		name, head, body string
		status           int
	}{
		{"no key", search, "", http.StatusUnauthorized},
		{"with a key", search + "\r\nAuthorization: Bearer " + config.DemoKeyAlpha, "", http.StatusRequestTimeout},
		{"with a key, a partial body", search + "\r\nAuthorization: Bearer " + config.DemoKeyAlpha, `{"t`, http.StatusRequestTimeout},
	} {
		res, after, closed := exchangeRaw(t, g.base, tc.head, tc.body, 20*time.Second)
		if res.StatusCode != tc.status || !closed || after > 8*time.Second {
			t.Errorf("%s = %d after %s (closed %v), want %d within the 2 s body deadline (with room for a busy machine) and the connection closed",
				tc.name, res.StatusCode, after, closed, tc.status)
		}
	}
	waitNoPanic(t, g.out)
}

// replayCacheProbe: beta sends what alpha sent (a search, hyperlinks on a
// private contract): beta's answer is its own miss, with no Age, never
// alpha's hit.
func replayCacheProbe(t *testing.T, g *replayGateway) {
	for _, op := range []struct{ path, body string }{
		{"/v1/garant/search", `{"text":"договор поставки ООО Ромашка","env":"internet"}`},
		{"/v1/garant/hyperlinks", `{"text":"Договор № 17 ООО «Ромашка», статья 70 Трудового кодекса РФ","baseUrl":"https://internet.garant.ru"}`},
	} {
		if r := g.do(t, config.DemoKeyAlpha, "POST", op.path, op.body); r.status != 200 {
			t.Fatalf("alpha's %s = %v, want 200", op.path, r)
		}
		if r := g.do(t, config.DemoKeyAlpha, "POST", op.path, op.body); !strings.Contains(r.header.Get("Cache-Status"), "hit") {
			t.Fatalf("alpha's %s again: Cache-Status %q, want a hit (the probe needs something to find)", op.path, r.header.Get("Cache-Status"))
		}
		r := g.do(t, config.DemoKeyBeta, "POST", op.path, op.body)
		if r.status != 200 || strings.Contains(r.header.Get("Cache-Status"), "hit") || r.header.Get("Age") != "" {
			t.Errorf("beta's same %s = %d Cache-Status %q Age %q, want 200, a miss of its own and no Age",
				op.path, r.status, r.header.Get("Cache-Status"), r.header.Get("Age"))
		}
	}
}

// replayLongPolls: alpha opens far more long polls than its cap (the
// default 1000) at once: the excess is refused at once with a 429 naming
// the cap, and beta's poll is still admitted.
func replayLongPolls(t *testing.T, g *replayGateway) {
	const polls, cap = 1200, 1000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	refused := make(chan reply, polls)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1}}
	defer c.CloseIdleConnections()
	for range polls {
		wg.Go(func() {
			r := g.send(ctx, c, config.DemoKeyAlpha, "GET", "/v1/fssp/tasks/"+g.fsspTask+"?wait=60", nil)
			if r.err == nil {
				refused <- r
			}
		})
	}
	deadline := time.After(2 * time.Minute)
	for range polls - cap {
		select {
		case r := <-refused:
			wantProblem(t, "a long poll past the cap", r, http.StatusTooManyRequests, fairshare.LimitLongPollsPerTenant)
		case <-deadline:
			t.Fatalf("fewer than %d of %d long polls were refused within 2 minutes, want every one past the cap of %d", polls-cap, polls, cap)
		}
	}
	if r := g.do(t, config.DemoKeyBeta, "GET", "/v1/fssp/tasks/"+g.fsspTask+"?wait=1", ""); r.status != http.StatusNotFound {
		// The task is alpha's: beta's poll is admitted and answers as a missing task.
		t.Errorf("beta's poll while alpha holds %d = %v, want admitted (404: not its task)", cap, r)
	}
	if r := g.do(t, config.DemoKeyAlpha, "GET", "/v1/fssp/tasks/"+g.fsspTask+"?wait=1", ""); r.status != http.StatusTooManyRequests {
		t.Errorf("alpha's next poll = %v, want 429 while it holds %d", r, cap)
	}
	select {
	case r := <-refused:
		t.Errorf("a long poll within the cap answered %v before its wait, want it held", r)
	default:
	}
}

// replayFlood: alpha floods FIPS and Garant's unmetered search with many
// callers at once; beta, calling within its own rate meanwhile, keeps every
// call succeeding, while alpha is refused past its own rate.
func replayFlood(t *testing.T, g *replayGateway) {
	calls := []struct{ method, path, body string }{
		{"GET", "/v1/fips/dictionaries/applicant-categories", ""},
		{"POST", "/v1/garant/search", `{"text":"поток %d","env":"internet"}`},
	}
	stop := make(chan struct{})
	var (
		flood       sync.WaitGroup
		mu          sync.Mutex
		alphaStatus = map[string]map[int]int{}
	)
	c := &http.Client{Timeout: time.Minute}
	for w := range 12 {
		flood.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				call := calls[(w+i)%len(calls)]
				var body []byte
				if call.body != "" {
					body = fmt.Appendf(nil, call.body, w*100000+i)
				}
				r := g.send(context.Background(), c, config.DemoKeyAlpha, call.method, call.path, body)
				mu.Lock()
				if alphaStatus[call.path] == nil {
					alphaStatus[call.path] = map[int]int{}
				}
				alphaStatus[call.path][r.status]++
				mu.Unlock()
			}
		})
	}
	var failed []string
	for i := range 8 {
		call := calls[i%len(calls)]
		body := ""
		if call.body != "" {
			body = fmt.Sprintf(call.body, -i-1)
		}
		if r := g.do(t, config.DemoKeyBeta, call.method, call.path, body); r.status != 200 {
			failed = append(failed, fmt.Sprintf("%s: %v", call.path, r))
		}
		time.Sleep(500 * time.Millisecond) // within beta's own rates (5 a second each)
	}
	close(stop)
	flood.Wait()
	// The rows after this one start with alpha's rates refilled (a second
	// refills 5 of Garant's and 10 of FIPS's).
	defer time.Sleep(3 * time.Second)
	t.Logf("alpha's answers by path and status: %v", alphaStatus)
	if len(failed) > 0 {
		t.Errorf("%d of beta's 8 calls failed under alpha's flood: %v", len(failed), failed)
	}
	for _, call := range calls {
		if alphaStatus[call.path][http.StatusTooManyRequests] == 0 {
			t.Errorf("alpha's flood of %s = %v, want some refused with 429", call.path, alphaStatus[call.path])
		}
	}
}

// replayPublicMetrics: the public port has no /metrics, with or without a
// key; the admin listener serves it.
func replayPublicMetrics(t *testing.T, g *replayGateway) {
	for _, key := range []string{"", config.DemoKeyAlpha} {
		r := g.do(t, key, "GET", "/metrics", "")
		wantProblem(t, "GET /metrics on the public port", r, http.StatusNotFound, "")
		if strings.Contains(string(r.body), "gateway_") || strings.Contains(string(r.body), "garant-demo") {
			t.Errorf("GET /metrics on the public port = %v, want nothing of the metrics", r)
		}
	}
	res, err := http.Get("http://" + g.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("GET /metrics on the admin listener = %d, want 200", res.StatusCode)
	}
}

// replayFIPSIDs: beta reading alpha's application gets exactly what a
// missing id gets (status, problem type and text), so ids cannot be
// enumerated.
func replayFIPSIDs(t *testing.T, g *replayGateway) {
	id := g.createApplication(t, "Заявка альфы", "")
	other := g.do(t, config.DemoKeyBeta, "GET", "/v1/fips/applications/"+id, "")
	missing := g.do(t, config.DemoKeyBeta, "GET", "/v1/fips/applications/999999999", "")
	strip := func(r reply) string {
		p := r.problem()
		delete(p, "request_id")
		delete(p, "instance")
		b, _ := json.Marshal(p)
		return fmt.Sprintf("%d %s", r.status, b)
	}
	if got, want := strip(other), strip(missing); got != want || other.status != http.StatusNotFound {
		t.Errorf("beta reading alpha's application = %s, a missing id = %s; want the same 404", got, want)
	}
}

// createApplication creates a FIPS application as alpha (with an
// Idempotency-Key when key is not empty) and returns its id.
func (g *replayGateway) createApplication(t *testing.T, title, key string) string {
	t.Helper()
	body := fmt.Sprintf(`{"type":"Invention","category":%q,"title":%q}`,
		`Юридическое лицо\Российская организация\Коммерческая организация`, title)
	var fields []string
	if key != "" {
		fields = []string{"Idempotency-Key", key}
	}
	r := g.do(t, config.DemoKeyAlpha, "POST", "/v1/fips/applications", body, fields...)
	var app struct{ ID string }
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &app) != nil || app.ID == "" {
		t.Fatalf("create a FIPS application = %v, want 201 with an id", r)
	}
	return app.ID
}

// replayFIPSDictionaries: alpha and beta hold different FIPS credentials;
// beta's first read of a dictionary alpha read goes to FIPS (with beta's
// credential), never to alpha's cached copy.
func replayFIPSDictionaries(t *testing.T, g *replayGateway) {
	const path = "/v1/fips/dictionaries/document-types"
	for _, step := range []struct {
		key   string
		calls int
	}{{config.DemoKeyAlpha, 1}, {config.DemoKeyAlpha, 0}, {config.DemoKeyBeta, 1}, {config.DemoKeyBeta, 0}} {
		before := g.fips.Kit.Calls.Total()
		if r := g.do(t, step.key, "GET", path, ""); r.status != 200 {
			t.Fatalf("GET %s as %s = %v, want 200", path, step.key, r)
		}
		if n := g.fips.Kit.Calls.Total() - before; n != step.calls {
			t.Errorf("GET %s as %s reached FIPS %d times, want %d (cached per credential)", path, step.key, n, step.calls)
		}
	}
}

// replayCompleteFails: FIPS creates the application, then Redis refuses
// every write, so the idempotency record cannot be completed: a retry with
// the same key is refused with 409, never a duplicate.
func replayCompleteFails(t *testing.T, g *replayGateway) {
	rdb := g.redis.Client(t)
	ctx := context.Background()
	refuseWrites := func() {
		if err := rdb.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
			t.Error(err)
		}
	}
	g.afterCreate.Store(&refuseWrites)
	before := g.fips.Kit.Calls.Get("POST /api/v1/applications")
	body := fmt.Sprintf(`{"type":"Invention","category":%q,"title":"Без записи"}`,
		`Юридическое лицо\Российская организация\Коммерческая организация`)
	first := g.do(t, config.DemoKeyAlpha, "POST", "/v1/fips/applications", body, "Idempotency-Key", "replay-complete")
	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if first.status != http.StatusCreated {
		t.Errorf("the create whose record cannot be written = %v, want its 201", first)
	}
	retry := g.do(t, config.DemoKeyAlpha, "POST", "/v1/fips/applications", body, "Idempotency-Key", "replay-complete")
	wantProblem(t, "the retry", retry, http.StatusConflict, "")
	if n := g.fips.Kit.Calls.Get("POST /api/v1/applications") - before; n != 1 {
		t.Errorf("FIPS saw %d creates, want 1 (never a duplicate)", n)
	}
}

// topicInfo asks for Garant's information on the nth topic of the
// simulator (a metered operation, so no per-tenant rate applies), never
// from the cache.
func (g *replayGateway) topicInfo(t *testing.T, n int) reply {
	t.Helper()
	return g.do(t, config.DemoKeyAlpha, "GET", fmt.Sprintf("/v1/garant/topics/%d", g.garant.Topics()[n]), "", "Cache-Control", "no-cache")
}

// replayGarant503: with Garant answering 503, 40 calls reach it at most 15
// times; every call answers a 502/503 problem, the later ones at once.
func replayGarant503(t *testing.T, g *replayGateway) {
	g.garant.Kit.SetFault(&simkit.Fault{PathPrefix: "/v2/", Status: 503})
	defer g.garant.Kit.SetFault(nil)
	before := g.garant.Kit.Calls.Total()
	for i := range 40 {
		r := g.topicInfo(t, 0)
		if r.status == http.StatusServiceUnavailable {
			wantProblem(t, fmt.Sprintf("call %d", i), r, http.StatusServiceUnavailable, "")
		} else {
			wantProblem(t, fmt.Sprintf("call %d", i), r, http.StatusBadGateway, "")
		}
	}
	if n := g.garant.Kit.Calls.Total() - before; n > 15 {
		t.Errorf("40 calls reached a failing Garant %d times, want at most 15", n)
	}
}

// replayGarantHangs: with Garant hanging, the calls that wait for it end at
// its timeout (2 s here); once the breaker opens, calls answer 503 with
// Retry-After without waiting for Garant.
func replayGarantHangs(t *testing.T, g *replayGateway) {
	// The breaker of the previous row closes again once a probe succeeds.
	deadline := time.Now().Add(30 * time.Second)
	for g.topicInfo(t, 2).status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("Garant's breaker did not close within 30 s of Garant answering again")
		}
		time.Sleep(200 * time.Millisecond)
	}
	g.garant.Kit.SetFault(&simkit.Fault{PathPrefix: "/v2/", Hang: true})
	defer g.garant.Kit.SetFault(nil)
	opened := false
	for i := range 12 {
		start := time.Now()
		r := g.topicInfo(t, 1)
		took := time.Since(start)
		if took > 15*time.Second {
			t.Errorf("call %d to a hanging Garant took %s, want it bounded by the 2 s timeout", i, took)
		}
		if r.status == http.StatusServiceUnavailable {
			wantProblem(t, fmt.Sprintf("call %d", i), r, http.StatusServiceUnavailable, "")
			if r.header.Get("Retry-After") == "" {
				t.Errorf("call %d = 503 without Retry-After", i)
			}
			opened = true
			before := g.garant.Kit.Calls.Total()
			if r := g.topicInfo(t, 1); r.status != http.StatusServiceUnavailable ||
				g.garant.Kit.Calls.Total() != before {
				t.Errorf("a call while the breaker is open = %v and reached Garant %d times, want 503 without reaching it",
					r, g.garant.Kit.Calls.Total()-before)
			}
			break
		}
		wantProblem(t, fmt.Sprintf("call %d", i), r, http.StatusGatewayTimeout, "")
	}
	if !opened {
		t.Error("12 calls to a hanging Garant never opened the breaker")
	}
}

// replayRedisPassword: redis.url can come from ${ENV} (it carries the
// password), and a malformed URL holding a password stops the start with
// an error that does not print it.
func replayRedisPassword(t *testing.T, g *replayGateway) {
	const password = "s3cret-redis-pass"
	rs := redistest.Start(t, "--requirepass", password)
	cfg := fmt.Sprintf(`
redis: {url: "${REDIS_URL}"}
credentials:
  fssp-main: {upstream: fssp, secret: demo-fssp-token}
tenants:
  billing: {keys_sha256: [%s], credentials: {fssp: fssp-main}}
upstreams:
  fssp: {base_url: "http://127.0.0.1:1"}
`, config.HashKey("billing-key"))
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base, out := startGateway(t, []string{"-config", path}, map[string]string{"REDIS_URL": "redis://:" + password + "@" + rs.Addr})
	if res, err := http.Get(base + "/readyz"); err != nil || res.StatusCode != 200 {
		t.Errorf("GET /readyz with redis.url from ${REDIS_URL} = %v, %v; want 200", res, err)
	} else {
		res.Body.Close()
	}
	var errOut syncBuffer
	err := run(context.Background(), []string{"-config", path, "-addr", "127.0.0.1:0"},
		func(string) string { return "redis://:" + password + "@[::1" }, &errOut, &errOut)
	if err == nil || strings.Contains(err.Error(), password) || strings.Contains(errOut.String(), password) || strings.Contains(out.String(), password) {
		t.Errorf("run() with a malformed redis.url = %v, output %q; want an error that does not print the password", err, errOut.String())
	}
}

// replayDuplicateKeyHash: a config with one key hash under two tenants is
// refused at start.
func replayDuplicateKeyHash(t *testing.T, g *replayGateway) {
	cfg := fmt.Sprintf(`
redis: {url: %q}
credentials:
  fssp-main: {upstream: fssp, secret: demo-fssp-token}
tenants:
  alpha: {keys_sha256: [%[2]s], credentials: {fssp: fssp-main}}
  beta: {keys_sha256: [%[2]s], credentials: {fssp: fssp-main}}
upstreams:
  fssp: {base_url: "http://127.0.0.1:1"}
`, g.redis.URL(), config.HashKey("shared-key"))
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	err := run(context.Background(), []string{"-config", path, "-addr", "127.0.0.1:0"}, func(string) string { return "" }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "keys_sha256") {
		t.Errorf("run() with one key hash under two tenants = %v, want refused naming keys_sha256", err)
	}
}

// waitNoPanic fails t if the gateway's log shows a panic once net/http has
// had a moment to log one (it does so after the answer).
func waitNoPanic(t *testing.T, out *syncBuffer) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	if strings.Contains(out.String(), "panic") {
		t.Errorf("gateway log has a panic:\n%.2000s", out.String())
	}
}
