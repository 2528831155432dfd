package handlers_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
)

// fipsSimSpy counts the requests that reach the simulator and keeps the
// Authorization values it was sent.
type fipsSimSpy struct {
	calls atomic.Int64
	mu    sync.Mutex
	auth  map[string]bool
	seen  map[string]int // "METHOD path" → calls
}

func (s *fipsSimSpy) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		s.mu.Lock()
		s.auth[r.Header.Get("Authorization")] = true
		s.seen[r.Method+" "+r.URL.Path]++
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (s *fipsSimSpy) count(route string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.seen[route] }

func startCompatFIPS(t *testing.T, log io.Writer) (*fipsSimSpy, *fipsGateway) {
	t.Helper()
	spy := &fipsSimSpy{auth: map[string]bool{}, seen: map[string]int{}}
	_, g := startFIPSWith(t, fipsOptions{wrapSim: spy.wrap, log: log})
	return spy, g
}

// native sends a request as a client written for FIPS sends it: the key
// raw in Authorization, to base+path.
func native(t *testing.T, client *http.Client, base, key, method, path string, body io.Reader, contentType string, hdr ...string) fipsAnswer {
	t.Helper()
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return fipsAnswer{status: res.StatusCode, header: res.Header, body: b}
}

const compatFIPS = "/compat/fips"

func (g *fipsGateway) native(t *testing.T, key, method, path string, body io.Reader, contentType string, hdr ...string) fipsAnswer {
	t.Helper()
	return native(t, g.Client(), g.URL+compatFIPS, key, method, path, body, contentType, hdr...)
}

// direct sends the same request to the simulator itself, with alpha's FIPS key.
func (g *fipsGateway) direct(t *testing.T, method, path string, body io.Reader, contentType string) fipsAnswer {
	t.Helper()
	return native(t, http.DefaultClient, g.simURL+fipssim.Prefix, "demo-fips-key", method, path, body, contentType)
}

func sameAnswer(t *testing.T, what string, got, want fipsAnswer) {
	t.Helper()
	if got.status != want.status || !bytes.Equal(got.body, want.body) || got.header.Get("Content-Type") != want.header.Get("Content-Type") {
		t.Errorf("%s through /compat/fips = %d %q %s, want FIPS's own %d %q %s", what,
			got.status, got.header.Get("Content-Type"), got.body, want.status, want.header.Get("Content-Type"), want.body)
	}
}

// TestCompatFIPSClientWorkflow replays a client written for FIPS (create an
// application, create a document, upload its file multipart, list,
// download) against /compat/fips with a tenant key: every answer is the
// simulator's own for the same request, byte for byte; FIPS only ever sees
// the tenant's FIPS key; neither key reaches the log.
func TestCompatFIPSClientWorkflow(t *testing.T) {
	var logs syncBuffer
	spy, g := startCompatFIPS(t, &logs)

	create := g.native(t, fipsKeyAlpha, "POST", "/applications",
		strings.NewReader(`{"type":"TMApplication","category":`+mustJSON(fipsLegalCat)+`}`), "application/json").want(t, "POST /applications", 201)
	app := create.header.Get("Location")
	if !strings.HasPrefix(app, compatFIPS+"/applications/") {
		t.Fatalf("POST /applications Location = %q, want it under %s", app, compatFIPS)
	}
	appPath := strings.TrimPrefix(app, compatFIPS)
	sameAnswer(t, "GET "+appPath, g.native(t, fipsKeyAlpha, "GET", appPath, nil, ""), g.direct(t, "GET", appPath, nil, ""))

	doc := g.native(t, fipsKeyAlpha, "POST", appPath+"/documents", strings.NewReader(`{"type":"PowerOfAttorney"}`), "application/json").
		want(t, "POST documents", 201).header.Get("Location")
	docPath := strings.TrimPrefix(doc, compatFIPS)
	if docPath == doc {
		t.Fatalf("POST documents Location = %q, want it under %s", doc, compatFIPS)
	}
	content := []byte("%PDF-1.7 a scan of the power of attorney")
	body, ct := fipsMultipart(t, "poa.pdf", "application/pdf", content)
	put := g.native(t, fipsKeyAlpha, "PUT", docPath+"/file", body, ct).want(t, "PUT file", 200)
	sameAnswer(t, "GET "+docPath, g.native(t, fipsKeyAlpha, "GET", docPath, nil, ""), g.direct(t, "GET", docPath, nil, ""))
	if !bytes.Contains(put.body, []byte(`poa.pdf`)) {
		t.Errorf("PUT file = %s, want FIPS's document with the file name", put.body)
	}

	for _, path := range []string{"/applications", appPath + "/documents", "/dictionaries/document-types"} {
		sameAnswer(t, "GET "+path, g.native(t, fipsKeyAlpha, "GET", path, nil, ""), g.direct(t, "GET", path, nil, ""))
	}
	file := g.native(t, fipsKeyAlpha, "GET", docPath+"/file", nil, "").want(t, "GET file", 200)
	if !bytes.Equal(file.body, content) {
		t.Errorf("GET file = %q, want the uploaded %q", file.body, content)
	}
	sameAnswer(t, "GET file", file, g.direct(t, "GET", docPath+"/file", nil, ""))

	// An error answer of FIPS comes as FIPS sent it.
	bad := strings.NewReader(`{"type":"TMApplication","category":"no such category"}`)
	sameAnswer(t, "POST /applications (bad category)",
		g.native(t, fipsKeyAlpha, "POST", "/applications", bad, "application/json"),
		g.direct(t, "POST", "/applications", strings.NewReader(`{"type":"TMApplication","category":"no such category"}`), "application/json"))

	spy.mu.Lock()
	for auth := range spy.auth {
		if auth != "demo-fips-key" {
			t.Errorf("FIPS was sent Authorization %q, want only the tenant's FIPS key", auth)
		}
	}
	spy.mu.Unlock()
	if log := logs.String(); strings.Contains(log, fipsKeyAlpha) || strings.Contains(log, "demo-fips-key") || !strings.Contains(log, compatFIPS) {
		t.Errorf("the log names a key, or no /compat/fips request:\n%s", log)
	}
}

