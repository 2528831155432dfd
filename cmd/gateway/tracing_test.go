package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

// otlpReceiver is an in-process OTLP/HTTP trace receiver: it decodes each
// export request (protobuf) and keeps its spans and resources.
type otlpReceiver struct {
	mu        sync.Mutex
	spans     []*tracepb.Span
	resources []*commonpb.KeyValue
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/traces application/x-protobuf", http.StatusBadRequest)
		return
	}
	b, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		o.resources = append(o.resources, rs.GetResource().GetAttributes()...)
		for _, ss := range rs.GetScopeSpans() {
			o.spans = append(o.spans, ss.GetSpans()...)
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (o *otlpReceiver) all() []*tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.spans)
}

// traceHeaders records the trace headers each request to an upstream
// carried, and answers a path of fail with its status (once for 429, always
// otherwise) before passing requests on to next.
type traceHeaders struct {
	mu   sync.Mutex
	seen []http.Header // Traceparent, Tracestate and Baggage of each request
	fail map[string]int
	next http.Handler
}

func (h *traceHeaders) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	seen := http.Header{}
	for _, k := range []string{"Traceparent", "Tracestate", "Baggage"} {
		if v := r.Header.Get(k); v != "" {
			seen.Set(k, v)
		}
	}
	h.seen = append(h.seen, seen)
	status := h.fail[r.URL.Path]
	if status == http.StatusTooManyRequests {
		delete(h.fail, r.URL.Path)
	}
	h.mu.Unlock()
	if status != 0 {
		w.Header().Set("Retry-After", "0")
		http.Error(w, http.StatusText(status), status)
		return
	}
	h.next.ServeHTTP(w, r)
}

// headers lists the value of the header k of each request, "" when absent.
func (h *traceHeaders) headers(k string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, s := range h.seen {
		out = append(out, s.Get(k))
	}
	return out
}

