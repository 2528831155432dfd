package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/legalgate/legalgate/internal/fairshare"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/garant"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/usage"
)

// withFair gives the gateway (and its Garant service, which admits its own
// calls) a fair-share limiter configured by cfg.
func withFair(t *testing.T, cfg fairshare.Config) func(*handlers.Deps) {
	return func(d *handlers.Deps) {
		l, err := fairshare.New(d.Redis, cfg, d.Registry, d.Log)
		must(t, err)
		d.Fair = l
		if d.Garant != nil {
			d.Garant.Fair = l
		}
	}
}

// wantRefusal checks an answer is a problem of status and type naming limit,
// with a Retry-After.
func wantRefusal(t *testing.T, what string, status int, h http.Header, body []byte, wantStatus int, typ, limit string) {
	t.Helper()
	var p map[string]any
	_ = json.Unmarshal(body, &p)
	if status != wantStatus || h.Get("Content-Type") != "application/problem+json" || h.Get("Retry-After") == "" ||
		p["type"] != handlers.ProblemTypeBase+typ || p["limit"] != limit || p["request_id"] == nil {
		t.Fatalf("%s = %d (Retry-After %q) %s; want %d, a %s problem naming %s, with a Retry-After",
			what, status, h.Get("Retry-After"), body, wantStatus, typ, limit)
	}
}

// gauge reads one series of a gauge from reg (labels as name, value pairs).
func gauge(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
					return l.GetName() == labels[i] && l.GetValue() == labels[i+1]
				}) {
					continue series
				}
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// awaitGauge waits until gauge() is want.
func awaitGauge(t *testing.T, reg prometheus.Gatherer, want float64, name string, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for gauge(t, reg, name, labels...) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", name, labels, gauge(t, reg, name, labels...), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFairLongPollCaps: long polls, parked or waiting in a goroutine (past
// max_parked), count against the tenant's cap (429) and the gateway's (503);
// a wait past a cap on a search is not applied (202); answered polls free
// their slots.
func TestFairLongPollCaps(t *testing.T) {
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor, cfg.RunFor = time.Minute, 0
	sim := fsspsim.New(cfg)
	sim.Kit.Clock.Set(time.Now()) // tasks stay queued until the clock moves
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	g := fsspGatewayRules(t, simSrv.URL, fsspQuota, func(d *handlers.Deps) { d.MaxParked = 1 },
		withFair(t, fairshare.Config{Default: fairshare.Limits{LongPolls: 2}, LongPolls: 3}))

	taskOf := func(key string) string {
		return decodeTask(t, g.do(t, "POST", "/v1/fssp/searches/ip", key, map[string]any{"number": "12345/24/77001-ИП"}), http.StatusAccepted).ID
	}
	alphaTask, otherTask := taskOf(keyAlpha), taskOf(keyOther)
	get := func(key, task string) (int, http.Header, []byte) {
		req, err := http.NewRequest("GET", g.URL+"/v1/fssp/tasks/"+task+"?wait=30", nil)
		must(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := g.Client().Do(req)
		must(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, b
	}
	type answer struct {
		status int
		h      http.Header
		body   []byte
	}
	answers := make(chan answer, 10)
	var wg sync.WaitGroup
	polls := func(key, task string, n int) {
		for range n {
			wg.Go(func() {
				status, h, body := get(key, task)
				answers <- answer{status, h, body}
			})
		}
	}
	// The one refused answers at once; the admitted ones wait for the task.
	refusal := func(what string) answer {
		t.Helper()
		select {
		case a := <-answers:
			return a
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: no long poll answered at once, want one refused", what)
		}
		return answer{}
	}
	// One of alpha's first two is parked, the other waits in a goroutine
	// (max_parked is 1); both count.
	polls(keyAlpha, alphaTask, 3)
	a := refusal("alpha's three long polls")
	wantRefusal(t, "alpha's third long poll", a.status, a.h, a.body, http.StatusTooManyRequests, fairshare.TypeConcurrency, fairshare.LimitLongPollsPerTenant)

	polls(keyOther, otherTask, 2) // the gateway's third and fourth
	a = refusal("other's two long polls")
	wantRefusal(t, "the gateway's fourth long poll", a.status, a.h, a.body, http.StatusServiceUnavailable, fairshare.TypeOverloaded, fairshare.LimitLongPollsGlobal)
	awaitGauge(t, g.Deps.Registry, 2, "gateway_fair_long_polls", "tenant", "alpha")
	awaitGauge(t, g.Deps.Registry, 1, "gateway_fair_long_polls", "tenant", "other")

	// A search that prefers to wait is queued and answered at once.
	res := g.do(t, "POST", "/v1/fssp/searches/ip", keyOther, map[string]any{"number": "12345/24/77001-ИП"}, "Prefer", "wait=10")
	decodeTask(t, res, http.StatusAccepted)
	if pa := res.Header.Get("Preference-Applied"); pa != "" {
		t.Errorf("Preference-Applied = %q past the cap, want none", pa)
	}

	sim.Kit.Clock.Advance(2 * time.Minute)
	wg.Wait()
	close(answers)
	for a := range answers {
		if a.status != http.StatusOK {
			t.Errorf("an admitted long poll = %d %s, want 200", a.status, a.body)
		}
	}
	for _, tenantID := range []string{"alpha", "other"} {
		awaitGauge(t, g.Deps.Registry, 0, "gateway_fair_long_polls", "tenant", tenantID)
	}
}

// gatedGarant is a Garant simulator whose searches wait until the test
// opens the gate, and a test gateway (tenants alpha and garant-beta on one
// credential) in front of it.
type gatedGarant struct {
	*garantEnv
	gated   *garantsim.Server // behind the gate (garantEnv.sim is not)
	entered chan struct{}
	open    chan struct{}
}

func newGatedGarant(t *testing.T, fair fairshare.Config) *gatedGarant {
	t.Helper()
	g := &gatedGarant{entered: make(chan struct{}, 100), open: make(chan struct{})}
	g.gated = garantsim.New(simConfig())
	ss := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/search" {
			g.entered <- struct{}{}
			<-g.open
		}
		g.gated.ServeHTTP(w, r)
	}))
	t.Cleanup(ss.Close)
	t.Cleanup(func() {
		select {
		case <-g.open:
		default:
			close(g.open)
		}
	})
	g.garantEnv = newGarantEnv(t, simConfig(), func(d *handlers.Deps) {
		c, err := garant.New(garant.Config{BaseURL: ss.URL, Timeout: time.Minute})
		must(t, err)
		d.Garant.Client = c
		withFair(t, fair)(d)
	})
	return g
}