// TestCompatFIPSRefusals: a wrong key is 401 and an unknown route 404
// without reaching FIPS; another tenant's application answers exactly as a
// missing one (FIPS's 403 as 404), so ids cannot be enumerated.
func TestCompatFIPSRefusals(t *testing.T) {
	var logs syncBuffer
	spy, g := startCompatFIPS(t, &logs)
	var app struct {
		ID json.Number `json:"id"`
	}
	g.native(t, fipsKeyAlpha, "POST", "/applications",
		strings.NewReader(`{"type":"TMApplication","category":`+mustJSON(fipsLegalCat)+`}`), "application/json").want(t, "create", 201).decode(t, &app)

	before := spy.calls.Load()
	for _, tc := range []struct{ name, key, method, path string }{
		{"wrong key", "not-a-tenant-key", "GET", "/applications"},
		{"no key", "", "GET", "/applications"},
		{"the tenant's key as Bearer of another scheme", "Basic " + fipsKeyAlpha, "GET", "/applications"},
	} {
		a := g.native(t, tc.key, tc.method, tc.path, nil, "")
		if a.status != 401 || !strings.Contains(a.header.Get("Content-Type"), "json") || !bytes.Contains(a.body, []byte(`"message"`)) {
			t.Errorf("%s: %s %s = %d %s, want 401 in FIPS's error shape", tc.name, tc.method, tc.path, a.status, a.body)
		}
	}
	if a := g.native(t, fipsKeyAlpha, "GET", "/no/such/route", nil, ""); a.status != 404 {
		t.Errorf("GET /no/such/route = %d %s, want 404", a.status, a.body)
	}
	if a := g.native(t, fipsKeyAlpha, "PATCH", "/applications", nil, ""); a.status != 404 {
		t.Errorf("PATCH /applications (no such route) = %d %s, want 404", a.status, a.body)
	}
	if n := spy.calls.Load() - before; n != 0 {
		t.Errorf("refused requests reached FIPS %d times, want 0", n)
	}

	foreign := g.native(t, fipsKeyBeta, "GET", "/applications/"+app.ID.String(), nil, "")
	missing := g.native(t, fipsKeyBeta, "GET", "/applications/999999999", nil, "")
	if foreign.status != 404 || missing.status != 404 || !bytes.Equal(foreign.body, missing.body) {
		t.Errorf("another tenant's application = %d %s, a missing one = %d %s, want the same 404",
			foreign.status, foreign.body, missing.status, missing.body)
	}
	if strings.Contains(logs.String(), "not-a-tenant-key") || strings.Contains(logs.String(), fipsKeyBeta) {
		t.Errorf("the log names a key:\n%s", logs.String())
	}
}

// TestCompatFIPSIdempotentCreate: a create retried with its Idempotency-Key
// reaches FIPS once and replays the first answer.
func TestCompatFIPSIdempotentCreate(t *testing.T) {
	spy, g := startCompatFIPS(t, nil)
	body := `{"type":"TMApplication","category":` + mustJSON(fipsLegalCat) + `}`
	first := g.native(t, fipsKeyAlpha, "POST", "/applications", strings.NewReader(body), "application/json", "Idempotency-Key", "k-1").want(t, "create", 201)
	again := g.native(t, fipsKeyAlpha, "POST", "/applications", strings.NewReader(body), "application/json", "Idempotency-Key", "k-1").want(t, "create again", 201)
	if n := spy.count("POST " + fipssim.Prefix + "/applications"); n != 1 {
		t.Errorf("FIPS creates = %d, want 1", n)
	}
	if !bytes.Equal(first.body, again.body) || first.header.Get("Location") != again.header.Get("Location") || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry = %v %s, want the first answer (%v %s) replayed", again.header, again.body, first.header, first.body)
	}
	// Another tenant's same key is its own.
	g.native(t, fipsKeyBeta, "POST", "/applications", strings.NewReader(body), "application/json", "Idempotency-Key", "k-1").want(t, "beta create", 201)
	if n := spy.count("POST " + fipssim.Prefix + "/applications"); n != 2 {
		t.Errorf("FIPS creates after beta's = %d, want 2", n)
	}
}

