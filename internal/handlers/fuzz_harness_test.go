package handlers_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/fipssvc"
	"github.com/legalgate/legalgate/internal/garantsvc"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/upstream/fips"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/garant"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/watches"
)

// The fuzz targets of this package drive the real router over a real TCP
// connection, the way a hostile client would, and hold every answer to the
// same rules: no 5xx while the upstreams are healthy, no panic (neither one
// the recoverer turns into a 500 nor one net/http recovers by itself), a
// problem document for every error, an answer within fuzzAnswerTimeout,
// bounded allocation, and no input the gateway refuses ever reaching an
// upstream.

const (
	// fuzzAnswerTimeout is how long one request may take before the fuzz
	// target calls it a hang (the machine may be loaded; this is not a
	// latency target).
	fuzzAnswerTimeout = 30 * time.Second
	// fuzzAllocBase and fuzzAllocPerByte bound what one request may
	// allocate in the whole process (gateway, simulators, Redis client):
	// a constant plus a multiple of what the client sent.
	fuzzAllocBase    = 64 << 20
	fuzzAllocPerByte = 256
)

// fuzzOp is one operation of the contract, as the fuzz targets call it.
type fuzzOp struct {
	id, method, path string
	params           []string // path parameters, in path order
	header           string   // the operation's first header parameter, if any
	body             string   // the request body's media type, if any
}

// fuzzOps lists the contract's operations, sorted by operation id.
func fuzzOps(tb testing.TB) []fuzzOp {
	spec, err := api.GetSpec()
	must(tb, err)
	var ops []fuzzOp
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			o := fuzzOp{id: strings.ToLower(op.OperationID[:1]) + op.OperationID[1:], method: method, path: path}
			for _, seg := range strings.Split(path, "/") {
				if p, ok := strings.CutPrefix(seg, "{"); ok {
					o.params = append(o.params, strings.TrimSuffix(p, "}"))
				}
			}
			for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
				if p.Value != nil && p.Value.In == "header" && o.header == "" {
					o.header = p.Value.Name
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for ct := range op.RequestBody.Value.Content {
					o.body = ct
				}
			}
			ops = append(ops, o)
		}
	}
	slices.SortFunc(ops, func(a, b fuzzOp) int { return strings.Compare(a.id, b.id) })
	return ops
}

// fuzzEnv is the gateway the request fuzzers drive: the real router over
// real Redis, with the three simulators behind it over real HTTP.
type fuzzEnv struct {
	*gateway
	ops  []fuzzOp
	byID map[string]fuzzOp
	// forwarded counts the upstream calls that carry a client's input: every
	// Garant call, FSSP searches (not the engine's polls), FIPS calls other
	// than the dictionaries (which the gateway reads to validate input).
	forwarded atomic.Int64
	// ids holds a valid value of each path parameter; gone holds ids that
	// do not exist, for the operations that would destroy the valid ones.
	ids, gone map[string]string
	panics    *panicLog
}

// panicLog is the server's error log; it remembers panics net/http
// recovered (those never reach the gateway's own recoverer).
type panicLog struct {
	mu    sync.Mutex
	lines []string
}

func (p *panicLog) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte("panic")) {
		p.mu.Lock()
		p.lines = append(p.lines, string(b))
		p.mu.Unlock()
	}
	return len(b), nil
}

func (p *panicLog) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.lines
	p.lines = nil
	return out
}

// counted wraps an upstream simulator: forwarded counts the calls that
// carry client input.
func counted(n *atomic.Int64, carries func(*http.Request) bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/_sim/") && carries(r) {
			n.Add(1)
		}
		h.ServeHTTP(w, r)
	})
}

