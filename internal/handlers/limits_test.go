package handlers_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

// syncBuffer is a bytes.Buffer safe for a server's error log and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Bytes is a copy of what was written so far.
func (s *syncBuffer) Bytes() []byte { return []byte(s.String()) }

// rawExchange is one HTTP/1.1 request written by hand on its own
// connection: the answer, how long it took, and whether the server then
// closed the connection.
type rawExchange struct {
	res     *http.Response
	body    string
	elapsed time.Duration // until the answer's header arrived
	closed  bool          // the server closed the connection after the answer
}

// sendRaw writes head (the request line and header fields, without the
// blank line) and then each of body's chunks, pausing pause before each,
// and reads the answer within limit.
func sendRaw(t *testing.T, addr, head string, limit, pause time.Duration, body ...string) rawExchange {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	must(t, err)
	defer c.Close()
	must(t, c.SetDeadline(time.Now().Add(limit)))
	start := time.Now()
	if _, err := io.WriteString(c, head+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	go func() {
		for _, b := range body {
			time.Sleep(pause)
			if _, err := io.WriteString(c, b); err != nil {
				return
			}
		}
	}()
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: no answer within %s: %v", strings.SplitN(head, "\r\n", 2)[0], limit, err)
	}
	x := rawExchange{res: res, elapsed: time.Since(start)}
	b, _ := io.ReadAll(res.Body)
	x.body = string(b)
	// Closed: the next read ends at once (EOF or a reset), well before limit.
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = br.ReadByte()
	var ne net.Error
	x.closed = err != nil && !(errors.As(err, &ne) && ne.Timeout())
	return x
}

func hostOf(g *gateway) string { return strings.TrimPrefix(g.URL, "http://") }

// shortLimits are body deadlines short enough for a test.
var shortLimits = handlers.Limits{BodyIdleTimeout: 300 * time.Millisecond, BodyTimeout: time.Second}

// TestAbsentBodyIsCut: a request announcing a body that never comes is
// answered within the body deadlines, with or without a key, and its
// connection closed (not drained).
func TestAbsentBodyIsCut(t *testing.T) {
	g := newGateway(t, func(d *handlers.Deps) { d.Limits = shortLimits })
	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"no key", "", http.StatusUnauthorized},
		{"with a key", "\r\nAuthorization: Bearer " + keyAlpha, http.StatusRequestTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := sendRaw(t, hostOf(g), "POST /v1/garant/search HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 5"+tc.auth, 10*time.Second, 0)
			if x.res.StatusCode != tc.status || !x.closed || !x.res.Close {
				t.Errorf("POST with Content-Length 5 and no body (%s) = %d (Connection: close %v, closed %v) after %s; want %d and the connection closed",
					tc.name, x.res.StatusCode, x.res.Close, x.closed, x.elapsed, tc.status)
			}
			if x.elapsed > 3*time.Second {
				t.Errorf("answered after %s, want within the body deadlines (%s idle)", x.elapsed, shortLimits.BodyIdleTimeout)
			}
			if tc.status == http.StatusRequestTimeout && !strings.Contains(x.body, "request-timeout") {
				t.Errorf("408 body = %s, want a request-timeout problem", x.body)
			}
		})
	}
}

// TestPartialBodyIsCut: a body that stops half way, or trickles in slower
// than the whole-body deadline allows, is cut with 408.
func TestPartialBodyIsCut(t *testing.T) {
	g := newGateway(t, func(d *handlers.Deps) { d.Limits = shortLimits })
	head := "POST /v1/garant/search HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nAuthorization: Bearer " + keyAlpha
	// Stops after 10 of 100 bytes: cut after the idle timeout.
	x := sendRaw(t, hostOf(g), head+"\r\nContent-Length: 100", 10*time.Second, 0, `{"text":"a`)
	if x.res.StatusCode != http.StatusRequestTimeout || !x.closed || x.elapsed > 3*time.Second {
		t.Errorf("10 of 100 bytes, then nothing = %d (closed %v) after %s, want 408 and closed within the idle timeout", x.res.StatusCode, x.closed, x.elapsed)
	}
	// A byte every 200 ms (under the idle timeout): cut at the whole-body deadline.
	trickle := strings.Split(`{"text":"abcdefghijklmnopqrstuvwxyz","env":"internet"}`, "")
	x = sendRaw(t, hostOf(g), head+fmt.Sprintf("\r\nContent-Length: %d", len(trickle)), 10*time.Second, 200*time.Millisecond, trickle...)
	if x.res.StatusCode != http.StatusRequestTimeout || x.elapsed > 3*time.Second {
		t.Errorf("a body trickling a byte per 200ms = %d after %s, want 408 at the whole-body deadline (%s)", x.res.StatusCode, x.elapsed, shortLimits.BodyTimeout)
	}
}

