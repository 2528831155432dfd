package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
	"github.com/legalgate/legalgate/internal/usage"
)

// fsspGateway is the test gateway with the FSSP task engine on the simulator.
func fsspGateway(t *testing.T) (*gateway, *fsspsim.Server) {
	t.Helper()
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor, cfg.RunFor = 100*time.Millisecond, 200*time.Millisecond
	return fsspGatewayWith(t, cfg, fsspQuota)
}

// fsspGatewayWith is the test gateway with the FSSP task engine on a
// simulator configured by cfg, metered by rules.
func fsspGatewayWith(t *testing.T, cfg fsspsim.Config, rules []quota.Rule) (*gateway, *fsspsim.Server) {
	t.Helper()
	sim := fsspsim.New(cfg)
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	return fsspGatewayRules(t, simSrv.URL, rules), sim
}

// fsspQuota is the FSSP quota of the test gateway's credential.
var fsspQuota = []quota.Rule{
	{Scope: quota.ScopeCredential, Owner: "fssp-test", Upstream: "fssp", Family: quota.FamilySingle, Period: quota.PeriodSlidingHour, Limit: 100},
	{Scope: quota.ScopeCredential, Owner: "fssp-test", Upstream: "fssp", Family: quota.FamilyGroup, Period: quota.PeriodSlidingDay, Limit: 100},
}

// fsspGatewayAt is the test gateway with the FSSP task engine on the FSSP
// API at baseURL, metered by fsspQuota.
func fsspGatewayAt(t *testing.T, baseURL string) *gateway {
	t.Helper()
	return fsspGatewayRules(t, baseURL, fsspQuota)
}

// fsspGatewayRules is the test gateway with the FSSP task engine on the FSSP
// API at baseURL, metered by rules. The engine stops when the test ends.
func fsspGatewayRules(t testing.TB, baseURL string, rules []quota.Rule, edits ...func(*handlers.Deps)) *gateway {
	t.Helper()
	return newGateway(t, func(d *handlers.Deps) {
		for _, edit := range edits {
			edit(d)
		}
		q, err := quota.New(d.Redis, quota.Config{Rules: rules}, nil)
		must(t, err)
		d.Quotas = &usage.Reports{Quota: q}
		client, err := fssp.New(fssp.Config{BaseURL: baseURL, Timeout: 2 * time.Second})
		must(t, err)
		d.FSSP = fssptasks.New(d.Redis, client, d.Quotas.Quota.Reserve, fssptasks.Config{
			PollInitial: 50 * time.Millisecond, PollMax: 100 * time.Millisecond, ScanInterval: 50 * time.Millisecond,
			Tokens: func(name string) (tenant.Secret, bool) {
				c, ok := d.Tenants.Load().Credential(name)
				if !ok {
					return tenant.Secret{}, false
				}
				return c.Secret, true
			},
		}, nil, d.Log)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = d.FSSP.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		<-d.FSSP.Ready()
	})
}

type taskDoc struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Progress struct{ Done, Total int }
	Results  []struct {
		Status  string      `json:"status"`
		Error   *problemDoc `json:"error"`
		Records []struct {
			Debtor     struct{ Name string }   `json:"debtor"`
			Proceeding struct{ Number string } `json:"proceeding"`
			Raw        map[string]string       `json:"raw"`
		} `json:"records"`
	} `json:"results"`
}

func decodeTask(t *testing.T, res *http.Response, want int) taskDoc {
	t.Helper()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d; body %s", res.Request.Method, res.Request.URL, res.StatusCode, want, body)
	}
	var d taskDoc
	must(t, json.Unmarshal(body, &d))
	return d
}

