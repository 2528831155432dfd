package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
)

// fsspOnlyGateway runs the gateway with FSSP only, on a simulator whose
// tasks take queueFor to start, polled every 200 ms.
func fsspOnlyGateway(t *testing.T, ctx context.Context, queueFor time.Duration) (base string, result <-chan error, rs *redistest.Server) {
	t.Helper()
	rs = redistest.Start(t)
	simCfg := fsspsim.DefaultConfig()
	simCfg.QueueFor, simCfg.RunFor = queueFor, 0
	sim := httptest.NewServer(fsspsim.New(simCfg))
	t.Cleanup(sim.Close)
	cfg := fmt.Sprintf(`
redis: {url: %q}
credentials:
  fssp-main: {upstream: fssp, secret: "${FSSP_TOKEN}"}
tenants:
  billing:
    keys_sha256: [%s]
    credentials: {fssp: fssp-main}
upstreams:
  fssp: {base_url: %q}
fssp: {poll_initial: 200ms, poll_max: 200ms}
`, rs.URL(), config.HashKey("billing-key"), sim.URL)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _, result = startGatewayCtx(t, ctx, []string{"-config", path}, map[string]string{"FSSP_TOKEN": "demo-fssp-token"})
	return base, result, rs
}

// submitFSSP starts an FSSP search and returns its task id.
func submitFSSP(t *testing.T, base string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/fssp/searches/ip", strings.NewReader(`{"number":"12345/24/77001-ИП"}`))
	req.Header.Set("Authorization", "Bearer billing-key")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var task struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&task); err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/fssp/searches/ip = %d, %v; want 202 with a task", res.StatusCode, err)
	}
	return task.ID
}

// readTask reads one response from br and returns its status code, the
// task's status and the response.
func readTask(t *testing.T, br *bufio.Reader, what string) (*http.Response, string) {
	t.Helper()
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: reading the response: %v", what, err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s: reading the body: %v", what, err)
	}
	var task struct{ Status string }
	_ = json.Unmarshal(body, &task)
	return res, task.Status
}

// TestParkedLongPollKeepsConnection: a long poll is answered when its task
// finishes, on a connection that then goes on serving the client's next
// requests, including one it had already sent behind the long poll.
func TestParkedLongPollKeepsConnection(t *testing.T) {
	base, _, _ := fsspOnlyGateway(t, context.Background(), 300*time.Millisecond)
	id := submitFSSP(t, base)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	// The long poll, and a second request pipelined behind it.
	fmt.Fprintf(conn, "GET /v1/fssp/tasks/%s?wait=15 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer billing-key\r\nX-Request-ID: park-test-0001\r\n\r\n", id)
	fmt.Fprintf(conn, "GET /v1/fssp/tasks/%s HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer billing-key\r\n\r\n", id)
	br := bufio.NewReader(conn)
	start := time.Now()
	res, status := readTask(t, br, "the long poll")
	if res.StatusCode != http.StatusOK || status != "succeeded" || res.Close {
		t.Errorf("long poll = %d %q (close %v), want 200 succeeded on a kept connection", res.StatusCode, status, res.Close)
	}
	if got := res.Header.Get("X-Request-ID"); got != "park-test-0001" {
		t.Errorf("long poll X-Request-ID = %q, want the client's", got)
	}
	if res.Header.Get("Date") == "" || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("long poll headers = %v, want Date and Content-Type", res.Header)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("long poll answered after %v, want soon after the task finished", d)
	}
	res, status = readTask(t, br, "the pipelined request")
	if res.StatusCode != http.StatusOK || status != "succeeded" {
		t.Errorf("pipelined GET = %d %q, want 200 succeeded", res.StatusCode, status)
	}
	// A second long poll parks the connection again (it comes back wrapped).
	id2 := submitFSSP(t, base)
	fmt.Fprintf(conn, "GET /v1/fssp/tasks/%s?wait=15 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer billing-key\r\n\r\n", id2)
	if res, status = readTask(t, br, "the second long poll"); res.StatusCode != http.StatusOK || status != "succeeded" || res.Close {
		t.Errorf("second long poll = %d %q (close %v), want 200 succeeded on a kept connection", res.StatusCode, status, res.Close)
	}
	// And one more on the same connection.
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
	res, err = http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz after the long poll = %v, %v; want 200 on the same connection", res, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
}

