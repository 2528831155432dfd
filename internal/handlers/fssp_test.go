package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

// fsspGateway is the test gateway with the FSSP task engine on the simulator.
func fsspGateway(t *testing.T) (*gateway, *fsspsim.Server) {
	t.Helper()
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor, cfg.RunFor = 100*time.Millisecond, 200*time.Millisecond
	sim := fsspsim.New(cfg)
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	return fsspGatewayAt(t, simSrv.URL), sim
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
	return newGateway(t, func(d *handlers.Deps) {
		q, err := quota.New(d.Redis, quota.Config{Rules: fsspQuota}, nil)
		must(t, err)
		d.Quota = q
		client, err := fssp.New(fssp.Config{BaseURL: baseURL, Timeout: 2 * time.Second})
		must(t, err)
		d.FSSP = fssptasks.New(d.Redis, client, d.Quota.Reserve, fssptasks.Config{
			PollInitial: 50 * time.Millisecond, PollMax: 100 * time.Millisecond, ScanInterval: 50 * time.Millisecond,
			Tokens: func(name string) (tenant.Secret, bool) {
				c, ok := d.Tenants.Credential(name)
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
// simulator fails it with "Undefined index: address" (status 3 upstream),
// so the task is partial with that result's problem beside the good one.
func TestFSSPPartialResult(t *testing.T) {
	g, _ := fsspGateway(t)
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
		rows, err := g.Deps.Quota.Usage(context.Background(), "alpha", map[string]string{"fssp": "fssp-test"})
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
