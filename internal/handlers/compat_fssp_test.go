package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

// compatFSSP is the FSSP prefix a client written for FSSP points at.
const compatFSSP = "/compat/fssp/api/v1.0"

// nativeFSSP is a gateway with the task engine on an instant simulator,
// and that simulator's own URL for the same requests.
type nativeFSSP struct {
	g      *gateway
	sim    *fsspsim.Server
	simURL string
}

func newNativeFSSP(t *testing.T, rules []quota.Rule) nativeFSSP {
	t.Helper()
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor, cfg.RunFor = 0, 0
	sim := fsspsim.New(cfg)
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	return nativeFSSP{g: fsspGatewayRules(t, simSrv.URL, rules), sim: sim, simURL: simSrv.URL + "/api/v1.0"}
}

// nativeAnswer is one answer as bytes.
type nativeAnswer struct {
	status int
	header http.Header
	body   []byte
}

func nativeSend(t *testing.T, client *http.Client, method, u, contentType, body string) nativeAnswer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	must(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := client.Do(req)
	must(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(t, err)
	return nativeAnswer{res.StatusCode, res.Header, b}
}

// gw sends a request to the gateway's FSSP prefix; query holds the raw
// query string as a client writes it, with KEY standing for the token.
func (n nativeFSSP) gw(t *testing.T, method, pathQuery, key, body string) nativeAnswer {
	t.Helper()
	return nativeSend(t, n.g.Client(), method, n.g.URL+compatFSSP+strings.ReplaceAll(pathQuery, "KEY", url.QueryEscape(key)),
		ctFor(body), strings.ReplaceAll(body, "KEY", key))
}

// upstream sends the same request to the simulator with its own token.
func (n nativeFSSP) upstream(t *testing.T, method, pathQuery, body string) nativeAnswer {
	t.Helper()
	return nativeSend(t, http.DefaultClient, method, n.simURL+strings.ReplaceAll(pathQuery, "KEY", fsspsim.DemoToken),
		ctFor(body), strings.ReplaceAll(body, "KEY", fsspsim.DemoToken))
}

func ctFor(body string) string {
	if body == "" {
		return ""
	}
	return "application/json"
}

type envelope struct {
	Status    string          `json:"status"`
	Code      int             `json:"code"`
	Exception string          `json:"exception"`
	Response  json.RawMessage `json:"response"`
}

func decodeEnvelope(t *testing.T, r nativeAnswer, want int) envelope {
	t.Helper()
	if r.status != want {
		t.Fatalf("status = %d, want %d; body %s", r.status, want, r.body)
	}
	var e envelope
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("body %s is not FSSP's envelope: %v", r.body, err)
	}
	return e
}

// taskOf is the task id of a search's answer.
func taskOf(t *testing.T, r nativeAnswer) string {
	t.Helper()
	e := decodeEnvelope(t, r, http.StatusOK)
	var resp struct{ Task string }
	must(t, json.Unmarshal(e.Response, &resp))
	if e.Status != "success" || e.Code != 0 || e.Exception != "" || resp.Task == "" {
		t.Fatalf("search answered %s, want success with a task", r.body)
	}
	return resp.Task
}

// finish waits for a gateway task to be final (a long poll on /v1, woken by
// the engine, not a sleep).
func (n nativeFSSP) finish(t *testing.T, key, id string) {
	t.Helper()
	for range 10 {
		if decodeTask(t, n.g.do(t, "GET", "/v1/fssp/tasks/"+id+"?wait=20", key, nil), http.StatusOK).Status != "running" &&
			decodeTask(t, n.g.do(t, "GET", "/v1/fssp/tasks/"+id, key, nil), http.StatusOK).Status != "queued" {
			return
		}
	}
	t.Fatalf("task %s did not finish", id)
}

