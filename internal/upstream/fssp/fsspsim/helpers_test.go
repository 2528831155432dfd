package fsspsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// epoch is where the tests fix the simulated clock.
func epoch() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }

// answer is a decoded envelope.
type answer struct {
	Status    string          `json:"status"`
	Code      int             `json:"code"`
	Exception string          `json:"exception"`
	Response  json.RawMessage `json:"response"`
}

// start serves a simulator built from cfg with its clock fixed at epoch.
func start(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	sim := New(cfg)
	sim.Kit.Clock.Set(epoch())
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return sim, ts
}

// instant is DefaultConfig with tasks done at once.
func instant() Config {
	cfg := DefaultConfig()
	cfg.QueueFor, cfg.RunFor = 0, 0
	return cfg
}

// call sends one request and decodes the envelope; body, when not nil, is
// sent as JSON.
func call(t *testing.T, ts *httptest.Server, method, path string, q url.Values, body any) (int, answer) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	u := ts.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("%s %s: body %q is not an envelope: %v", method, path, raw, err)
	}
	return resp.StatusCode, a
}

// values builds url.Values from key, value pairs.
func values(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// submit runs a search that must succeed and returns its task id.
func submit(t *testing.T, ts *httptest.Server, method, path string, q url.Values, body any) string {
	t.Helper()
	code, a := call(t, ts, method, path, q, body)
	if code != http.StatusOK || a.Status != "success" || a.Code != 0 {
		t.Fatalf("%s %s(%v) = %d %+v, want 200 success", method, path, q, code, a)
	}
	var r struct{ Task string }
	if err := json.Unmarshal(a.Response, &r); err != nil || r.Task == "" {
		t.Fatalf("%s %s(%v) response = %s, want {task}", method, path, q, a.Response)
	}
	return r.Task
}

// taskStatus is /status's response.
type taskStatus struct {
	Status   int    `json:"status"`
	Progress string `json:"progress"`
}

func status(t *testing.T, ts *httptest.Server, task string) taskStatus {
	t.Helper()
	code, a := call(t, ts, "GET", "/status", values("token", DemoToken, "task", task), nil)
	var st taskStatus
	if code != http.StatusOK || json.Unmarshal(a.Response, &st) != nil {
		t.Fatalf("status(%s) = %d %+v, want 200 {status, progress}", task, code, a)
	}
	return st
}

// taskResult is /result's response.
type taskResult struct {
	Status    int       `json:"status"`
	TaskStart *string   `json:"task_start"`
	TaskEnd   *string   `json:"task_end"`
	Result    []subJSON `json:"result"`
}

type subJSON struct {
	Status int             `json:"status"`
	Query  query           `json:"query"`
	Result json.RawMessage `json:"result"`
}

func result(t *testing.T, ts *httptest.Server, task string) taskResult {
	t.Helper()
	code, a := call(t, ts, "GET", "/result", values("token", DemoToken, "task", task), nil)
	var r taskResult
	if code != http.StatusOK || a.Status != "success" {
		t.Fatalf("result(%s) = %d %+v, want 200 success", task, code, a)
	}
	if err := json.Unmarshal(a.Response, &r); err != nil {
		t.Fatalf("result(%s) response = %s: %v", task, a.Response, err)
	}
	return r
}

// recordsOf decodes a successful sub-result.
func recordsOf(t *testing.T, s subJSON) []Record {
	t.Helper()
	var recs []Record
	if err := json.Unmarshal(s.Result, &recs); err != nil {
		t.Fatalf("sub-result %s is not a list of records: %v", s.Result, err)
	}
	return recs
}