func TestFSSPSearchAcceptedThenLongPoll(t *testing.T) {
	g, sim := fsspGateway(t)
	res := g.do(t, "POST", "/v1/fssp/searches/physical", keyAlpha, map[string]any{
		"region": 77, "lastname": fsspsim.ManySurname, "firstname": "ИВАН", "birthdate": "01.01.1980"})
	task := decodeTask(t, res, http.StatusAccepted)
	if loc := res.Header.Get("Location"); loc != "/v1/fssp/tasks/"+task.ID || res.Header.Get("Retry-After") == "" {
		t.Errorf("202 Location = %q, Retry-After = %q; want the task path and a delay", loc, res.Header.Get("Retry-After"))
	}
	if task.Status != "queued" && task.Status != "running" {
		t.Errorf("new task status = %q, want queued or running", task.Status)
	}
	// Waiting answers when the task finished, well before the wait ran out.
	start := time.Now()
	done := decodeTask(t, g.do(t, "GET", "/v1/fssp/tasks/"+task.ID+"?wait=20", keyAlpha, nil), http.StatusOK)
	if done.Status != "succeeded" || len(done.Results) != 1 || len(done.Results[0].Records) < fsspsim.ManyRecords {
		t.Fatalf("finished task = %+v, want succeeded with at least %d records", done, fsspsim.ManyRecords)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("long-poll took %v, want it to answer when the task finished", time.Since(start))
	}
	r := done.Results[0].Records[0]
	if r.Raw["name"] == "" || !strings.HasPrefix(r.Raw["name"], r.Debtor.Name) || r.Proceeding.Number == "" {
		t.Errorf("record = %+v, want a normalised debtor and proceeding beside the raw strings", r)
	}
	// A finished task answers at once, and polls never came from the waiter.
	polls := sim.Kit.Calls.Get("GET /status")
	decodeTask(t, g.do(t, "GET", "/v1/fssp/tasks/"+task.ID+"?wait=20", keyAlpha, nil), http.StatusOK)
	if got := sim.Kit.Calls.Get("GET /status"); got != polls {
		t.Errorf("status polls went from %d to %d for a finished task", polls, got)
	}
}

// checkTaskAnswer checks a 200 answer of fsspGetTask: the contract's
// headers (Retry-After only while unfinished), a Content-Length that is the
// body's, and a body byte for byte what the generated response type writes
// for the same task. It returns the body and the task's status.
func checkTaskAnswer(t *testing.T, res *http.Response) ([]byte, string) {
	t.Helper()
	body, err := io.ReadAll(res.Body)
	must(t, err)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s, want 200", res.Request.URL, res.StatusCode, body)
	}
	var task api.FSSPTask
	must(t, json.Unmarshal(body, &task))
	rec := httptest.NewRecorder()
	must(t, api.FsspGetTask200JSONResponse{Body: task}.VisitFsspGetTaskResponse(rec))
	if !bytes.Equal(body, rec.Body.Bytes()) {
		t.Errorf("GET %s body:\n%s\nwant the generated encoding:\n%s", res.Request.URL, body, rec.Body.Bytes())
	}
	if ct := res.Header.Values("Content-Type"); len(ct) != 1 || ct[0] != "application/json" {
		t.Errorf("GET %s Content-Type = %q, want application/json", res.Request.URL, ct)
	}
	if cl := res.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
		t.Errorf("GET %s Content-Length = %q, want %d", res.Request.URL, cl, len(body))
	}
	final := task.Status != api.FSSPTaskQueued && task.Status != api.FSSPTaskRunning
	if ra := res.Header.Values("Retry-After"); final && len(ra) != 0 || !final && (len(ra) != 1 || ra[0] != "1") {
		t.Errorf("GET %s (%s) Retry-After = %q, want 1 while unfinished, none once final", res.Request.URL, task.Status, ra)
	}
	return body, string(task.Status)
}