// TestCompatFSSPPublicClientShapes replays FSSP calls as public clients
// write them (a PHP client sends every optional parameter, empty ones as
// `secondname=`; the document's curl examples; a group with the token in
// the body) and compares the gateway's answers with the simulator's, byte
// for byte, wherever the answer does not depend on the task id.
func TestCompatFSSPPublicClientShapes(t *testing.T) {
	n := newNativeFSSP(t, fsspQuota)

	// Errors: the same bytes and status as FSSP's own.
	for _, tc := range []struct{ name, method, pathQuery, body string }{
		{"bad token", "GET", "/search/physical?token=nope&region=66&lastname=Иванов&firstname=Иван", ""},
		{"no token", "GET", "/search/physical?region=66&lastname=Иванов&firstname=Иван", ""},
		{"missing firstname", "GET", "/search/physical?token=KEY&region=66&lastname=Иванов&firstname=&secondname=", ""},
		{"bad region", "GET", "/search/physical?token=KEY&region=999&lastname=Иванов&firstname=Иван", ""},
		{"bad birthdate", "GET", "/search/physical?token=KEY&region=66&lastname=Иванов&firstname=Иван&birthdate=31.02.1980", ""},
		{"legal without name", "GET", "/search/legal?token=KEY&region=66&name=&address=", ""},
		{"bad number", "GET", "/search/ip?token=KEY&number=12345", ""},
		{"status without task", "GET", "/status?token=KEY&task=", ""},
		{"unknown task", "GET", "/result?token=KEY&task=ADAB49B2-F435-49CC-80DF-55F2F57D3057", ""},
		{"group not JSON", "POST", "/search/group", "token=KEY"},
		{"group bad token", "POST", "/search/group", `{"token":"nope","request":[{"type":3,"params":{"number":"6860/12/61/66"}}]}`},
		{"group token in the query", "POST", "/search/group?token=KEY", `{"request":[{"type":3,"params":{"number":"6860/12/61/66"}}]}`},
		{"group empty", "POST", "/search/group", `{"token":"KEY","request":[]}`},
		{"group bad type", "POST", "/search/group", `{"token":"KEY","request":[{"type":"1","params":{}}]}`},
		{"group unknown type", "POST", "/search/group", `{"token":"KEY","request":[{"type":4,"params":{}}]}`},
		{"group param not a string", "POST", "/search/group", `{"token":"KEY","request":[{"type":3,"params":{"number":["x"]}}]}`},
		{"group missing lastname", "POST", "/search/group", `{"token":"KEY","request":[{"type":3,"params":{"number":"6860/12/61/66"}},{"type":1,"params":{"firstname":"Сергей","region":66}}]}`},
		{"wrong method", "POST", "/search/physical?token=KEY", ""},
		{"unknown path", "GET", "/search/everything?token=KEY", ""},
	} {
		got, want := n.gw(t, tc.method, tc.pathQuery, keyAlpha, tc.body), n.upstream(t, tc.method, tc.pathQuery, tc.body)
		if got.status != want.status || !bytes.Equal(got.body, want.body) {
			t.Errorf("%s: gateway answered %d %s, FSSP %d %s", tc.name, got.status, got.body, want.status, want.body)
		}
		if ct := got.header.Get("Content-Type"); ct != want.header.Get("Content-Type") {
			t.Errorf("%s: Content-Type = %q, want FSSP's %q", tc.name, ct, want.header.Get("Content-Type"))
		}
	}
	if calls := n.sim.Kit.Calls.Total(); calls != 19 { // the simulator's own answers above, none from the gateway
		t.Errorf("the simulator saw %d calls, want the 19 made to it directly: %v", calls, n.sim.Kit.Calls.Snapshot())
	}

	// A PHP client's search, optional parameters empty; then its status and
	// result, compared with FSSP's for the same search once both are done.
	for _, tc := range []struct{ name, method, pathQuery, body string }{
		{"php physical", "GET", "/search/physical?token=KEY&region=77&lastname=ИВАНОВ&firstname=ИВАН&secondname=&birthdate=", ""},
		{"curl legal", "GET", "/search/legal?region=66&name=%D0%A0%D0%BE%D0%BC%D0%B0%D1%88%D0%BA%D0%B0&token=KEY", ""},
		{"curl ip", "GET", "/search/ip?number=6860%2F12%2F61%2F66&token=KEY", ""},
		{"document's group", "POST", "/search/group", `{"token":"KEY","request":[{"type":1,"params":{"firstname":"Сергей","lastname":"Иванов","region":66}},{"type":2,"params":{"name":"Ромашка","region":66}},{"type":3,"params":{"number":"6860/12/61/66"}}]}`},
	} {
		id := taskOf(t, n.gw(t, tc.method, tc.pathQuery, keyAlpha, tc.body))
		simID := taskOf(t, n.upstream(t, tc.method, tc.pathQuery, tc.body))
		n.finish(t, keyAlpha, id)
		got, want := n.gw(t, "GET", "/status?token=KEY&task="+id, keyAlpha, ""), n.upstream(t, "GET", "/status?token=KEY&task="+simID, "")
		if got.status != 200 || !bytes.Equal(got.body, want.body) {
			t.Errorf("%s: /status = %d %s, FSSP's %s", tc.name, got.status, got.body, want.body)
		}
		gr, wr := decodeEnvelope(t, n.gw(t, "GET", "/result?token=KEY&task="+id, keyAlpha, ""), 200),
			decodeEnvelope(t, n.upstream(t, "GET", "/result?token=KEY&task="+simID, ""), 200)
		var gotRes, wantRes struct {
			Status    int             `json:"status"`
			TaskStart *string         `json:"task_start"`
			TaskEnd   *string         `json:"task_end"`
			Result    json.RawMessage `json:"result"`
		}
		must(t, json.Unmarshal(gr.Response, &gotRes))
		must(t, json.Unmarshal(wr.Response, &wantRes))
		if gotRes.Status != wantRes.Status || !bytes.Equal(gotRes.Result, wantRes.Result) {
			t.Errorf("%s: /result = %d %s\nFSSP's %d %s", tc.name, gotRes.Status, gotRes.Result, wantRes.Status, wantRes.Result)
		}
		if gotRes.TaskStart == nil || gotRes.TaskEnd == nil || len(*gotRes.TaskEnd) != len("2006-01-02 15:04:05") {
			t.Errorf("%s: /result task_start %v, task_end %v, want both in FSSP's format", tc.name, gotRes.TaskStart, gotRes.TaskEnd)
		}
	}
}