// search sends a search of text in the background; its status arrives on
// the returned channel.
func (g *gatedGarant) search(t *testing.T, key, text string) <-chan int {
	done := make(chan int, 1)
	go func() {
		status, _, _ := g.sendNoFatal(key, text)
		done <- status
	}()
	return done
}

func (g *gatedGarant) sendNoFatal(key, text string) (int, http.Header, []byte) {
	req, _ := http.NewRequest("POST", g.URL+"/v1/garant/search", jsonBody(map[string]any{"text": text, "env": "internet"}))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := g.Client().Do(req)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

func (g *gatedGarant) awaitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no search reached the simulator")
	}
}

// TestFairUpstreamCallCaps: a tenant holds at most its cap of calls on a
// shared credential (429), every tenant together at most the credential's
// (503); nothing past a cap reaches the upstream, and finished calls free
// their slots.
func TestFairUpstreamCallCaps(t *testing.T) {
	g := newGatedGarant(t, fairshare.Config{Default: fairshare.Limits{UpstreamCalls: 2}, CredentialCalls: 3})
	var held []<-chan int
	for i := range 2 {
		held = append(held, g.search(t, keyAlpha, fmt.Sprintf("налоговый кодекс %d", i)))
		g.awaitEntered(t)
	}
	status, h, body := g.sendNoFatal(keyAlpha, "налоговый кодекс 3")
	wantRefusal(t, "alpha's third call", status, h, body, http.StatusTooManyRequests, fairshare.TypeConcurrency, fairshare.LimitCallsPerTenant)

	held = append(held, g.search(t, keyGarantBeta, "трудовой кодекс"))
	g.awaitEntered(t)
	status, h, body = g.sendNoFatal(keyGarantBeta, "трудовой кодекс 2")
	wantRefusal(t, "the credential's fourth call", status, h, body, http.StatusServiceUnavailable, fairshare.TypeOverloaded, fairshare.LimitCallsPerCredential)
	if n := g.gated.Kit.Calls.Get("POST /v2/search"); n != 0 {
		t.Errorf("the simulator answered %d searches before the gate opened, want 0", n)
	}
	select {
	case <-g.entered:
		t.Fatal("a refused call reached the simulator")
	default:
	}

	close(g.open)
	for _, c := range held {
		if s := <-c; s != http.StatusOK {
			t.Errorf("an admitted search = %d, want 200", s)
		}
	}
	if status, _, body := g.sendNoFatal(keyAlpha, "налоговый кодекс 4"); status != http.StatusOK {
		t.Errorf("alpha's call after its calls finished = %d %s, want 200", status, body)
	}
}