// TestGetWithBody: a body on an operation that takes none is never read,
// never panics the server (full duplex is only for streamed bodies), and
// its connection is closed after the answer rather than drained.
func TestGetWithBody(t *testing.T) {
	g := newGateway(t, nil)
	errs := &syncBuffer{}
	h, err := handlers.NewServer(g.Deps)
	must(t, err)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(errs, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	x := sendRaw(t, addr, "GET /healthz HTTP/1.1\r\nHost: gw\r\nContent-Length: 1", 5*time.Second, 0, "x")
	if x.res.StatusCode != http.StatusOK || !x.closed {
		t.Errorf("GET /healthz with a body = %d (closed %v), want 200 and the connection closed", x.res.StatusCode, x.closed)
	}
	// A body announced and never sent: answered at once all the same.
	x = sendRaw(t, addr, "GET /healthz HTTP/1.1\r\nHost: gw\r\nContent-Length: 5", 5*time.Second, 0)
	if x.res.StatusCode != http.StatusOK || !x.closed || x.elapsed > 2*time.Second {
		t.Errorf("GET /healthz announcing a body never sent = %d (closed %v) after %s, want 200 at once and closed", x.res.StatusCode, x.closed, x.elapsed)
	}
	time.Sleep(200 * time.Millisecond) // net/http logs a panic after the answer
	if s := errs.String(); strings.Contains(s, "panic") {
		t.Errorf("server error log: %s", s)
	}
}

// TestPaddedBodyIsBounded: a large body with an undeclared member is
// refused as soon as the member is read (the rest of the body is neither
// read nor decoded), spends no quota and calls no upstream.
func TestPaddedBodyIsBounded(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	pad := strings.Repeat("0,", 9_000_000)
	for _, text := range []string{`"text":"Статья 70 ТК РФ",`, ``} {
		doc := `{` + text + `"baseUrl":"https://internet.garant.ru","pad":[` + pad + `0]}`
		body := &countingReader{r: strings.NewReader(doc)} // fips_streaming_test.go
		req, err := http.NewRequest("POST", env.URL+"/v1/garant/hyperlinks", body)
		must(t, err)
		req.ContentLength = int64(len(doc))
		req.Header.Set("Authorization", "Bearer "+keyAlpha)
		req.Header.Set("Content-Type", "application/json")
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res, err := env.Client().Do(req)
		if err != nil {
			t.Fatalf("POST %d bytes with pad: %v", len(doc), err)
		}
		p := readProblem(t, res, http.StatusBadRequest)
		runtime.ReadMemStats(&after)
		if len(p.Errors) == 0 || p.Errors[0].Field != "body.pad" || !res.Close {
			t.Errorf("padded body = %+v (Connection: close %v), want body.pad named and the connection closed", p, res.Close)
		}
		if n := body.n.Load(); n > int64(len(doc)/2) {
			t.Errorf("the gateway let the client send %d of %d bytes before refusing, want it to stop near the pad", n, len(doc))
		}
		// Before, the body was decoded into a tree of 9 million values (~600 MB).
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
			t.Errorf("refusing the padded body allocated %d MB, want a few", grew>>20)
		}
	}
	if n := env.sim.Kit.Calls.Total(); n != 0 {
		t.Errorf("simulator calls = %d, want 0", n)
	}
	if n := credentialUsed(t, env, quota.FamilyLinksControl); n != 0 {
		t.Errorf("links_control units spent = %d, want 0", n)
	}
}