// TestFSSPWaitersShareOneAnswer parks many long polls on one task: every
// one is answered with the same bytes, the encoding of the final state, with
// the contract's headers; another tenant waiting on the task gets a 404 at
// once; an unfinished state answers with Retry-After.
func TestFSSPWaitersShareOneAnswer(t *testing.T) {
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor, cfg.RunFor = 500*time.Millisecond, 200*time.Millisecond
	g, sim := fsspGatewayWith(t, cfg, fsspQuota)
	task := decodeTask(t, g.do(t, "POST", "/v1/fssp/searches/physical", keyAlpha, map[string]any{
		"region": 77, "lastname": fsspsim.ManySurname, "firstname": "ИВАН"}), http.StatusAccepted)
	path := "/v1/fssp/tasks/" + task.ID
	if _, status := checkTaskAnswer(t, g.do(t, "GET", path, keyAlpha, nil)); status != "queued" && status != "running" {
		t.Fatalf("new task = %s, want it unfinished", status)
	}
	const n = 50
	bodies := make([][]byte, n)
	statuses := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res := g.do(t, "GET", path+"?wait=20", keyAlpha, nil)
			bodies[i], statuses[i] = checkTaskAnswer(t, res)
		})
	}
	start := time.Now()
	readProblem(t, g.do(t, "GET", path+"?wait=20", keyOther, nil), http.StatusNotFound)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("another tenant's wait took %v, want a 404 at once", d)
	}
	wg.Wait()
	for i := range n {
		if statuses[i] != "succeeded" || !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatalf("waiter %d: %s, %d bytes; want succeeded and the same bytes as waiter 0 (%s, %d bytes)",
				i, statuses[i], len(bodies[i]), statuses[0], len(bodies[0]))
		}
	}
	if got := sim.Kit.Calls.Get("GET /result"); got != 1 {
		t.Errorf("/result calls = %d, want 1", got)
	}
	// A later read of the final task, waiting or not, answers the same bytes.
	for _, q := range []string{"", "?wait=20"} {
		if again, _ := checkTaskAnswer(t, g.do(t, "GET", path+q, keyAlpha, nil)); !bytes.Equal(again, bodies[0]) {
			t.Errorf("GET %s%s after the finish = %s, want the waiters' answer", path, q, again)
		}
	}
}

func TestFSSPPreferWait(t *testing.T) {
	g, _ := fsspGateway(t)
	res := g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, map[string]any{"number": "12345/24/77001-ИП"}, "Prefer", "wait=20")
	task := decodeTask(t, res, http.StatusOK)
	if task.Status != "succeeded" || res.Header.Get("Preference-Applied") == "" {
		t.Errorf("POST with Prefer: wait=20 = %q (Preference-Applied %q), want succeeded and the preference applied", task.Status, res.Header.Get("Preference-Applied"))
	}
}

func TestFSSPValidationNeverCallsUpstream(t *testing.T) {
	g, sim := fsspGateway(t)
	for _, tc := range []struct {
		path  string
		body  map[string]any
		field string
	}{
		{"/v1/fssp/searches/physical", map[string]any{"region": 999, "lastname": "А", "firstname": "Б"}, "body.region"},
		{"/v1/fssp/searches/physical", map[string]any{"region": 77, "lastname": "А", "firstname": "Б", "birthdate": "31.02.1980"}, "body.birthdate"},
		{"/v1/fssp/searches/ip", map[string]any{"number": "not-a-number"}, "body.number"},
		{"/v1/fssp/searches/legal", map[string]any{"region": 77}, "body.name"},
	} {
		p := readProblem(t, g.do(t, "POST", tc.path, keyAlpha, tc.body), http.StatusBadRequest)
		found := false
		for _, f := range p.Errors {
			found = found || strings.HasPrefix(f.Field, tc.field)
		}
		if !found {
			t.Errorf("POST %s %v: errors %+v, want one naming %s", tc.path, tc.body, p.Errors, tc.field)
		}
	}
	if n := sim.Kit.Calls.Total(); n != 0 {
		t.Errorf("simulator saw %d calls for invalid searches, want 0", n)
	}
}

func TestFSSPTenantIsolationAndIdempotency(t *testing.T) {
	g, sim := fsspGateway(t)
	body := map[string]any{"region": 77, "name": "РОМАШКА", "address": "МОСКВА"}
	first := decodeTask(t, g.do(t, "POST", "/v1/fssp/searches/legal", keyAlpha, body, "Idempotency-Key", "k-1"), http.StatusAccepted)
	again := decodeTask(t, g.do(t, "POST", "/v1/fssp/searches/legal", keyAlpha, body, "Idempotency-Key", "k-1"), http.StatusAccepted)
	if again.ID != first.ID || sim.Kit.Calls.Get("GET /search/legal") != 1 {
		t.Errorf("retry with the same Idempotency-Key = task %s (first %s), %d upstream searches; want the same task and 1 search",
			again.ID, first.ID, sim.Kit.Calls.Get("GET /search/legal"))
	}
	body["address"] = "ТВЕРЬ"
	readProblem(t, g.do(t, "POST", "/v1/fssp/searches/legal", keyAlpha, body, "Idempotency-Key", "k-1"), http.StatusUnprocessableEntity)
	// Another tenant does not see the task, nor an unknown one.
	readProblem(t, g.do(t, "GET", "/v1/fssp/tasks/"+first.ID, keyOther, nil), http.StatusNotFound)
	readProblem(t, g.do(t, "GET", "/v1/fssp/tasks/"+first.ID, keyNoCreds, nil), http.StatusForbidden)
	readProblem(t, g.do(t, "GET", "/v1/fssp/tasks/00000000-0000-0000-0000-000000000000", keyAlpha, nil), http.StatusNotFound)
}

