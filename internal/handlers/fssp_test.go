package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
)

// fsspGateway is the test gateway with the FSSP task engine on the simulator.
func fsspGateway(t *testing.T) (*gateway, *fsspsim.Server) {
	t.Helper()
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor, cfg.RunFor = 100*time.Millisecond, 200*time.Millisecond
	sim := fsspsim.New(cfg)
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	g := newGateway(t, func(d *handlers.Deps) {
		client, err := fssp.New(fssp.Config{BaseURL: simSrv.URL})
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
	return g, sim
}

type taskDoc struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Progress struct{ Done, Total int }
	Results  []struct {
		Status  string `json:"status"`
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