// TestCompatFIPSStreaming uploads 20 MB through /compat/fips and downloads
// it, measured as TestFIPSStreamingRoundTrip measures /v1/fips: the content
// is never buffered.
func TestCompatFIPSStreaming(t *testing.T) {
	g := newFIPSGateway(t, startFIPSSimProcess(t), fipsOptions{})
	docPath := compatFIPS + strings.TrimPrefix(newFIPSDocument(t, g), "/v1/fips")
	const size = 20_000_000
	var status int
	var sent string
	up := fipsMeasure(func() { status, sent = fipsStreamUpload(t, g, docPath+"/file", size) })
	if status != 200 {
		t.Fatalf("PUT %s/file = %d, want 200", docPath, status)
	}
	h := sha256.New()
	var n int64
	var res *http.Response
	down := fipsMeasure(func() {
		req, _ := http.NewRequest("GET", g.URL+docPath+"/file", nil)
		req.Header.Set("Authorization", fipsKeyAlpha)
		var err error
		if res, err = g.Client().Do(req); err != nil {
			t.Fatal(err)
		}
		n, err = io.CopyBuffer(h, res.Body, make([]byte, 32<<10))
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("GET %s/file = %d, %v", docPath, res.StatusCode, err)
		}
	})
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != sent || n != size {
		t.Errorf("downloaded %d bytes sha256 %s, want %d bytes sha256 %s", n, got, size, sent)
	}
	if res.Header.Get("Content-Length") != fmt.Sprint(size) {
		t.Errorf("download Content-Length = %q, want %d", res.Header.Get("Content-Length"), size)
	}
	t.Logf("20 MB upload: %s; 20 MB download: %s", up, down)
	for dir, m := range map[string]fipsHeap{"upload": up, "download": down} {
		if m.growth > 2<<20 || m.allocated > 4<<20 {
			t.Errorf("%s: %s, want peak HeapInuse growth ≤ 2 MiB and TotalAlloc ≤ 4 MiB: content is being buffered", dir, m)
		}
	}
}

// TestCompatFIPSRevokedKey: FIPS's 401 for the tenant's FIPS key comes as
// FIPS sent it and is reported as a rejected credential.
func TestCompatFIPSRevokedKey(t *testing.T) {
	_, g := startCompatFIPS(t, nil)
	a := g.native(t, fipsKeyRevoked, "GET", "/applications", nil, "")
	want := g.direct(t, "GET", "/applications", nil, "")
	if a.status != 401 || want.status != 200 {
		t.Fatalf("GET /applications with a revoked FIPS key = %d %s, want 401", a.status, a.body)
	}
	if got := fipsCounter(t, g.reg, "gateway_credential_rejected_total", map[string]string{"upstream": "fips", "credential": "fips-revoked"}); got != 1 {
		t.Errorf("gateway_credential_rejected_total{fips,fips-revoked} = %v, want 1", got)
	}
}

// TestCompatFIPSOutcomeUnknown: FIPS cutting the connection of a create is
// a 502 in FIPS's error shape naming the request id; its Idempotency-Key
// then never runs the create again (409), and FIPS saw one create.
func TestCompatFIPSOutcomeUnknown(t *testing.T) {
	var creates atomic.Int64
	_, g := startFIPSWith(t, fipsOptions{wrapSim: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "POST" && r.URL.Path == fipssim.Prefix+"/applications" {
				creates.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				panic(http.ErrAbortHandler) // the request arrived; no answer comes back
			}
			next.ServeHTTP(w, r)
		})
	}})
	body := `{"type":"TMApplication","category":` + mustJSON(fipsLegalCat) + `}`
	first := g.native(t, fipsKeyAlpha, "POST", "/applications", strings.NewReader(body), "application/json", "Idempotency-Key", "cut-1")
	var failure struct{ Message string }
	if err := json.Unmarshal(first.body, &failure); err != nil || first.status != 502 || !strings.Contains(failure.Message, "request id "+first.header.Get("X-Request-ID")) {
		t.Errorf("a create FIPS cut off = %d %s, want 502 {\"message\"} naming the request id %q", first.status, first.body, first.header.Get("X-Request-ID"))
	}
	again := g.native(t, fipsKeyAlpha, "POST", "/applications", strings.NewReader(body), "application/json", "Idempotency-Key", "cut-1")
	if again.status != 409 || creates.Load() != 1 {
		t.Errorf("the retry = %d %s after %d FIPS creates, want 409 and 1 create", again.status, again.body, creates.Load())
	}
}
