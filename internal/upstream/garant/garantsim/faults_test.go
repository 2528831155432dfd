package garantsim

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// control calls the /_sim/ surface.
func control(t *testing.T, ts *httptest.Server, method, path, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return send(t, ts.Client(), req)
}

func setFault(t *testing.T, ts *httptest.Server, fault string) {
	t.Helper()
	if r := control(t, ts, "PUT", "/_sim/faults", fault); r.status != http.StatusNoContent {
		t.Fatalf("PUT /_sim/faults %s = %d %s, want 204", fault, r.status, r.body)
	}
}

// rawGet performs GET /v2/limits and returns the reply or the transport error.
func rawGet(ts *httptest.Server, c *http.Client) (reply, error) {
	req, _ := http.NewRequest("GET", ts.URL+"/v2/limits", nil)
	req.Header.Set("Authorization", "Bearer "+DemoToken)
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, err
}

func TestFaults(t *testing.T) {
	t.Parallel()
	_, ts := newTest(t)
	client := ts.Client()

	setFault(t, ts, `{"latency": 150000000}`) // nanoseconds: simkit.Fault.Latency is a time.Duration
	start := time.Now()
	if r, err := rawGet(ts, client); err != nil || r.status != 200 || time.Since(start) < 150*time.Millisecond {
		t.Errorf("GET with latency = %d, %v after %v, want 200 after at least 150ms", r.status, err, time.Since(start))
	}

	setFault(t, ts, `{"status": 503, "body": "{\"error\":\"maintenance\"}"}`)
	if r, err := rawGet(ts, client); err != nil || r.status != 503 || string(r.body) != `{"error":"maintenance"}` {
		t.Errorf("GET with status fault = %d %s %v, want 503 with the body", r.status, r.body, err)
	}

	setFault(t, ts, `{"hang": true}`)
	impatient := *client
	impatient.Timeout = 200 * time.Millisecond
	var nerr net.Error
	if _, err := rawGet(ts, &impatient); !errors.As(err, &nerr) || !nerr.Timeout() {
		t.Errorf("GET with hang = %v, want a client timeout", err)
	}

	setFault(t, ts, `{"reset": true}`)
	if r, err := rawGet(ts, client); err == nil {
		t.Errorf("GET with reset = %d, want a transport error", r.status)
	}

	setFault(t, ts, `{"malformed": true}`)
	if r, err := rawGet(ts, client); err != nil || r.status != 200 || json.Valid(r.body) {
		t.Errorf("GET with malformed = %d %s %v, want 200 with invalid JSON", r.status, r.body, err)
	}

	setFault(t, ts, `{"truncate": true}`)
	if r, err := rawGet(ts, client); err == nil && json.Valid(r.body) {
		t.Errorf("GET with truncate = %d %s, want a cut or invalid body", r.status, r.body)
	}

	setFault(t, ts, `{"status": 500, "remaining": 1, "path_prefix": "/v2/limits"}`)
	first, _ := rawGet(ts, client)
	second, _ := rawGet(ts, client)
	if first.status != 500 || second.status != 200 {
		t.Errorf("fault with remaining 1 = %d then %d, want 500 then 200", first.status, second.status)
	}

	setFault(t, ts, `{"status": 502, "path_prefix": "/v2/search"}`)
	if r, _ := rawGet(ts, client); r.status != 200 {
		t.Errorf("GET /v2/limits with a fault on /v2/search = %d, want 200", r.status)
	}
	if r := control(t, ts, "DELETE", "/_sim/faults", ""); r.status != http.StatusNoContent {
		t.Errorf("DELETE /_sim/faults = %d, want 204", r.status)
	}
}

func TestCallCounters(t *testing.T) {
	t.Parallel()
	sim, ts := newTest(t)
	call(t, ts, "GET", "/v2/topic/10103000", DemoToken, nil)
	call(t, ts, "GET", "/v2/topic/1", DemoToken, nil)   // 404 counts
	call(t, ts, "GET", "/v2/topic/1", "bad-token", nil) // 401 counts
	call(t, ts, "POST", "/v2/search", DemoToken, searchBody("налог", false, 1))
	setFault(t, ts, `{"status": 500}`)
	call(t, ts, "GET", "/v2/topic/10103000/entry/1/html", DemoToken, nil) // faulted counts
	control(t, ts, "DELETE", "/_sim/faults", "")

	want := map[string]int{"GET /v2/topic/{topic}": 3, "POST /v2/search": 1, "GET /v2/topic/{topic}/entry/{entry}/html": 1}
	got := decode[map[string]int](t, control(t, ts, "GET", "/_sim/calls", ""))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET /_sim/calls (-want +got):\n%s", diff)
	}
	if got := sim.Kit.Calls.Total(); got != 5 {
		t.Errorf("Calls.Total() = %d, want 5", got)
	}
	control(t, ts, "DELETE", "/_sim/calls", "")
	if got := sim.Kit.Calls.Total(); got != 0 {
		t.Errorf("Calls.Total() after DELETE = %d, want 0", got)
	}

	// The clock is reachable over HTTP too.
	if r := control(t, ts, "PUT", "/_sim/clock", `{"now":"2027-01-01T00:00:00Z"}`); r.status != http.StatusNoContent || !sim.Kit.Clock.Now().Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("PUT /_sim/clock = %d, now %v, want 2027-01-01", r.status, sim.Kit.Clock.Now())
	}
}