// TestBodyBudget: bodies held at once are capped per tenant (429) and in
// all (503), both with Retry-After; a body larger than the budget is 413.
func TestBodyBudget(t *testing.T) {
	g := newGateway(t, func(d *handlers.Deps) {
		d.Limits = handlers.Limits{BodyBudget: 5<<20 + 256<<10, TenantBodyBudget: 3 << 20, BodyIdleTimeout: 5 * time.Second, BodyTimeout: 10 * time.Second}
	})
	// hold sends the header of a hyperlinks request of n bytes and a little
	// of its body, and keeps it in flight until the test ends.
	hold := func(key string, n int) {
		c, err := net.Dial("tcp", hostOf(g))
		must(t, err)
		t.Cleanup(func() { c.Close() })
		_, err = fmt.Fprintf(c, "POST /v1/garant/hyperlinks HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"text\":\"", key, n)
		must(t, err)
	}
	post := func(key string, n int) *http.Response {
		doc := `{"text":"` + strings.Repeat("a", n-40) + `","baseUrl":"https://x.ru"}`
		return g.do(t, "POST", "/v1/garant/hyperlinks", key, doc)
	}
	const half = 512 << 10
	hold(keyAlpha, 2<<20+half)
	time.Sleep(200 * time.Millisecond) // the held request is in the guard

	res := post(keyAlpha, 1<<20)
	p := readProblem(t, res, http.StatusTooManyRequests)
	if !strings.HasSuffix(p.Type, "/body-budget-exceeded") || res.Header.Get("Retry-After") == "" || !strings.Contains(p.Detail, "server.tenant_body_budget_mib") || !res.Close {
		t.Errorf("alpha's 1 MiB body beside its 2.5 MiB = %+v (Retry-After %q, Connection: close %v), want the tenant's share named, with Retry-After, and the connection closed",
			p, res.Header.Get("Retry-After"), res.Close)
	}
	// Another tenant has its own share: its body is read (and answered
	// 501 here: the test gateway has no Garant client).
	if res := post(keyOther, 2<<20); res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
		t.Errorf("other's 2 MiB body beside alpha's = %d, want it admitted", res.StatusCode)
	}
	// Past the whole budget (5.25 MiB): other holds 2.5 MiB too, and alpha's
	// 2.5 + 0.5 fits its share but not the whole.
	hold(keyOther, 2<<20+half)
	time.Sleep(200 * time.Millisecond)
	res = post(keyAlpha, half)
	p = readProblem(t, res, http.StatusServiceUnavailable)
	if !strings.HasSuffix(p.Type, "/body-budget-exhausted") || res.Header.Get("Retry-After") == "" {
		t.Errorf("a body past the whole budget = %+v (Retry-After %q), want body-budget-exhausted with Retry-After", p, res.Header.Get("Retry-After"))
	}
	// Larger than a tenant's share: it could never fit.
	p = readProblem(t, post(keyAlpha, 4<<20), http.StatusRequestEntityTooLarge)
	if !strings.Contains(p.Detail, "body budget") {
		t.Errorf("a 4 MiB body over the 3 MiB share = %+v, want the budget named", p)
	}
	// A small body still fits beside the held ones (and is checked: the
	// search request is closed).
	p = readProblem(t, g.do(t, "POST", "/v1/garant/search", keyAlpha, map[string]any{"text": "x", "env": "internet", "colour": "red"}), http.StatusBadRequest)
	if len(p.Errors) != 1 || p.Errors[0].Field != "body.colour" {
		t.Errorf("a small search with an undeclared member beside the held bodies = %+v, want body.colour named", p)
	}
}

// TestHyperlinksAnswerAsSent: Garant's find-hyperlinks answer of the
// contract's shape is passed on byte for byte (it is not decoded and
// encoded again); one with other members is decoded and encoded, keeping
// only the contract's; one that is not JSON is a 502.
func TestHyperlinksAnswerAsSent(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	body := map[string]any{"text": "статья 70 Трудового кодекса РФ", "baseUrl": "https://internet.garant.ru"}
	for _, tc := range []struct {
		name, answer string
		status       int
		want         string
	}{
		{"the contract's shape", `{"text": "<a href=\"x\">статья 70</a>"}`, 200, `{"text": "<a href=\"x\">статья 70</a>"}` + "\n"},
		{"other members", `{"text":"<a>x</a>","links":[1,2]}`, 200, `{"text":"\u003ca\u003ex\u003c/a\u003e"}` + "\n"},
		{"not JSON", `{"text":`, 502, ""},
	} {
		env.sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/v2/find-hyperlinks", Status: 200, Body: tc.answer})
		status, _, got := env.send(t, "POST", "/v1/garant/hyperlinks", keyAlpha, body, "Cache-Control", "no-cache, no-store")
		if status != tc.status || (tc.want != "" && string(got) != tc.want) {
			t.Errorf("%s: hyperlinks = %d %q, want %d %q", tc.name, status, got, tc.status, tc.want)
		}
	}
}