// TestFairCapsCountCallsNotHits: the cap on a tenant's upstream calls counts
// the calls that reach Garant, not the requests its cache answers: with its
// one call held upstream, alpha's cached topic is still served, while a
// second call is refused.
func TestFairCapsCountCallsNotHits(t *testing.T) {
	g := newGatedGarant(t, fairshare.Config{Default: fairshare.Limits{UpstreamCalls: 1}})
	const topic = "/v1/garant/topics/10103000"
	if status, _, body := g.send(t, "GET", topic, keyAlpha, nil); status != http.StatusOK {
		t.Fatalf("alpha's first topic call = %d %s, want 200", status, body)
	}
	held := g.search(t, keyAlpha, "налоговый кодекс")
	g.awaitEntered(t)
	status, h, body := g.send(t, "GET", topic, keyAlpha, nil)
	if status != http.StatusOK || !strings.Contains(h.Get("Cache-Status"), "hit") {
		t.Errorf("alpha's cached topic while its one call is held = %d (Cache-Status %q) %s; want a 200 hit",
			status, h.Get("Cache-Status"), body)
	}
	status, h, body = g.sendNoFatal(keyAlpha, "налоговый кодекс 2")
	wantRefusal(t, "alpha's second call", status, h, body, http.StatusTooManyRequests, fairshare.TypeConcurrency, fairshare.LimitCallsPerTenant)
	close(g.open)
	if s := <-held; s != http.StatusOK {
		t.Errorf("the held search = %d, want 200", s)
	}
}

// TestFairRateOfUnmeteredOperations: a tenant's unmetered Garant calls are
// held to its rate (429 naming fairness.rates.garant, nothing sent
// upstream); metered calls and the other tenant are not.
func TestFairRateOfUnmeteredOperations(t *testing.T) {
	env := newGarantEnv(t, simConfig(), withFair(t, fairshare.Config{
		Default: fairshare.Limits{Rates: map[string]fairshare.Rate{"garant": {PerSecond: 1, Burst: 2}}}}))
	search := func(key, text string) (int, http.Header, []byte) {
		return env.send(t, "POST", "/v1/garant/search", key, map[string]any{"text": text, "env": "internet"})
	}
	// Eight at once: past the burst of 2, a search waits for the next unit a
	// second, so at least one is refused unless the eight took over 6 s.
	type answer struct {
		status int
		h      http.Header
		body   []byte
	}
	answers := make(chan answer, 8)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			status, h, body := search(keyAlpha, fmt.Sprintf("кодекс %d", i))
			answers <- answer{status, h, body}
		})
	}
	wg.Wait()
	close(answers)
	served, refused := 0, 0
	for a := range answers {
		switch a.status {
		case http.StatusOK:
			served++
		default:
			refused++
			wantRefusal(t, "alpha's search past its rate", a.status, a.h, a.body, http.StatusTooManyRequests, fairshare.TypeRate, fairshare.LimitRate+".garant")
		}
	}
	if refused == 0 || served < 2 {
		t.Errorf("alpha's 8 searches at once: %d served, %d refused; want the burst of 2 served and the rest refused", served, refused)
	}
	if n := env.sim.Kit.Calls.Get("POST /v2/search"); n != served {
		t.Errorf("simulator searches = %d, want %d: the refused ones are not sent", n, served)
	}
	if status, _, body := search(keyGarantBeta, "кодекс 9"); status != http.StatusOK {
		t.Errorf("beta's search = %d %s, want 200: alpha's rate is alpha's", status, body)
	}
	if status, _, body := env.send(t, "GET", "/v1/garant/topics/10103000", keyAlpha, nil); status != http.StatusOK {
		t.Errorf("alpha's metered topic call = %d %s, want 200: the rate is for unmetered operations", status, body)
	}
}

// TestFairRateOfFIPS: FIPS operations, which no quota meters, are held to a
// per-tenant rate: one tenant cannot starve the others.
func TestFairRateOfFIPS(t *testing.T) {
	_, g := startFIPSWith(t, fipsOptions{fair: &fairshare.Config{
		Default: fairshare.Limits{Rates: map[string]fairshare.Rate{"fips": {PerSecond: 1, Burst: 2}}}}})
	for i := range 2 {
		g.call(t, fipsKeyAlpha, "GET", "/v1/fips/applications", nil, "").want(t, fmt.Sprintf("alpha's list %d", i), http.StatusOK)
	}
	a := g.call(t, fipsKeyAlpha, "GET", "/v1/fips/applications", nil, "")
	wantRefusal(t, "alpha's third list at once", a.status, a.header, a.body, http.StatusTooManyRequests, fairshare.TypeRate, fairshare.LimitRate+".fips")
	g.call(t, fipsKeyBeta, "GET", "/v1/fips/applications", nil, "").want(t, "beta's list", http.StatusOK)
}

