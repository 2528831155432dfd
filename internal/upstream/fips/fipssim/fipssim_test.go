package fipssim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const (
	demoKey  = "demo-fips-key"
	demoKey2 = "demo-fips-key-2"
	trustee  = "trustee-key"
	stranger = "stranger-key"
	legalCat = `Юридическое лицо\Российская организация\Коммерческая организация`
)

// testConfig is DefaultConfig plus a trustee of demo-fips-key and a stranger.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Keys = append(cfg.Keys, trustee, stranger)
	cfg.Trustees[trustee] = []string{demoKey}
	return cfg
}

// start serves a simulator for cfg over real HTTP with its clock fixed.
func start(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	sim := New(cfg)
	sim.Kit.Clock.Set(time.Date(2026, time.March, 2, 9, 30, 0, 0, time.UTC))
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return sim, ts
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// call sends one request; body may be nil, []byte, io.Reader or a value to JSON-encode.
func call(t *testing.T, ts *httptest.Server, key, method, path string, body any, contentType string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, contentType = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return reply{resp.StatusCode, resp.Header, data}
}

// want fails unless r has status; it returns r for chaining.
func (r reply) want(t *testing.T, op string, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s = %d %s, want %d", op, r.status, r.body, status)
	}
	return r
}

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errorCodes returns the ФЛК codes of an error body.
func (r reply) errorCodes(t *testing.T) []string {
	t.Helper()
	var e apiError
	r.decode(t, &e)
	if e.Message == "" {
		t.Errorf("error body %s has no message", r.body)
	}
	var codes []string
	for _, fe := range e.Errors {
		codes = append(codes, fe.Code+" "+fe.Field)
	}
	return codes
}

func TestAuthorization(t *testing.T) {
	_, ts := start(t, testConfig())
	paths := []string{"/api/v1/applications", "/api/v1/dictionaries/applicant-categories", "/api/v1/applications/1/documents"}
	for _, p := range paths {
		for _, key := range []string{"", "nope", "Bearer " + demoKey} {
			r := call(t, ts, key, "GET", p, nil, "")
			if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("Content-Type"), "json") {
				t.Errorf("GET %s with key %q = %d %q, want 401 JSON", p, key, r.status, r.header.Get("Content-Type"))
			}
		}
	}
	call(t, ts, demoKey, "GET", "/api/v1/applications", nil, "").want(t, "GET /applications with a raw key", http.StatusOK)
}

func TestDictionaries(t *testing.T) {
	_, ts := start(t, testConfig())
	var cats []category
	call(t, ts, demoKey2, "GET", "/api/v1/dictionaries/applicant-categories", nil, "").want(t, "categories", 200).decode(t, &cats)
	if len(cats) == 0 || cats[0].Name != legalCat || cats[0].Description == "" {
		t.Errorf("categories[0] = %+v, want %q with a description", cats, legalCat)
	}
	var own []map[string]string
	call(t, ts, demoKey2, "GET", "/api/v1/dictionaries/applicant-document-types", nil, "").want(t, "applicant types", 200).decode(t, &own)
	if len(own) == 0 || own[0]["name"] == "" || own[0]["description"] == "" || len(own[0]) != 2 {
		t.Errorf("applicant-document-types = %v, want {name, description} items", own)
	}
	var common []map[string]string
	call(t, ts, demoKey2, "GET", "/api/v1/dictionaries/document-types", nil, "").want(t, "document types", 200).decode(t, &common)
	codes := map[string]bool{}
	for _, tpl := range common {
		codes[tpl["code"]] = true
	}
	for _, code := range []string{"TradeMark", "AppellationOrigin", "AppellationOriginUsage", "GeoIndication", "GeoIndicationUsage", "Invention", "UsefulModel", "PowerOfAttorney", "PaymentDocument", "Image"} {
		if !codes[code] {
			t.Errorf("document-types lacks code %q", code)
		}
	}
}

func TestEmptyKeyNeverAuthorizes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Keys = append(cfg.Keys, "", " ")
	_, ts := start(t, cfg)
	call(t, ts, "", "GET", "/api/v1/applications", nil, "").want(t, "GET /applications without a key", http.StatusUnauthorized)
}