// escapedText is n bytes or more of text whose JSON form has every kind of
// escape (quotes, a backslash, control characters, <, > and & as
// encoding/json escapes them, U+2028, a character outside the BMP) and no
// citation the simulator would link.
func escapedText(n int) string {
	const unit = "Строка с \"кавычками\", <b>разметкой</b> & табуляцией\tи \\ чертой,\u2028смайлик 😀 и перевод строки\n"
	return strings.Repeat(unit, n/len(unit)+1)
}

// TestHyperlinksTextRoundTrip: a long text with escapes (decoded in place
// over the body's buffer, then encoded again as it is sent) reaches Garant
// as the client wrote it: the simulator, finding nothing to link, answers
// it unchanged.
func TestHyperlinksTextRoundTrip(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	text := escapedText(256 << 10)
	status, _, got := env.send(t, "POST", "/v1/garant/hyperlinks", keyAlpha,
		map[string]any{"text": text, "baseUrl": "https://internet.garant.ru"}, "Cache-Control", "no-cache, no-store")
	var answer struct{ Text string }
	if status != 200 || json.Unmarshal(got, &answer) != nil || answer.Text != text {
		t.Fatalf("hyperlinks of %d bytes with escapes = %d, text of %d bytes (equal %v), want 200 and the text unchanged",
			len(text), status, len(answer.Text), answer.Text == text)
	}
}

// TestHyperlinksTextHeldOnce: a large text costs its body's buffer and
// nothing of its size besides: it is decoded in place, hashed through a
// small buffer and encoded in chunks as it is sent (Content-Length set).
// Garant is a stub that reads the request and answers a few bytes.
func TestHyperlinksTextHeldOnce(t *testing.T) {
	var got struct {
		sync.Mutex
		length, read int64
	}
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v2/limits" {
			_, _ = io.WriteString(w, "[]")
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		got.Lock()
		got.length, got.read = r.ContentLength, n
		got.Unlock()
		_, _ = io.WriteString(w, `{"text":"ok"}`)
	}))
	t.Cleanup(stub.Close)
	env := newGarantEnv(t, simConfig(), func(d *handlers.Deps) {
		d.Garant = garantDeps(t, d.Redis, prometheus.NewRegistry(), stub.URL) // beside the simulator's
	})
	// Warm up: the first call loads what the process keeps (the contract's table).
	if status, _, b := env.send(t, "POST", "/v1/garant/hyperlinks", keyAlpha, map[string]any{"text": "x", "baseUrl": "https://x.ru"}); status != 200 {
		t.Fatalf("a small hyperlinks call = %d %s", status, b)
	}
	doc, err := json.Marshal(map[string]any{"text": escapedText(4 << 20), "baseUrl": "https://internet.garant.ru"})
	must(t, err)
	req, err := http.NewRequest("POST", env.URL+"/v1/garant/hyperlinks", bytes.NewReader(doc))
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+keyAlpha)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cache-Control", "no-cache, no-store")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := env.Client().Do(req)
	must(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	runtime.ReadMemStats(&after)
	if res.StatusCode != 200 {
		t.Fatalf("hyperlinks of %d bytes = %d %s, want 200", len(doc), res.StatusCode, b)
	}
	got.Lock()
	defer got.Unlock()
	if got.length <= 0 || got.read != got.length {
		t.Errorf("Garant got Content-Length %d and %d bytes, want the length announced and sent", got.length, got.read)
	}
	// Before, the text was held twice: the body as sent and its decoded copy.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(len(doc))*3/2 {
		t.Errorf("a hyperlinks body of %d MB allocated %d MB, want its buffer and little else", len(doc)>>20, grew>>20)
	}
}