// TestCompatFSSPQuotaShared: /v1 and /compat spend one budget; a spent
// quota answers FSSP's 429 with Retry-After, whichever route asks, and
// sends nothing upstream.
func TestCompatFSSPQuotaShared(t *testing.T) {
	n := newNativeFSSP(t, []quota.Rule{
		{Scope: quota.ScopeCredential, Owner: "fssp-test", Upstream: "fssp", Family: quota.FamilySingle, Period: quota.PeriodSlidingHour, Limit: 2},
	})
	search := "/search/ip?token=KEY&number=6860/12/61/66"
	taskOf(t, n.gw(t, "GET", search, keyAlpha, ""))
	decodeTask(t, n.g.do(t, "POST", "/v1/fssp/searches/ip", keyOther, map[string]any{"number": "6860/12/61/66"}), http.StatusAccepted)
	r := n.gw(t, "GET", search, keyAlpha, "")
	e := decodeEnvelope(t, r, http.StatusTooManyRequests)
	if e.Status != "error" || e.Code != 429 || string(e.Response) != "[]" || r.header.Get("Retry-After") == "" {
		t.Errorf("third search = %s (Retry-After %q), want FSSP's 429 envelope with Retry-After", r.body, r.header.Get("Retry-After"))
	}
	readProblem(t, n.g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, map[string]any{"number": "6860/12/61/66"}), http.StatusTooManyRequests)
	if got := n.sim.Kit.Calls.Get("GET /search/ip"); got != 2 {
		t.Errorf("FSSP saw %d searches, want 2", got)
	}
	// The ledger counts both routes' searches under the same operation.
	usage := n.g.do(t, "GET", "/v1/quotas/usage", keyAlpha, nil)
	b, _ := io.ReadAll(usage.Body)
	if usage.StatusCode != 200 || !strings.Contains(string(b), `"fsspSearchIP"`) {
		t.Errorf("/v1/quotas/usage = %d %s, want the searches under fsspSearchIP", usage.StatusCode, b)
	}
}

