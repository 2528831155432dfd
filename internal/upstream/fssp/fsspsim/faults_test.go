package fsspsim

import (
	"bytes"
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

// control sends a /_sim/ request with a JSON body.
func control(t *testing.T, ts *httptest.Server, method, path, body string) []byte {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s(%s) = %d %s, want 2xx", method, path, body, resp.StatusCode, b)
	}
	return b
}

// rawGet fetches path on a fresh connection (no keep-alive, so the transport
// never retries a cut request) and returns the response and its body.
func rawGet(ts *httptest.Server, path string, timeout time.Duration) (*http.Response, []byte, error) {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(ts.URL + path)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestFaults(t *testing.T) {
	_, ts := start(t, instant())
	control(t, ts, "DELETE", "/_sim/calls", "")
	ip := "/search/ip?token=" + DemoToken + "&number=1%2F21%2F77%2F77"
	fault := func(f string) { control(t, ts, "PUT", "/_sim/faults", f) }

	t.Run("latency", func(t *testing.T) {
		fault(`{"path_prefix": "/search/ip", "latency": 150000000}`) // nanoseconds: Fault.Latency is a time.Duration
		begin := time.Now()
		resp, body, err := rawGet(ts, ip, 5*time.Second)
		if err != nil || resp.StatusCode != 200 || !json.Valid(body) {
			t.Fatalf("GET /search/ip(latency) = %v %s, want 200 JSON", err, body)
		}
		if d := time.Since(begin); d < 150*time.Millisecond {
			t.Errorf("GET /search/ip(latency 150ms) took %v, want >= 150ms", d)
		}
	})
	t.Run("status with an HTML body", func(t *testing.T) {
		fault(`{"status": 503, "body": "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"}`)
		resp, body, err := rawGet(ts, ip, 5*time.Second)
		if err != nil || resp.StatusCode != 503 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!bytes.Contains(body, []byte("<h1>503")) {
			t.Errorf("GET /search/ip(status fault) = %v %v %s, want 503 text/html", err, resp, body)
		}
	})
	t.Run("hang", func(t *testing.T) {
		fault(`{"hang": true}`)
		_, _, err := rawGet(ts, ip, 200*time.Millisecond)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("GET /search/ip(hang, client timeout 200ms) error = %v, want a timeout", err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		fault(`{"reset": true}`)
		if resp, body, err := rawGet(ts, ip, 5*time.Second); err == nil {
			t.Errorf("GET /search/ip(reset) = %d %s, want a connection error", resp.StatusCode, body)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		fault(`{"malformed": true}`)
		resp, body, err := rawGet(ts, ip, 5*time.Second)
		if err != nil || resp.StatusCode != 200 || json.Valid(body) {
			t.Errorf("GET /search/ip(malformed) = %v %s, want 200 with invalid JSON", err, body)
		}
	})
	t.Run("truncate", func(t *testing.T) {
		fault(`{"truncate": true}`)
		resp, body, err := rawGet(ts, ip, 5*time.Second)
		if err == nil && json.Valid(body) {
			t.Errorf("GET /search/ip(truncate) = %d %s, want a cut or half body", resp.StatusCode, body)
		}
	})
	t.Run("remaining and path prefix", func(t *testing.T) {
		fault(`{"path_prefix": "/search/ip", "status": 502, "remaining": 1}`)
		if resp, _, err := rawGet(ts, "/status?token="+DemoToken+"&task=x", 5*time.Second); err != nil || resp.StatusCode != 404 {
			t.Errorf("GET /status(fault on /search/ip only) = %v %v, want 404 envelope", resp, err)
		}
		for i, want := range []int{502, 200} {
			if resp, _, err := rawGet(ts, ip, 5*time.Second); err != nil || resp.StatusCode != want {
				t.Errorf("GET /search/ip #%d(remaining 1) = %v %v, want %d", i+1, resp, err, want)
			}
		}
	})
	control(t, ts, "DELETE", "/_sim/faults", "")

	var calls map[string]int
	if err := json.Unmarshal(control(t, ts, "GET", "/_sim/calls", ""), &calls); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"GET /search/ip": 8, "GET /status": 1}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("GET /_sim/calls mismatch, faulted calls included (-want +got):\n%s", diff)
	}
}

func TestCallCounters(t *testing.T) {
	sim, ts := start(t, instant())
	call(t, ts, "GET", "/search/physical", values("token", "bad"), nil)
	call(t, ts, "GET", "/api/v1.0/search/physical", values("token", DemoToken), nil)
	call(t, ts, "GET", "/api/v1.0/search/legal/", values("token", DemoToken), nil)
	call(t, ts, "POST", "/search/group", nil, map[string]any{"token": DemoToken})
	call(t, ts, "GET", "/search/group", nil, nil)
	call(t, ts, "GET", "/status", values("token", DemoToken, "task", "x"), nil)
	call(t, ts, "GET", "/result", values("token", DemoToken, "task", "x"), nil)
	call(t, ts, "GET", "/nowhere", nil, nil)
	want := map[string]int{
		"GET /search/physical": 2, "GET /search/legal": 1, "POST /search/group": 1, "GET /search/group": 1,
		"GET /status": 1, "GET /result": 1, "GET /{unknown}": 1,
	}
	if diff := cmp.Diff(want, sim.Kit.Calls.Snapshot()); diff != "" {
		t.Errorf("Calls.Snapshot() mismatch (-want +got):\n%s", diff)
	}
	control(t, ts, "DELETE", "/_sim/calls", "")
	if n := sim.Kit.Calls.Total(); n != 0 {
		t.Errorf("Calls.Total() after DELETE /_sim/calls = %d, want 0", n)
	}
}

func TestClockControl(t *testing.T) {
	_, ts := start(t, DefaultConfig())
	task := submit(t, ts, "GET", "/search/ip", values("token", DemoToken, "number", "1/21/77/77"), nil)
	control(t, ts, "PUT", "/_sim/clock", `{"offset": "5s"}`)
	if got := status(t, ts, task); got != (taskStatus{StatusDone, "1 of 1"}) {
		t.Errorf("status(after PUT /_sim/clock offset 5s) = %+v, want {0 1 of 1}", got)
	}
}