// TestTracesThroughRun boots the gateway with OTEL_EXPORTER_OTLP_ENDPOINT
// pointing at an in-process OTLP receiver and checks the span trees of a
// Garant miss and hit, a Garant call the upstream fails (refund, stale
// lookup) and one it answers after a 429 (a retry), an FSSP long poll, FSSP's
// own shape (the key in the query), a FIPS upload and download,
// propagation to the upstream (traceparent, tracestate and baggage for
// Garant; nothing for FSSP and FIPS), sampling (an unsampled caller leaves
// no span), the trace id in problems and access log lines, and that no
// attribute carries a secret or the caller's query text.
func TestTracesThroughRun(t *testing.T) {
	rs := redistest.Start(t)
	receiver := &otlpReceiver{}
	collector := httptest.NewServer(receiver)
	t.Cleanup(collector.Close)
	// Garant fails one topic (503: the units are refunded) and answers
	// another's first call 429 (sent again by the upstream guard).
	failTopic, retryTopic := garantsim.TopicTaxCode, garantsim.TopicLabourCode
	garantSeen := &traceHeaders{next: garantsim.New(garantsim.DefaultConfig()), fail: map[string]int{
		fmt.Sprintf("/v2/topic/%d", failTopic): http.StatusServiceUnavailable, fmt.Sprintf("/v2/topic/%d", retryTopic): http.StatusTooManyRequests}}
	fsspCfg := fsspsim.DefaultConfig()
	fsspCfg.QueueFor, fsspCfg.RunFor = 50*time.Millisecond, 50*time.Millisecond
	fsspSeen := &traceHeaders{next: fsspsim.New(fsspCfg)}
	fipsSeen := &traceHeaders{next: fipssim.New(fipssim.DefaultConfig())}
	garant, fssp, fips := httptest.NewServer(garantSeen), httptest.NewServer(fsspSeen), httptest.NewServer(fipsSeen)
	t.Cleanup(garant.Close)
	t.Cleanup(fssp.Close)
	t.Cleanup(fips.Close)

	const tenantKey = "tracing-tenant-key"
	cfg := fmt.Sprintf(`
redis: {url: %q}
credentials:
  garant-main: {upstream: garant, secret: "${GARANT_TOKEN}"}
  fssp-main: {upstream: fssp, secret: "${FSSP_TOKEN}"}
  fips-main: {upstream: fips, secret: "${FIPS_KEY}"}
tenants:
  billing:
    keys_sha256: [%s]
    credentials: {garant: garant-main, fssp: fssp-main, fips: fips-main}
upstreams:
  garant: {base_url: %q, propagate_trace: true}
  fssp: {base_url: %q}
  fips: {base_url: %q}
fssp: {poll_initial: 100ms, poll_max: 200ms}
`, rs.URL(), config.HashKey(tenantKey), garant.URL, fssp.URL, fips.URL+"/api/v1")
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	runCtx, stopGateway := context.WithCancel(context.Background())
	defer stopGateway()
	base, logs, result := startGatewayCtx(t, runCtx, []string{"-config", path}, map[string]string{
		"GARANT_TOKEN": "demo-garant-token", "FSSP_TOKEN": "demo-fssp-token", "FIPS_KEY": "demo-fips-key",
		"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_SERVICE_NAME": "legalgate-test",
	})

	// callFlags sends one request as the caller's span callerSpan of trace
	// traceID with the trace flags flags (01 sampled, 00 not), a tracestate
	// and baggage.
	callFlags := func(method, path, traceID, callerSpan, flags string, header http.Header, body io.Reader) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("Authorization", "Bearer "+tenantKey)
		req.Header.Set("Traceparent", "00-"+traceID+"-"+callerSpan+"-"+flags)
		req.Header.Set("Tracestate", "billing=caller-state")
		req.Header.Set("Baggage", "caller=billing-service")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	// call sends one sampled request.
	call := func(method, path, traceID, callerSpan string, header http.Header, body io.Reader) (*http.Response, []byte) {
		t.Helper()
		return callFlags(method, path, traceID, callerSpan, "01", header, body)
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	const (
		missTrace, hitTrace, fsspTrace, fipsTrace, badTrace = "11111111111111111111111111111111", "22222222222222222222222222222222",
			"33333333333333333333333333333333", "44444444444444444444444444444444", "55555555555555555555555555555555"
		pollTrace, failTrace, retryTrace, unsampledTrace = "66666666666666666666666666666666", "77777777777777777777777777777777",
			"88888888888888888888888888888888", "99999999999999999999999999999999"
		compatTrace = "abababababababababababababababab"
		callerSpan  = "aaaaaaaaaaaaaaaa"
	)

	// A Garant miss, then the same request from another trace: a hit.
	if res, b := call("GET", "/v1/garant/topics/10900200", missTrace, callerSpan, nil, nil); res.StatusCode != 200 {
		t.Fatalf("Garant topic (miss) = %d %s, want 200", res.StatusCode, b)
	}
	if res, b := call("GET", "/v1/garant/topics/10900200", hitTrace, callerSpan, nil, nil); res.StatusCode != 200 || !strings.Contains(res.Header.Get("Cache-Status"), "hit") {
		t.Fatalf("Garant topic (hit) = %d %q %s, want 200 and a hit", res.StatusCode, res.Header.Get("Cache-Status"), b)
	}
	// A Garant call the upstream fails (its units refunded), one it answers
	// after a 429, and a call the caller did not sample.
	if res, b := call("GET", fmt.Sprintf("/v1/garant/topics/%d", failTopic), failTrace, callerSpan, nil, nil); res.StatusCode < 500 {
		t.Fatalf("Garant topic failed upstream = %d %s, want a 5xx", res.StatusCode, b)
	}
	if res, b := call("GET", fmt.Sprintf("/v1/garant/topics/%d", retryTopic), retryTrace, callerSpan, nil, nil); res.StatusCode != 200 {
		t.Fatalf("Garant topic answered after a 429 = %d %s, want 200", res.StatusCode, b)
	}
	if res, b := callFlags("GET", "/v1/garant/topics/10900200", unsampledTrace, callerSpan, "00", nil, nil); res.StatusCode != 200 {
		t.Fatalf("Garant topic (not sampled) = %d %s, want 200", res.StatusCode, b)
	}
	// FSSP's own shape: the tenant's key travels in the query.
	if res, b := call("GET", "/compat/fssp/api/v1.0/search/physical?token="+tenantKey+"&region=77&firstname=%D0%98%D0%92%D0%90%D0%9D&lastname=%D0%98%D0%92%D0%90%D0%9D%D0%9E%D0%92",
		compatTrace, callerSpan, nil, nil); res.StatusCode != 200 {
		t.Fatalf("compat FSSP search = %d %s, want 200", res.StatusCode, b)
	}
	// An FSSP search answered by its long poll.
	fsspHeader := http.Header{"Content-Type": {"application/json"}, "Prefer": {"wait=20"}}
	res, b := call("POST", "/v1/fssp/searches/physical", fsspTrace, callerSpan, fsspHeader,
		strings.NewReader(`{"region":77,"lastname":"ИВАНОВ","firstname":"ИВАН","birthdate":"01.01.1980"}`))
	if res.StatusCode != 200 || !strings.Contains(string(b), `"succeeded"`) {
		t.Fatalf("FSSP search with Prefer: wait=20 = %d %s, want 200 and a finished task", res.StatusCode, b)
	}
	// A search, then its task's long poll (parked while it waits).
	res, b = call("POST", "/v1/fssp/searches/physical", pollTrace, callerSpan, jsonHeader,
		strings.NewReader(`{"region":77,"lastname":"ИВАНОВ","firstname":"ИВАН","birthdate":"01.01.1980"}`))
	var task struct{ ID string }
	if err := json.Unmarshal(b, &task); err != nil || res.StatusCode != 202 || task.ID == "" {
		t.Fatalf("FSSP search = %d %s, want 202 with a task", res.StatusCode, b)
	}
	if res, b := call("GET", "/v1/fssp/tasks/"+task.ID+"?wait=20", pollTrace, "dddddddddddddddd", nil, nil); res.StatusCode != 200 || !strings.Contains(string(b), `"succeeded"`) {
		t.Fatalf("FSSP long poll = %d %s, want 200 and a finished task", res.StatusCode, b)
	}
	// A FIPS upload: an application, a document, its file.
	res, b = call("POST", "/v1/fips/applications", fipsTrace, "bbbbbbbbbbbbbbbb", http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"trace-app"}},
		strings.NewReader(`{"type":"TMApplication","category":"Юридическое лицо\\Российская организация\\Коммерческая организация","title":"Ласточка"}`))
	var app struct{ ID string }
	if err := json.Unmarshal(b, &app); err != nil || res.StatusCode != 201 || app.ID == "" {
		t.Fatalf("FIPS create application = %d %s, want 201 with an id", res.StatusCode, b)
	}
	res, b = call("POST", "/v1/fips/applications/"+app.ID+"/documents", fipsTrace, "cccccccccccccccc", jsonHeader, strings.NewReader(`{"type":"PowerOfAttorney"}`))
	var doc struct{ ID string }
	if err := json.Unmarshal(b, &doc); err != nil || res.StatusCode != 201 || doc.ID == "" {
		t.Fatalf("FIPS create document = %d %s, want 201 with an id", res.StatusCode, b)
	}
	var upload bytes.Buffer
	mw := multipart.NewWriter(&upload)
	fw, _ := mw.CreateFormFile("file", "power.txt")
	_, _ = fw.Write(bytes.Repeat([]byte("доверенность "), 200))
	_ = mw.Close()
	res, b = call("PUT", "/v1/fips/applications/"+app.ID+"/documents/"+doc.ID+"/file", fipsTrace, callerSpan,
		http.Header{"Content-Type": {mw.FormDataContentType()}}, bytes.NewReader(upload.Bytes()))
	if res.StatusCode/100 != 2 {
		t.Fatalf("FIPS upload = %d %s, want 2xx", res.StatusCode, b)
	}
	res, b = call("GET", "/v1/fips/applications/"+app.ID+"/documents/"+doc.ID+"/file", fipsTrace, "eeeeeeeeeeeeeeee", nil, nil)
	if res.StatusCode != 200 || len(b) == 0 {
		t.Fatalf("FIPS download = %d (%d bytes), want 200 with the file", res.StatusCode, len(b))
	}
	// A refused request: its problem names the trace.
	res, b = call("POST", "/v1/garant/search?text=secret-query-text", badTrace, callerSpan, jsonHeader, strings.NewReader(`{"text":"кодекс","env":"moon"}`))
	var prob struct {
		RequestID string `json:"request_id"`
		TraceID   string `json:"trace_id"`
	}
	if err := json.Unmarshal(b, &prob); err != nil || res.StatusCode != 400 || prob.TraceID != badTrace || prob.RequestID == "" {
		t.Errorf("invalid Garant search = %d %s, want a 400 problem with trace_id %s next to request_id", res.StatusCode, b, badTrace)
	}

	// Stop the gateway: its shutdown exports every span still buffered.
	stopGateway()
	if err := <-result; err != nil {
		t.Fatalf("run() = %v after shutdown", err)
	}
	spans := receiver.all()
	byTrace := map[string][]*tracepb.Span{}
	for _, s := range spans {
		id := hex.EncodeToString(s.GetTraceId())
		byTrace[id] = append(byTrace[id], s)
	}

	// Garant miss: caller's span → gateway server span → quota, cache and
	// the upstream call, all in the caller's trace.
	miss := checkTree(t, "Garant miss", byTrace[missTrace], callerSpan, "garantGetTopic")
	for _, name := range []string{"auth", "quota.reserve", "cache.fetch", "cache.lookup", "cache.fill", "garant GET"} {
		if miss.named(name) == nil {
			t.Errorf("Garant miss: no %q span in %v", name, miss.names())
		}
	}
	if up := miss.named("garant GET"); up != nil {
		if up.GetKind() != tracepb.Span_SPAN_KIND_CLIENT || attr(up, "http.response.status_code") != "200" ||
			attr(up, "legalgate.credential") != "garant-main" || attr(up, "legalgate.upstream.retries") != "0" {
			t.Errorf("Garant client span = kind %v attrs %v, want a client span with status 200, credential garant-main, 0 retries", up.GetKind(), up.GetAttributes())
		}
		if !miss.under(up, "cache.fill") {
			t.Errorf("Garant client span is not under cache.fill")
		}
	}
	if s := miss.named("quota.reserve"); s != nil && (attr(s, "legalgate.tenant") != "billing" || attr(s, "legalgate.credential") != "garant-main") {
		t.Errorf("quota.reserve attributes = %v, want tenant billing and credential garant-main", s.GetAttributes())
	}
	if s := miss.named("cache.fetch"); s != nil && !strings.HasSuffix(attr(s, "legalgate.cache.status"), "stored") {
		t.Errorf("cache.fetch of the miss: status %q, want stored", attr(s, "legalgate.cache.status"))
	}
	// Garant hit: the server span and the cache, no upstream call.
	hit := checkTree(t, "Garant hit", byTrace[hitTrace], callerSpan, "garantGetTopic")
	if s := hit.named("cache.fetch"); s == nil || !strings.HasSuffix(attr(s, "legalgate.cache.status"), "; hit") {
		t.Errorf("Garant hit: cache.fetch span %v, want status hit", s)
	}
	if hit.named("garant GET") != nil {
		t.Errorf("Garant hit called the upstream: %v", hit.names())
	}
	// Propagation: Garant (propagate_trace: true) saw the caller's trace,
	// tracestate and baggage; FSSP and FIPS saw no trace header.
	if got := garantSeen.headers("Traceparent"); !slices.ContainsFunc(got, func(h string) bool { return strings.Contains(h, missTrace) }) {
		t.Errorf("Garant saw traceparents %q, want one of trace %s", got, missTrace)
	}
	for k, want := range map[string]string{"Tracestate": "billing=caller-state", "Baggage": "caller=billing-service"} {
		if got := garantSeen.headers(k); !slices.Contains(got, want) {
			t.Errorf("Garant saw %s %q, want the caller's %q", k, got, want)
		}
	}
	for name, seen := range map[string]*traceHeaders{"FSSP": fsspSeen, "FIPS": fipsSeen} {
		for _, k := range []string{"Traceparent", "Tracestate", "Baggage"} {
			got := seen.headers(k)
			if len(got) == 0 || slices.ContainsFunc(got, func(h string) bool { return h != "" }) {
				t.Errorf("%s saw %s %q over %d requests, want none (propagate_trace off)", name, k, got, len(got))
			}
		}
	}
	// A Garant call the upstream failed: its client span has the status,
	// and the units are given back in a quota.refund span.
	failed := checkTree(t, "Garant failure", byTrace[failTrace], callerSpan, "garantGetTopic")
	if up := failed.named("garant GET"); up == nil || attr(up, "http.response.status_code") != "503" {
		t.Errorf("Garant failure: client span %v, want garant GET with status 503", up)
	}
	if failed.named("cache.stale") == nil || !failed.under(failed.named("cache.stale"), "cache.fetch") {
		t.Errorf("Garant failure: no cache.stale span (a stale entry looked for) under cache.fetch in %v", failed.names())
	}
	if s := failed.named("quota.refund"); s == nil || attr(s, "legalgate.tenant") != "billing" || attr(s, "legalgate.credential") != "garant-main" {
		t.Errorf("Garant failure: quota.refund span %v in %v, want one for tenant billing and credential garant-main", s, failed.names())
	}
	// A Garant call answered after a 429: one client span counting the retry.
	retried := checkTree(t, "Garant retry", byTrace[retryTrace], callerSpan, "garantGetTopic")
	if up := retried.named("garant GET"); up == nil || attr(up, "http.response.status_code") != "200" || attr(up, "legalgate.upstream.retries") != "1" {
		t.Errorf("Garant retry: client span %v, want garant GET with status 200 and 1 retry", up)
	}
	// FSSP's own shape authenticates in an auth span too.
	compat := checkTree(t, "compat FSSP search", byTrace[compatTrace], callerSpan, "compatFsspSearchPhysical")
	if s := compat.named("auth"); s == nil || attr(s, "legalgate.tenant") != "billing" {
		t.Errorf("compat FSSP search: auth span %v in %v, want one naming tenant billing", s, compat.names())
	}
	// A request its caller did not sample is not recorded (parentbased_always_on).
	if got := byTrace[unsampledTrace]; len(got) != 0 {
		t.Errorf("a request its caller did not sample left %d spans: %v", len(got), spanTree{got}.names())
	}

	// FSSP long poll: the submission in the caller's trace; the poller's
	// status and result calls in traces of their own, linked to it.
	sub := checkTree(t, "FSSP search", byTrace[fsspTrace], callerSpan, "fsspSearchPhysical")
	if sub.named("quota.reserve") == nil || sub.named("fssp GET") == nil && sub.named("fssp POST") == nil {
		t.Errorf("FSSP search: spans %v, want quota.reserve and the upstream search", sub.names())
	}
	server := sub.named("fsspSearchPhysical")
	var polls, statuses, results int
	linkedToFirst := false
	for _, s := range spans {
		if s.GetName() != "fssp.poll" {
			continue
		}
		polls++
		var submitter *tracepb.Span
		if len(s.GetLinks()) == 1 {
			submitter = spanTree{byTrace[hex.EncodeToString(s.GetLinks()[0].GetTraceId())]}.byID(s.GetLinks()[0].GetSpanId())
		}
		if submitter == nil || !strings.HasSuffix(submitter.GetName(), "sspSearchPhysical") { // fsspSearchPhysical or compatFsspSearchPhysical
			t.Errorf("fssp.poll links = %v, want one link to the submitting request's server span", s.GetLinks())
		}
		if len(s.GetLinks()) == 1 && bytes.Equal(s.GetLinks()[0].GetSpanId(), server.GetSpanId()) {
			linkedToFirst = true
		}
		poll := spanTree{byTrace[hex.EncodeToString(s.GetTraceId())]}
		for _, c := range poll.spans {
			switch c.GetName() {
			case "fssp.status":
				statuses++
			case "fssp.result":
				results++
			}
		}
	}
	if !linkedToFirst {
		t.Errorf("no fssp.poll span links to the search answered by its Prefer: wait")
	}
	if polls == 0 || statuses == 0 || results == 0 {
		t.Errorf("poller spans: %d fssp.poll, %d fssp.status, %d fssp.result; want each", polls, statuses, results)
	}

	// The long poll: a server span of its own under the caller's, answered 200.
	longPoll := checkTree(t, "FSSP long poll", slices.DeleteFunc(slices.Clone(byTrace[pollTrace]), func(s *tracepb.Span) bool {
		return hex.EncodeToString(s.GetParentSpanId()) == callerSpan || spanTree.under(spanTree{byTrace[pollTrace]}, s, "fsspSearchPhysical")
	}), "dddddddddddddddd", "fsspGetTask")
	if s := longPoll.named("fsspGetTask"); s == nil || attr(s, "http.response.status_code") != "200" {
		t.Errorf("FSSP long poll server span = %v, want one answered 200", s)
	}

	// FIPS upload: the server span, the streamed upload and the upstream call.
	var put *spanTree
	for _, s := range byTrace[fipsTrace] {
		if s.GetName() == "fipsPutDocumentFile" {
			tr := spanTree{byTrace[fipsTrace]}
			put = &tr
		}
	}
	if put == nil {
		t.Fatalf("FIPS trace has no fipsPutDocumentFile span: %v", spanTree{byTrace[fipsTrace]}.names())
	}
	up := put.named("fips.upload")
	if up == nil || attr(up, "legalgate.fips.bytes") == "0" || attr(up, "legalgate.fips.bytes") == "" {
		t.Errorf("fips.upload span = %v, want one counting the bytes streamed", up)
	}
	if down := put.named("fips.download"); down == nil || attr(down, "legalgate.fips.bytes") == "0" || attr(down, "legalgate.fips.bytes") == "" || !put.under(down, "fipsGetDocumentFile") {
		t.Errorf("fips.download span = %v, want one under fipsGetDocumentFile counting the bytes streamed", down)
	}
	if !slices.ContainsFunc(put.spans, func(s *tracepb.Span) bool {
		return s.GetKind() == tracepb.Span_SPAN_KIND_CLIENT && strings.HasPrefix(s.GetName(), "fips ") && put.under(s, "fipsPutDocumentFile")
	}) {
		t.Errorf("FIPS upload: no upstream client span under the server span in %v", put.names())
	}
	checkTree(t, "invalid search", byTrace[badTrace], callerSpan, "garantSearch")

	// Nothing secret, and no query text, in any attribute of any span or resource.
	secrets := []string{tenantKey, config.HashKey(tenantKey), "demo-garant-token", "demo-fssp-token", "demo-fips-key",
		"кодекс", "ИВАНОВ", "secret-query-text", "Ласточка", "доверенность"}
	values := attrValues(receiver.resources)
	for _, s := range spans {
		values = append(values, s.GetName())
		values = append(values, attrValues(s.GetAttributes())...)
		for _, e := range s.GetEvents() {
			values = append(values, e.GetName())
			values = append(values, attrValues(e.GetAttributes())...)
		}
		values = append(values, s.GetStatus().GetMessage())
	}
	for _, v := range values {
		for _, secret := range secrets {
			if strings.Contains(v, secret) {
				t.Errorf("a span attribute holds %q: %q", secret, v)
			}
		}
	}
	if !slices.Contains(values, "service.name=legalgate-test") {
		t.Errorf("no resource has service.name legalgate-test (OTEL_SERVICE_NAME)")
	}
	// The access log line names the trace.
	if !strings.Contains(logs.String(), `"trace_id":"`+missTrace+`"`) {
		t.Errorf("no access log line carries trace_id %s", missTrace)
	}
}