// TestCompatFSSPTenantIsolation: a task belongs to the tenant that made it,
// whichever route family made it and whichever reads it.
func TestCompatFSSPTenantIsolation(t *testing.T) {
	n := newNativeFSSP(t, fsspQuota)
	viaV1 := decodeTask(t, n.g.do(t, "POST", "/v1/fssp/searches/ip", keyAlpha, map[string]any{"number": "6860/12/61/66"}), http.StatusAccepted).ID
	viaCompat := taskOf(t, n.gw(t, "GET", "/search/ip?token=KEY&number=6860/12/61/66", keyOther, ""))
	notFound := n.gw(t, "GET", "/status?token=KEY&task=nonexistent", keyOther, "")
	for _, path := range []string{"/status", "/result"} {
		got := n.gw(t, "GET", path+"?token=KEY&task="+viaV1, keyOther, "")
		if got.status != 404 || !bytes.Equal(got.body, notFound.body) {
			t.Errorf("other reads alpha's /v1 task at %s = %d %s, want the 404 of a missing task %s", path, got.status, got.body, notFound.body)
		}
		decodeEnvelope(t, n.gw(t, "GET", path+"?token=KEY&task="+viaV1, keyAlpha, ""), 200)
		decodeEnvelope(t, n.gw(t, "GET", path+"?token=KEY&task="+viaCompat, keyOther, ""), 200)
	}
	readProblem(t, n.g.do(t, "GET", "/v1/fssp/tasks/"+viaCompat, keyAlpha, nil), http.StatusNotFound)
	decodeTask(t, n.g.do(t, "GET", "/v1/fssp/tasks/"+viaCompat, keyOther, nil), http.StatusOK)
	// A tenant without FSSP is refused before anything is spent.
	if r := n.gw(t, "GET", "/search/ip?token=KEY&number=6860/12/61/66", keyNoCreds, ""); r.status != 403 {
		t.Errorf("search by a tenant without FSSP = %d %s, want 403", r.status, r.body)
	}
}

// TestCompatFSSPKeyNeverLogged: the tenant key in a query string or a body
// never reaches a log line, a metric or an error body, on success, on
// refusal and on upstream failure.
func TestCompatFSSPKeyNeverLogged(t *testing.T) {
	n := newNativeFSSP(t, fsspQuota)
	var bodies bytes.Buffer
	for _, q := range []string{
		"/search/physical?token=KEY&region=77&lastname=ИВАНОВ&firstname=ИВАН&secondname=",
		"/search/physical?token=KEY&region=777&lastname=ИВАНОВ&firstname=ИВАН",
		"/status?token=KEY&task=missing",
		"/nowhere?token=KEY",
	} {
		bodies.Write(n.gw(t, "GET", q, keyAlpha, "").body)
	}
	bodies.Write(n.gw(t, "POST", "/search/group", keyAlpha, `{"token":"KEY","request":[{"type":3,"params":{"number":"6860/12/61/66"}}]}`).body)
	// An upstream failure is logged as a failed request.
	n.sim.Kit.SetFault(&simkit.Fault{Status: http.StatusInternalServerError, Remaining: 10})
	r := n.gw(t, "GET", "/search/ip?token=KEY&number=6860/12/61/66", keyAlpha, "")
	bodies.Write(r.body)
	if r.status < 500 || !strings.Contains(string(r.body), "request id") {
		t.Errorf("search on a failing FSSP = %d %s, want a 5xx naming the request id", r.status, r.body)
	}
	logs := n.g.Logs.String()
	if !strings.Contains(logs, `"request failed"`) || !strings.Contains(logs, `"operation":"compatFsspSearchPhysical"`) {
		t.Errorf("the logs have no failed request or no compat operation:\n%s", logs)
	}
	var metrics strings.Builder
	families, err := n.g.Deps.Registry.Gather()
	must(t, err)
	for _, f := range families {
		metrics.WriteString(f.String())
		for _, m := range f.Metric {
			for _, l := range m.Label {
				metrics.WriteString((&dto.LabelPair{Name: l.Name, Value: l.Value}).String())
			}
		}
	}
	for where, text := range map[string]string{"logs": logs, "metrics": metrics.String(), "answers": bodies.String()} {
		for _, secret := range []string{keyAlpha, url.QueryEscape(keyAlpha), fsspsim.DemoToken, "token="} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contain %q", where, secret)
			}
		}
	}
}