// TestFSSPPartialResult runs a group whose legal search has no address: the
// simulator, reproducing the document's example result, fails it with
// "Undefined index: address" (status 3 upstream), so the task is partial
// with that result's problem beside the good one.
func TestFSSPPartialResult(t *testing.T) {
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor, cfg.RunFor = 100*time.Millisecond, 200*time.Millisecond
	cfg.AddressQuirk = true
	g, _ := fsspGatewayWith(t, cfg, fsspQuota)
	body := map[string]any{"requests": []map[string]any{
		{"type": "legal", "params": map[string]any{"region": 77, "name": fsspsim.ManyLegalName}},
		{"type": "physical", "params": map[string]any{"region": 77, "lastname": fsspsim.ManySurname, "firstname": "ИВАН"}},
	}}
	task := decodeTask(t, g.do(t, "POST", "/v1/fssp/searches/group", keyAlpha, body, "Prefer", "wait=20"), http.StatusOK)
	if task.Status != "partial" || len(task.Results) != 2 || task.Progress.Done != 2 {
		t.Fatalf("group task = %+v, want partial with 2 results, 2 of 2 done", task)
	}
	failed, ok := task.Results[0], task.Results[1]
	if failed.Status != "failed" || failed.Error == nil || len(failed.Records) != 0 {
		t.Fatalf("results[0] = %+v, want failed with an error and no records", failed)
	}
	if e := failed.Error; e.Status != http.StatusBadGateway || e.Upstream != "fssp" ||
		!strings.HasSuffix(e.Type, "/fssp-search-failed") || !strings.Contains(e.Detail, "Undefined index: address") {
		t.Errorf("results[0].error = %+v, want a 502 fssp-search-failed problem quoting the upstream message", e)
	}
	if ok.Status != "succeeded" || ok.Error != nil || len(ok.Records) < fsspsim.ManyRecords {
		t.Errorf("results[1] = %s (error %+v, %d records), want succeeded with at least %d records",
			ok.Status, ok.Error, len(ok.Records), fsspsim.ManyRecords)
	}
}

// TestFSSPUpstreamDown submits while FSSP cannot be reached or answers an
// HTML 502: the client gets a 502 problem with a request id and the quota
// unit taken for the search is given back.
func TestFSSPUpstreamDown(t *testing.T) {
	search := map[string]any{"number": "12345/24/77001-ИП"}
	used := func(t *testing.T, g *gateway) int64 {
		t.Helper()
		rows, err := g.Deps.Quotas.Quota.Usage(context.Background(), "alpha", map[string]string{"fssp": "fssp-test"})
		must(t, err)
		if len(rows) == 0 {
			t.Fatal("Usage(alpha, fssp) = no rows, want the fssp quota")
		}
		var n int64
		for _, r := range rows {
			if r.Family == quota.FamilySingle {
				n += r.Used
			}
		}
		return n
	}
	check := func(t *testing.T, g *gateway, res *http.Response, wantUsed int64) {
		t.Helper()
		p := readProblem(t, res, http.StatusBadGateway)
		if p.Upstream != "fssp" || !strings.HasSuffix(p.Type, "/upstream-failed") {
			t.Errorf("problem = %+v, want an upstream-failed problem naming fssp", p)
		}
		if n := used(t, g); n != wantUsed {
			t.Errorf("single searches counted after the failure = %d, want %d", n, wantUsed)
		}
	}

	t.Run("closed port", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		addr := l.Addr().String()
		must(t, l.Close())
		g := fsspGatewayAt(t, "http://"+addr)
		check(t, g, g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, search), 0)
	})

	t.Run("HTML 502", func(t *testing.T) {
		g, sim := fsspGateway(t)
		decodeTask(t, g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, search), http.StatusAccepted)
		if n := used(t, g); n != 1 {
			t.Fatalf("single searches counted after one search = %d, want 1", n)
		}
		sim.Kit.SetFault(&simkit.Fault{Status: http.StatusBadGateway, Body: "<html><body>502 Bad Gateway</body></html>"})
		check(t, g, g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, search, "Idempotency-Key", "down-1"), 1)
		// The failed submission freed its Idempotency-Key: a retry runs.
		sim.Kit.SetFault(nil)
		decodeTask(t, g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, search, "Idempotency-Key", "down-1"), http.StatusAccepted)
		if n := used(t, g); n != 2 {
			t.Errorf("single searches counted after the retry = %d, want 2", n)
		}
	})
}