// TestParkedLongPollAtShutdown: a parked long poll is answered at once with
// the current state when the gateway shuts down, and run() returns.
func TestParkedLongPollAtShutdown(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	base, result, _ := fsspOnlyGateway(t, ctx, time.Hour)
	id := submitFSSP(t, base)
	answered := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("GET", base+"/v1/fssp/tasks/"+id+"?wait=20", nil)
		req.Header.Set("Authorization", "Bearer billing-key")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- "error: " + err.Error()
			return
		}
		defer res.Body.Close()
		var task struct{ Status string }
		_ = json.NewDecoder(res.Body).Decode(&task)
		answered <- fmt.Sprintf("%d %s %s close=%t", res.StatusCode, task.Status, res.Header.Get("Retry-After"), res.Close)
	}()
	time.Sleep(500 * time.Millisecond) // parked by now
	start := time.Now()
	stop()
	select {
	case got := <-answered:
		if !strings.HasPrefix(got, "200 queued ") || strings.Contains(got, "  ") || !strings.HasSuffix(got, "close=true") {
			t.Errorf("long poll at shutdown = %q, want 200 with the queued task, a Retry-After and Connection: close", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the parked long poll was not answered within 5s of shutdown")
	}
	select {
	case err := <-result:
		if err != nil {
			t.Errorf("run() = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run() did not return")
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("shutdown took %v with a parked long poll, want it answered at once", d)
	}
}

// dialGateway opens a raw connection to the gateway.
func dialGateway(t *testing.T, base string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	return conn, bufio.NewReader(conn)
}

// TestParkedLongPollHTTP10: an HTTP/1.0 client asking for keep-alive is
// told the connection stays open, and it does.
func TestParkedLongPollHTTP10(t *testing.T) {
	base, _, _ := fsspOnlyGateway(t, context.Background(), 300*time.Millisecond)
	id := submitFSSP(t, base)
	conn, br := dialGateway(t, base)
	fmt.Fprintf(conn, "GET /v1/fssp/tasks/%s?wait=15 HTTP/1.0\r\nConnection: keep-alive\r\nAuthorization: Bearer billing-key\r\n\r\n", id)
	res, status := readTask(t, br, "the HTTP/1.0 long poll")
	if res.StatusCode != http.StatusOK || status != "succeeded" || res.Header.Get("Connection") != "keep-alive" {
		t.Fatalf("HTTP/1.0 long poll = %d %q, Connection %q; want 200 succeeded, keep-alive", res.StatusCode, status, res.Header.Get("Connection"))
	}
	fmt.Fprintf(conn, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz after the HTTP/1.0 long poll = %v, %v; want 200 on the same connection", res, err)
	}
}

// TestParkedLongPollReadError: when the task cannot be read as the wait
// runs out (Redis unreachable), the parked poll answers the problem a plain
// GET would, not a stale state.
func TestParkedLongPollReadError(t *testing.T) {
	base, _, rs := fsspOnlyGateway(t, context.Background(), time.Hour)
	id := submitFSSP(t, base)
	conn, br := dialGateway(t, base)
	fmt.Fprintf(conn, "GET /v1/fssp/tasks/%s?wait=2 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer billing-key\r\n\r\n", id)
	time.Sleep(1500 * time.Millisecond) // parked
	if err := rs.Client(t).Do(context.Background(), "CLIENT", "PAUSE", "4000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("parked poll with Redis unreachable = %d %q %s, want a 503 problem", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	time.Sleep(3 * time.Second) // Redis back before the gateway stops
}