// newFuzzEnv builds the gateway with the three simulators and creates one
// FIPS application with a document and one FSSP task for the fuzzers to
// use. Quotas: FSSP searches are metered (so that a long run does not
// start an unbounded number of tasks); Garant and FIPS are not, so that
// valid inputs keep reaching the upstreams.
func newFuzzEnv(tb testing.TB) *fuzzEnv {
	env := &fuzzEnv{}

	gcfg := garantsim.DefaultConfig()
	gcfg.RatePerSecond = 1 << 20
	for tok, t := range gcfg.Tokens {
		t.Quotas = nil // no monthly limits: exports stay exports
		gcfg.Tokens[tok] = t
	}
	gsim := httptest.NewServer(counted(&env.forwarded, func(*http.Request) bool { return true }, garantsim.New(gcfg)))
	tb.Cleanup(gsim.Close)

	scfg := fsspsim.DefaultConfig()
	scfg.QueueFor, scfg.RunFor = 20*time.Millisecond, 50*time.Millisecond
	scfg.HourLimit, scfg.DayLimit, scfg.GroupDayLimit = 1<<20, 1<<20, 1<<20
	ssim := httptest.NewServer(counted(&env.forwarded, func(r *http.Request) bool {
		return strings.Contains(r.URL.Path, "/search")
	}, fsspsim.New(scfg)))
	tb.Cleanup(ssim.Close)

	fsim := httptest.NewServer(counted(&env.forwarded, func(r *http.Request) bool {
		return !strings.Contains(r.URL.Path, "/dictionaries/")
	}, fipssim.New(fipssim.DefaultConfig())))
	tb.Cleanup(fsim.Close)

	rules := []quota.Rule{
		{Scope: quota.ScopeCredential, Owner: "fssp-test", Upstream: "fssp", Family: quota.FamilySingle, Period: quota.PeriodSlidingHour, Limit: 300},
		{Scope: quota.ScopeCredential, Owner: "fssp-test", Upstream: "fssp", Family: quota.FamilyGroup, Period: quota.PeriodSlidingDay, Limit: 30},
	}
	gw := fsspGatewayRules(tb, ssim.URL, rules, func(d *handlers.Deps) {
		d.Garant = fuzzGarant(tb, d, gsim.URL)
		fc, err := fips.New(fips.Config{BaseURL: fsim.URL + fipssim.Prefix, Timeout: 10 * time.Second, Redis: d.Redis,
			OnRejected: func(string) {}})
		must(tb, err)
		d.FIPS = &fipssvc.Service{Client: fc, Idem: idempotency.New(d.Redis, idempotency.Options{Log: d.Log})}
		d.Watches = &watches.Manager{Redis: d.Redis, Garant: d.Garant, Hooks: d.Webhooks, Tenants: d.Tenants.Load}
	})
	env.serve(tb, gw)

	// The resources the fuzzers address.
	env.ids = map[string]string{"topic": "12125268", "entry": "70", "format": "pdf", "objectId": "1084623",
		"watchId": "wch_0123456789abcdef01234567"}
	env.gone = map[string]string{"applicationId": "999999999", "documentId": "999999999"}
	var app, doc struct{ ID string }
	env.mustCall(tb, "POST", "/v1/fips/applications", 201, `{"type":"TMApplication","category":"`+jsonEscape(fipsLegalCat)+`","title":"fuzz"}`, &app)
	env.ids["applicationId"] = app.ID
	env.mustCall(tb, "POST", "/v1/fips/applications/"+app.ID+"/documents", 201, `{"type":"PowerOfAttorney"}`, &doc)
	env.ids["documentId"] = doc.ID
	var task struct{ ID string }
	env.mustCall(tb, "POST", "/v1/fssp/searches/ip", 202, `{"number":"12345/21/77001-ИП"}`, &task)
	env.ids["taskId"] = task.ID
	env.gone["taskId"] = task.ID
	return env
}

// fuzzGarant is garantDeps with a Garant timeout that a loaded machine
// (the race detector, parallel packages) does not run out of: an export
// takes the simulator a while to make.
func fuzzGarant(tb testing.TB, d *handlers.Deps, url string) *garantsvc.Service {
	g := garantDeps(tb, d.Redis, d.Registry, url)
	c, err := garant.New(garant.Config{BaseURL: url, Timeout: 20 * time.Second,
		Transport: metrics.NewUpstream(prometheus.NewRegistry()).Transport("garant", http.DefaultTransport)})
	must(tb, err)
	g.Client = c
	return g
}

