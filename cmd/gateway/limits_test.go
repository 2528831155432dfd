package main

import (
	"bufio"
	"errors"
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
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

// limitsGateway runs the gateway on Garant's and FSSP's simulators with
// server (a YAML mapping) as its server block; FSSP tasks stay queued.
func limitsGateway(t *testing.T, server string) (base string, out *syncBuffer) {
	t.Helper()
	rs := redistest.Start(t)
	garant := httptest.NewServer(garantsim.New(garantsim.DefaultConfig()))
	t.Cleanup(garant.Close)
	simCfg := fsspsim.DefaultConfig()
	simCfg.QueueFor = time.Hour
	fssp := httptest.NewServer(fsspsim.New(simCfg))
	t.Cleanup(fssp.Close)
	cfg := fmt.Sprintf(`
redis: {url: %q}
credentials:
  garant-main: {upstream: garant, secret: demo-garant-token}
  fssp-main: {upstream: fssp, secret: demo-fssp-token}
tenants:
  billing:
    keys_sha256: [%s]
    credentials: {garant: garant-main, fssp: fssp-main}
upstreams:
  garant: {base_url: %q, timeout: 1s}
  fssp: {base_url: %q, timeout: 1s}
server: %s
`, rs.URL(), config.HashKey("billing-key"), garant.URL, fssp.URL, server)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return startGateway(t, []string{"-config", path}, nil)
}

// exchangeRaw writes head (request line and fields, no blank line) and then
// body on a new connection, and returns the answer, when its header
// arrived, and whether the gateway then closed the connection.
func exchangeRaw(t *testing.T, base, head, body string, limit time.Duration) (res *http.Response, after time.Duration, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(limit))
	start := time.Now()
	if _, err := io.WriteString(conn, head+"\r\n\r\n"+body); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: no answer within %s: %v", strings.SplitN(head, "\r\n", 2)[0], limit, err)
	}
	after = time.Since(start)
	_, _ = io.Copy(io.Discard, res.Body)
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = br.ReadByte()
	var ne net.Error
	return res, after, err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestBodyDeadlinesThroughRun: with the configured body deadlines, a body
// announced and never sent is cut, with or without a key, and a body on an
// operation that takes none neither panics the server nor holds the
// connection.
func TestBodyDeadlinesThroughRun(t *testing.T) {
	base, out := limitsGateway(t, "{body_timeout: 1s, body_idle_timeout: 500ms}")
	search := "POST /v1/garant/search HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 5"
	for _, tc := range []struct {
		name, head string
		status     int
	}{
		{"no key", search, http.StatusUnauthorized},
		{"with a key", search + "\r\nAuthorization: Bearer billing-key", http.StatusRequestTimeout},
		{"a GET announcing a body", "GET /healthz HTTP/1.1\r\nHost: gw\r\nContent-Length: 5", http.StatusOK},
	} {
		res, after, closed := exchangeRaw(t, base, tc.head, "", 10*time.Second)
		if res.StatusCode != tc.status || !closed || after > 3*time.Second {
			t.Errorf("%s, no body sent = %d after %s (closed %v), want %d within the body deadlines and the connection closed",
				tc.name, res.StatusCode, after, closed, tc.status)
		}
	}
	// A GET whose body is sent: answered, never read, no panic.
	res, _, closed := exchangeRaw(t, base, "GET /healthz HTTP/1.1\r\nHost: gw\r\nContent-Length: 1", "x", 10*time.Second)
	if res.StatusCode != http.StatusOK || !closed {
		t.Errorf("GET /healthz with a body = %d (closed %v), want 200 and the connection closed", res.StatusCode, closed)
	}
	time.Sleep(300 * time.Millisecond) // net/http logs a panic after the answer
	if strings.Contains(out.String(), "panic") {
		t.Errorf("gateway log has a panic:\n%s", out.String())
	}
}

// TestLongPollOutlivesWriteTimeout: a long poll answers after its wait even
// when the wait is longer than server.write_timeout, parked (HTTP/1.1) or
// not (h2c, Prefer: wait).
func TestLongPollOutlivesWriteTimeout(t *testing.T) {
	base, _ := limitsGateway(t, "{write_timeout: 2s}")
	id := submitSearch(t, base)
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: &protocols}, Timeout: 20 * time.Second}
	h1 := &http.Client{Timeout: 20 * time.Second}
	for _, tc := range []struct {
		name   string
		client *http.Client
		method string
		path   string
		body   string
	}{
		{"HTTP/1.1, parked", h1, "GET", "/v1/fssp/tasks/" + id + "?wait=4", ""},
		{"h2c", h2c, "GET", "/v1/fssp/tasks/" + id + "?wait=4", ""},
		{"Prefer: wait", h1, "POST", "/v1/fssp/searches/ip", `{"number":"12345/24/77001-ИП"}`},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer billing-key")
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Prefer", "wait=4")
		}
		start := time.Now()
		res, err := tc.client.Do(req)
		if err != nil {
			t.Errorf("%s: %v after %s, want the task after the wait", tc.name, err, time.Since(start))
			continue
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"queued"`) || time.Since(start) < 3*time.Second {
			t.Errorf("%s = %d %s (%v) after %s, want 200 with the queued task after the 4 s wait", tc.name, res.StatusCode, body, err, time.Since(start))
		}
	}
}

// submitSearch starts an FSSP search for tenant billing and returns its id.
func submitSearch(t *testing.T, base string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/fssp/searches/ip", strings.NewReader(`{"number":"12345/24/77001-ИП"}`))
	req.Header.Set("Authorization", "Bearer billing-key")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	i := strings.Index(string(b), `"id":"`)
	if res.StatusCode != http.StatusAccepted || i < 0 {
		t.Fatalf("POST /v1/fssp/searches/ip = %d %s, want 202 with a task", res.StatusCode, b)
	}
	id := string(b[i+6:])
	return id[:strings.IndexByte(id, '"')]
}