type spanTree struct{ spans []*tracepb.Span }

func (tr spanTree) named(name string) *tracepb.Span {
	for _, s := range tr.spans {
		if s.GetName() == name {
			return s
		}
	}
	return nil
}

func (tr spanTree) names() []string {
	var out []string
	for _, s := range tr.spans {
		out = append(out, s.GetName())
	}
	return out
}

func (tr spanTree) byID(id []byte) *tracepb.Span {
	for _, s := range tr.spans {
		if bytes.Equal(s.GetSpanId(), id) {
			return s
		}
	}
	return nil
}

// under reports whether s has an ancestor named name.
func (tr spanTree) under(s *tracepb.Span, name string) bool {
	for p := tr.byID(s.GetParentSpanId()); p != nil; p = tr.byID(p.GetParentSpanId()) {
		if p.GetName() == name {
			return true
		}
	}
	return false
}

// checkTree checks that spans form one tree under the gateway's server span
// named server, itself the child of the caller's span callerSpan.
func checkTree(t *testing.T, what string, spans []*tracepb.Span, callerSpan, server string) spanTree {
	t.Helper()
	tr := spanTree{spans}
	var root *tracepb.Span
	for _, s := range spans {
		if hex.EncodeToString(s.GetParentSpanId()) == callerSpan {
			if root != nil {
				t.Errorf("%s: two spans under the caller's: %s and %s", what, root.GetName(), s.GetName())
			}
			root = s
		}
	}
	if root == nil {
		t.Errorf("%s: no span under the caller's span %s among %v", what, callerSpan, tr.names())
		return tr
	}
	if root.GetName() != server || root.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("%s: the caller's child is %q (kind %v), want the server span %q", what, root.GetName(), root.GetKind(), server)
	}
	for _, s := range spans {
		if s != root && !tr.under(s, server) {
			t.Errorf("%s: span %q is not under the server span", what, s.GetName())
		}
	}
	return tr
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			return anyValue(kv.GetValue())
		}
	}
	return ""
}

func anyValue(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprint(x.DoubleValue)
	case *commonpb.AnyValue_ArrayValue:
		var parts []string
		for _, e := range x.ArrayValue.GetValues() {
			parts = append(parts, anyValue(e))
		}
		return strings.Join(parts, ",")
	case *commonpb.AnyValue_BytesValue:
		return string(x.BytesValue)
	}
	return v.String()
}

func attrValues(kvs []*commonpb.KeyValue) []string {
	var out []string
	for _, kv := range kvs {
		out = append(out, kv.GetKey()+"="+anyValue(kv.GetValue()))
	}
	return out
}