// TestFSSPPreferWaitRunsOut: a wait that runs out still answers 200, with
// the task's current state and where to poll it.
func TestFSSPPreferWaitRunsOut(t *testing.T) {
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor = time.Hour
	g, _ := fsspGatewayWith(t, cfg, fsspQuota)
	res := g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, map[string]any{"number": "12345/24/77001-ИП"}, "Prefer", "wait=1")
	task := decodeTask(t, res, http.StatusOK)
	if task.Status != "queued" && task.Status != "running" {
		t.Errorf("POST with Prefer: wait=1 = status %q, want the unfinished task (queued or running)", task.Status)
	}
	path := "/v1/fssp/tasks/" + task.ID
	for name, want := range map[string]string{"Location": path, "Content-Location": path, "Preference-Applied": "wait=1"} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("POST with Prefer: wait=1: %s = %q, want %q", name, got, want)
		}
	}
	if res.Header.Get("Retry-After") == "" {
		t.Error("POST with Prefer: wait=1: no Retry-After for the unfinished task")
	}
	// Without a wait it is 202, as before.
	decodeTask(t, g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, map[string]any{"number": "12345/24/77001-ИП"}), http.StatusAccepted)
}

// problemWithExtensions reads a problem like readProblem and also returns
// all of its members.
func problemWithExtensions(t *testing.T, res *http.Response, status int) (problemDoc, map[string]any) {
	t.Helper()
	body, err := io.ReadAll(res.Body)
	must(t, err)
	res.Body = io.NopCloser(bytes.NewReader(body))
	p := readProblem(t, res, status)
	var all map[string]any
	must(t, json.Unmarshal(body, &all))
	return p, all
}

// usedSingle is the single searches counted for tenant alpha's FSSP
// credential.
func usedSingle(t *testing.T, g *gateway) int64 {
	t.Helper()
	rows, err := g.Deps.Quotas.Quota.Usage(context.Background(), "alpha", map[string]string{"fssp": "fssp-test"})
	must(t, err)
	var n int64
	for _, r := range rows {
		if r.Family == quota.FamilySingle && r.Scope == quota.ScopeCredential {
			n += r.Used
		}
	}
	return n
}