// TestFairFloodingTenant: while alpha floods the free Garant search from
// many concurrent callers, beta, on the same credential, keeps every call
// succeeding, promptly and never throttled. The credential's per-second rate
// answers 429 at once here (no wait for the next second), so any call of
// beta's that found the credential's second spent by alpha fails. Without
// fair sharing alpha's flood takes the whole rate and beta's calls fail.
func TestFairFloodingTenant(t *testing.T) {
	env := newGarantEnv(t, simConfig(), func(d *handlers.Deps) {
		var rules []quota.Rule
		for fam, limit := range map[string]int64{quota.FamilyExport: 30, quota.FamilyTopicInfo: 300, quota.FamilyLinksControl: 1000} {
			rules = append(rules, quota.Rule{Scope: quota.ScopeCredential, Upstream: "garant", Family: fam, Period: quota.PeriodMonth, Limit: limit})
		}
		rules = append(rules, quota.Rule{Scope: quota.ScopeCredential, Upstream: "garant", Family: quota.FamilyRate, Period: quota.PeriodSecond, Limit: 10})
		q, err := quota.New(d.Redis, quota.Config{Rules: rules, RateWait: -1}, prometheus.NewRegistry())
		must(t, err)
		d.Quotas = &usage.Reports{Quota: q}
		// At most 2 + 2 a second each: alpha's flood and beta's calls fit in
		// the credential's 10 in any second.
		withFair(t, fairshare.Config{
			Default:         fairshare.Limits{UpstreamCalls: 4, Rates: map[string]fairshare.Rate{"garant": {PerSecond: 2, Burst: 2}}},
			CredentialCalls: 32,
		})(d)
	})
	// A loaded machine must not turn a slow simulator into a 504.
	c, err := garant.New(garant.Config{BaseURL: env.simURL, Timeout: time.Minute})
	must(t, err)
	env.Deps.Garant.Client = c
	stop := make(chan struct{})
	var (
		flood       sync.WaitGroup
		mu          sync.Mutex
		alphaStatus = map[int]int{}
	)
	for w := range 16 {
		flood.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				status, _, _ := sendJSON(env.Server, "POST", "/v1/garant/search", keyAlpha,
					map[string]any{"text": fmt.Sprintf("поток %d %d", w, i), "env": "internet"})
				mu.Lock()
				alphaStatus[status]++
				mu.Unlock()
			}
		})
	}
	time.Sleep(300 * time.Millisecond) // the flood is under way

	const calls = 8
	var latencies []time.Duration
	var failed []string
	for i := range calls {
		start := time.Now()
		status, _, body := sendJSON(env.Server, "POST", "/v1/garant/search", keyGarantBeta,
			map[string]any{"text": fmt.Sprintf("спокойный %d", i), "env": "internet"})
		latencies = append(latencies, time.Since(start))
		if status != http.StatusOK {
			failed = append(failed, fmt.Sprintf("%d %s", status, body))
		}
		time.Sleep(600 * time.Millisecond) // within beta's own rate
	}
	close(stop)
	flood.Wait()

	slices.Sort(latencies)
	t.Logf("beta: %d calls, %d failed, latency p50 %v max %v; alpha's answers by status %v",
		calls, len(failed), latencies[calls/2], latencies[calls-1], alphaStatus)
	if len(failed) > 0 {
		t.Errorf("%d of beta's %d calls failed under alpha's flood: %v", len(failed), calls, failed)
	}
	// Generous: the machine may be busy; a call that waited on anything
	// but the CPU would take longer.
	if latencies[calls-1] > 5*time.Second {
		t.Errorf("beta's slowest call took %v under alpha's flood, want under 5s", latencies[calls-1])
	}
	if alphaStatus[http.StatusOK] == 0 || alphaStatus[http.StatusTooManyRequests] == 0 {
		t.Errorf("alpha's answers = %v, want some served and some refused with 429", alphaStatus)
	}
}

// sendJSON is send without a testing.T, for goroutines.
func sendJSON(srv *httptest.Server, method, path, key string, body any) (int, http.Header, []byte) {
	req, err := http.NewRequest(method, srv.URL+path, jsonBody(body))
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := srv.Client().Do(req)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}