// serve puts gw's handler on a server of our own, whose error log we read.
func (e *fuzzEnv) serve(tb testing.TB, gw *gateway) {
	e.panics = &panicLog{}
	e.ops = fuzzOps(tb)
	e.byID = map[string]fuzzOp{}
	for _, o := range e.ops {
		e.byID[o.id] = o
	}
	srv := httptest.NewUnstartedServer(gw.Config.Handler)
	srv.Config.ErrorLog = log.New(e.panics, "", 0)
	srv.Start()
	tb.Cleanup(srv.Close)
	gw.Server = srv
	e.gateway = gw
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// mustCall sends a JSON request as tenant alpha and decodes the answer.
func (e *fuzzEnv) mustCall(tb testing.TB, method, path string, want int, body string, out any) {
	tb.Helper()
	a, err := e.send(method, path, []string{"Content-Type", "application/json"}, []byte(body))
	must(tb, err)
	if a.res.StatusCode != want {
		tb.Fatalf("%s %s = %d %s, want %d", method, path, a.res.StatusCode, a.body, want)
	}
	must(tb, json.Unmarshal(a.body, out))
}

// op returns the operation named name, or, for any other name, one picked
// by its hash: a mutated name still names an operation, and a seed names
// the operation it was written for however the contract grows.
func (e *fuzzEnv) op(name string) fuzzOp {
	if o, ok := e.byID[name]; ok {
		return o
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return e.ops[h.Sum32()%uint32(len(e.ops))]
}

// fuzzAnswer is an answer read whole, with what it cost.
type fuzzAnswer struct {
	res       *http.Response
	body      []byte
	forwarded int64  // upstream calls carrying client input while it was served
	allocated uint64 // bytes allocated in the process while it was served
}

// send writes one HTTP/1.1 request on a new connection, exactly as given
// (target unescaped, headers in pairs; Content-Length when body is not
// nil), as tenant alpha, and reads the answer.
func (e *fuzzEnv) send(method, target string, hdr []string, body []byte) (*fuzzAnswer, error) {
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer %s\r\n", method, target, keyAlpha)
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&req, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	if body != nil {
		fmt.Fprintf(&req, "Content-Length: %d\r\n", len(body))
	}
	req.WriteString("\r\n")
	req.Write(body)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	calls := e.forwarded.Load()
	start := time.Now()
	conn, err := net.Dial("tcp", e.Listener.Addr().String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(start.Add(fuzzAnswerTimeout))
	if _, err := conn.Write(req.Bytes()); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer body: %w", err)
	}
	// The connection is kept alive: say there is no next request and wait
	// for the server to close it, so that whatever it does after the answer
	// (drain the body, read the next request, recover a panic) is over.
	_ = conn.(*net.TCPConn).CloseWrite()
	if _, err := io.Copy(io.Discard, conn); err != nil {
		return nil, fmt.Errorf("wait for the server to close: %w", err)
	}
	a := &fuzzAnswer{res: res, body: b, forwarded: e.forwarded.Load() - calls}
	runtime.ReadMemStats(&after)
	a.allocated = after.TotalAlloc - before.TotalAlloc
	return a, nil
}

// check holds an answer to the rules every answer keeps; sent is the size
// of what the client sent.
func (e *fuzzEnv) check(t *testing.T, what string, sent int, a *fuzzAnswer, err error) {
	t.Helper()
	e.checkWith(t, what, sent, a, err, false)
}

// checkWith is check; upstreamFailures allows the 5xx of a failed upstream
// (502, 503 and 504 problems naming it).
func (e *fuzzEnv) checkWith(t *testing.T, what string, sent int, a *fuzzAnswer, err error, upstreamFailures bool) {
	t.Helper()
	if p := e.panics.take(); len(p) > 0 {
		t.Fatalf("%s: net/http recovered a panic: %s", what, strings.Join(p, "\n"))
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	status := a.res.StatusCode
	upstreamStatus := status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
	if status >= 500 && !(upstreamFailures && upstreamStatus) {
		t.Fatalf("%s = %d %s, want no 5xx while the upstreams are healthy", what, status, clipBody(a.body))
	}
	if loc := a.res.Header.Get("Location"); loc != "" && (!strings.HasPrefix(loc, "/v1/") || path.Clean(loc) != loc) {
		t.Fatalf("%s = %d with Location %q, which leaves /v1/ or is not a clean path", what, status, loc)
	}
	if limit := uint64(fuzzAllocBase + fuzzAllocPerByte*sent); a.allocated > limit {
		t.Fatalf("%s allocated %d bytes, want at most %d", what, a.allocated, limit)
	}
	if status < 400 {
		return
	}
	if ct := a.res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s = %d with Content-Type %q, want application/problem+json; body %s", what, status, ct, clipBody(a.body))
	}
	var p problemDoc
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatalf("%s = %d: problem does not decode: %v; body %s", what, status, err, clipBody(a.body))
	}
	if p.Status != status || p.RequestID == "" || p.RequestID != a.res.Header.Get("X-Request-ID") {
		t.Fatalf("%s = %d: problem %+v: status or request_id wrong (X-Request-ID %q)", what, status, p, a.res.Header.Get("X-Request-ID"))
	}
	if status >= 500 && p.Upstream == "" {
		t.Fatalf("%s = %d %s, want a problem naming the upstream that failed", what, status, clipBody(a.body))
	}
	if p.Upstream == "" && a.forwarded > 0 {
		t.Fatalf("%s = %d %s: the gateway refused the request itself, yet %d call(s) carried it upstream", what, status, clipBody(a.body), a.forwarded)
	}
}

func clipBody(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// fill puts values into an operation's path template: vals[i] for the i-th
// parameter, or the valid id when vals has none.
func (e *fuzzEnv) fill(o fuzzOp, vals ...string) string {
	ids := e.ids
	if o.method == http.MethodDelete {
		ids = e.gone
	}
	path := o.path
	for i, p := range o.params {
		v := ids[p]
		if i < len(vals) {
			v = vals[i]
		}
		path = strings.Replace(path, "{"+p+"}", v, 1)
	}
	return path
}