// TestFSSPQuotaExceeded: the gateway's own quota (a tenant allowed one
// single search an hour) and FSSP's (its hour limit reached) both answer 429
// quota-exceeded problems with a Retry-After; the gateway's carries the
// RateLimit fields, FSSP's gives the search's unit back.
func TestFSSPQuotaExceeded(t *testing.T) {
	search := map[string]any{"number": "12345/24/77001-ИП"}
	t.Run("gateway quota", func(t *testing.T) {
		rules := append([]quota.Rule{{Scope: quota.ScopeTenant, Owner: "alpha", Upstream: "fssp",
			Family: quota.FamilySingle, Period: quota.PeriodSlidingHour, Limit: 1}}, fsspQuota...)
		g, sim := fsspGatewayWith(t, fsspsim.DefaultConfig(), rules)
		first := g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, search)
		decodeTask(t, first, http.StatusAccepted)
		if first.Header.Get("RateLimit") == "" || first.Header.Get("RateLimit-Policy") == "" {
			t.Errorf("1st search: RateLimit = %q, RateLimit-Policy = %q; want both", first.Header.Get("RateLimit"), first.Header.Get("RateLimit-Policy"))
		}
		res := g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, search)
		p, all := problemWithExtensions(t, res, http.StatusTooManyRequests)
		if !strings.HasSuffix(p.Type, "/quota-exceeded") || all["scope"] != "tenant" || all["family"] != "single" {
			t.Errorf("2nd search: problem %v, want quota-exceeded of the tenant's single family", all)
		}
		if n, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || n <= 0 || n > 3601 {
			t.Errorf("2nd search: Retry-After = %q, want seconds within the hour", res.Header.Get("Retry-After"))
		}
		if rl := res.Header.Get("RateLimit"); !strings.Contains(rl, "r=0") || res.Header.Get("RateLimit-Policy") == "" {
			t.Errorf("2nd search: RateLimit = %q, RateLimit-Policy = %q; want none remaining and the policy", rl, res.Header.Get("RateLimit-Policy"))
		}
		if n := sim.Kit.Calls.Get("GET /search/ip"); n != 1 {
			t.Errorf("searches sent upstream = %d, want 1", n)
		}
	})
	t.Run("upstream limit", func(t *testing.T) {
		cfg := fsspsim.DefaultConfig()
		cfg.HourLimit = 1
		g, _ := fsspGatewayWith(t, cfg, fsspQuota)
		decodeTask(t, g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, search), http.StatusAccepted)
		res := g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, search)
		p, all := problemWithExtensions(t, res, http.StatusTooManyRequests)
		policies, _ := all["violated-policies"].([]any)
		if !strings.HasSuffix(p.Type, "/quota-exceeded") || p.Upstream != "fssp" || all["scope"] != "credential" ||
			all["family"] != "single" || len(policies) != 1 || policies[0] != "fssp.single.upstream" || all["resets_at"] == nil {
			t.Errorf("2nd search: problem %v, want quota-exceeded of the credential's single family by FSSP", all)
		}
		if res.Header.Get("Retry-After") != "60" {
			t.Errorf("2nd search: Retry-After = %q, want 60", res.Header.Get("Retry-After"))
		}
		if n := usedSingle(t, g); n != 1 {
			t.Errorf("single searches counted = %d, want 1 (FSSP's refusal refunded)", n)
		}
	})
}

// TestFSSPTokenNeverLogged runs searches, polls through upstream faults
// and an unreachable upstream, then reads every log line the gateways wrote
// once their engines and servers stopped: the FSSP token is in none.
func TestFSSPTokenNeverLogged(t *testing.T) {
	const fsspToken = "demo-fssp-token"
	var logs []*syncBuffer
	// The failures each gateway must have logged (with their errors).
	wantLogged := [][]string{{"fssp submission failed", "fssp poll failed"}, {"fssp submission failed"}}
	// Registered first, so it runs last: after the engines and servers stop.
	t.Cleanup(func() {
		for i, l := range logs {
			for _, msg := range wantLogged[i] {
				if !strings.Contains(l.String(), msg) {
					t.Errorf("gateway %d logs have no %q line; want the failures logged", i, msg)
				}
			}
			if strings.Contains(l.String(), fsspToken) {
				t.Errorf("gateway %d logs contain the FSSP token:\n%s", i, l)
			}
		}
	})
	search := map[string]any{"number": "12345/24/77001-ИП"}

	g, sim := fsspGateway(t)
	logs = append(logs, g.Logs)
	decodeTask(t, g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, search, "Prefer", "wait=20"), http.StatusOK)
	decodeTask(t, g.do(t, "POST", "/v1/fssp/searches/group", keyAlpha, map[string]any{"requests": []map[string]any{
		{"type": "ip", "params": search}, {"type": "legal", "params": map[string]any{"region": 77, "name": "РОГА"}},
	}}, "Prefer", "wait=20"), http.StatusOK)
	// A search FSSP answers with an HTML 502, then polls that fail.
	sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/search", Status: http.StatusBadGateway, Body: "<html>502</html>", Remaining: 1})
	readProblem(t, g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, search), http.StatusBadGateway)
	task := decodeTask(t, g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, search), http.StatusAccepted)
	sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/status", Reset: true})
	failed := decodeTask(t, g.do(t, "GET", "/v1/fssp/tasks/"+task.ID+"?wait=20", keyAlpha, nil), http.StatusOK)
	if failed.Status != "failed" {
		t.Errorf("task polled through connection resets = %q, want failed", failed.Status)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := l.Addr().String()
	must(t, l.Close())
	down := fsspGatewayAt(t, "http://"+addr)
	logs = append(logs, down.Logs)
	readProblem(t, down.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, search), http.StatusBadGateway)
}
