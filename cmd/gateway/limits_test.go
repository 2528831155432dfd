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

// TestAbsentBodyHTTP2: a body announced and never sent, and a GET with a
// body, get the same bounded answers over cleartext HTTP/2 as over
// HTTP/1.1: 401 without a key and 408 with one within the body deadlines,
// and a GET /healthz with a body is answered without a panic.
func TestAbsentBodyHTTP2(t *testing.T) {
	base, out := limitsGateway(t, "{body_timeout: 1s, body_idle_timeout: 500ms}")
	clients := map[string]*http.Client{}
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		var p http.Protocols
		p.SetHTTP1(proto == "HTTP/1.1")
		p.SetUnencryptedHTTP2(proto == "HTTP/2.0")
		tr := &http.Transport{Protocols: &p}
		t.Cleanup(tr.CloseIdleConnections)
		clients[proto] = &http.Client{Transport: tr, Timeout: 20 * time.Second}
	}
	for _, tc := range []struct {
		name, method, path, key string
		body                    string // sent, then the body stays open: "" announces 5 bytes and sends none
		status                  int
	}{
		{"no key, no body", "POST", "/v1/garant/search", "", "", http.StatusUnauthorized},
		{"a key, no body", "POST", "/v1/garant/search", "billing-key", "", http.StatusRequestTimeout},
		{"a key, a partial body", "POST", "/v1/garant/search", "billing-key", `{"t`, http.StatusRequestTimeout},
		{"GET /healthz announcing a body", "GET", "/healthz", "", "", http.StatusOK},
	} {
		for proto, c := range clients {
			// The body never ends: the client keeps the stream (or the
			// connection) open for the rest of its 5 bytes.
			pr, pw := io.Pipe()
			go func() { _, _ = io.WriteString(pw, tc.body) }()
			req, _ := http.NewRequest(tc.method, base+tc.path, pr)
			req.ContentLength = 5
			req.Header.Set("Content-Type", "application/json")
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			start := time.Now()
			res, err := c.Do(req)
			after := time.Since(start)
			_ = pw.Close()
			if err != nil {
				t.Errorf("%s over %s: %v after %s, want %d within the body deadlines", tc.name, proto, err, after, tc.status)
				continue
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.Proto != proto || res.StatusCode != tc.status || after > 5*time.Second {
				t.Errorf("%s over %s = %s %d after %s, want %d within the body deadlines (1 s, with room for a busy machine)",
					tc.name, proto, res.Proto, res.StatusCode, after, tc.status)
			}
		}
	}
	// A GET whose body is sent whole.
	for proto, c := range clients {
		req, _ := http.NewRequest("GET", base+"/healthz", strings.NewReader("x"))
		res, err := c.Do(req)
		if err != nil {
			t.Errorf("GET /healthz with a body over %s: %v", proto, err)
			continue
		}
		res.Body.Close()
		if res.Proto != proto || res.StatusCode != http.StatusOK {
			t.Errorf("GET /healthz with a body over %s = %s %d, want 200", proto, res.Proto, res.StatusCode)
		}
	}
	waitNoPanic(t, out)
}
