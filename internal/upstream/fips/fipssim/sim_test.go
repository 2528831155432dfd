package fipssim

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

func TestCallCounters(t *testing.T) {
	sim, ts := start(t, testConfig())
	call(t, ts, "", "DELETE", "/_sim/calls", nil, "").want(t, "DELETE /_sim/calls", 204)
	id := newApp(t, ts, demoKey, "TMApplication")
	call(t, ts, demoKey, "GET", "/api/v1/applications/"+id, nil, "").want(t, "GET app", 200)
	call(t, ts, demoKey, "GET", "/api/v1/applications/"+id+"/documents/1/file", nil, "").want(t, "GET file", 404)
	call(t, ts, "", "GET", "/api/v1/dictionaries/document-types", nil, "").want(t, "GET dictionary without key", 401)
	call(t, ts, demoKey, "GET", "/api/v1/nowhere", nil, "").want(t, "GET unknown route", 404)
	sim.Kit.SetFault(&simkit.Fault{Status: http.StatusBadGateway, Remaining: 1})
	call(t, ts, demoKey, "GET", "/api/v1/applications/"+id, nil, "").want(t, "GET app under fault", 502)

	var got map[string]int
	call(t, ts, "", "GET", "/_sim/calls", nil, "").want(t, "GET /_sim/calls", 200).decode(t, &got)
	want := map[string]int{
		"POST /api/v1/applications":                            1,
		"GET /api/v1/applications/{id}":                        2,
		"GET /api/v1/applications/{id}/documents/{docId}/file": 1,
		"GET /api/v1/dictionaries/document-types":              1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET /_sim/calls mismatch (-want +got):\n%s", diff)
	}
	if n := sim.Kit.Calls.Get("GET /api/v1/applications/{id}"); n != 2 {
		t.Errorf(`Kit.Calls.Get("GET /api/v1/applications/{id}") = %d, want 2`, n)
	}
}

func TestFaults(t *testing.T) {
	_, ts := start(t, testConfig())
	fault := simkit.Fault{PathPrefix: "/api/v1/applications", Status: 503, Body: `{"message":"Технические работы"}`, Remaining: 2}
	body, _ := json.Marshal(fault)
	call(t, ts, "", "PUT", "/_sim/faults", body, "application/json").want(t, "PUT /_sim/faults", 204)
	call(t, ts, demoKey, "GET", "/api/v1/dictionaries/applicant-categories", nil, "").want(t, "GET outside the fault prefix", 200)
	for i := range 2 {
		r := call(t, ts, demoKey, "GET", "/api/v1/applications", nil, "").want(t, "GET under fault", 503)
		if string(r.body) != fault.Body || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("faulted answer %d = %q %s, want the fault body as JSON", i, r.header.Get("Content-Type"), r.body)
		}
	}
	call(t, ts, demoKey, "GET", "/api/v1/applications", nil, "").want(t, "GET after the fault ran out", 200)

	// Fault.Latency is a time.Duration: JSON nanoseconds, not "50ms".
	call(t, ts, "", "PUT", "/_sim/faults", []byte(`{"latency":50000000}`), "application/json").want(t, "PUT latency fault", 204)
	start := time.Now()
	call(t, ts, demoKey, "GET", "/api/v1/applications", nil, "").want(t, "GET with latency", 200)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("GET with a 50 ms latency fault took %v, want at least 50ms", d)
	}
	call(t, ts, "", "PUT", "/_sim/faults", []byte(`{"malformed":true}`), "application/json").want(t, "PUT malformed fault", 204)
	r := call(t, ts, demoKey, "GET", "/api/v1/applications", nil, "").want(t, "GET malformed", 200)
	if json.Valid(r.body) {
		t.Errorf("malformed fault body %s is valid JSON", r.body)
	}
	call(t, ts, "", "DELETE", "/_sim/faults", nil, "").want(t, "DELETE /_sim/faults", 204)
	call(t, ts, demoKey, "GET", "/api/v1/applications", nil, "").want(t, "GET after clearing", 200)
}

func TestSimClock(t *testing.T) {
	_, ts := start(t, testConfig())
	call(t, ts, "", "PUT", "/_sim/clock", []byte(`{"now":"2027-01-01T00:00:00Z"}`), "application/json").want(t, "PUT /_sim/clock", 204)
	var a applicationView
	call(t, ts, demoKey, "POST", "/api/v1/applications", map[string]string{"type": "UsefulModel", "category": legalCat}, "").
		want(t, "POST /applications", 201).decode(t, &a)
	if got := a.CreatedAt.Format(time.RFC3339); got != "2027-01-01T03:00:00+03:00" {
		t.Errorf("createdAt under the simulated clock = %s, want 2027-01-01T03:00:00+03:00", got)
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	list := func() string {
		_, ts := start(t, DefaultConfig())
		r := call(t, ts, demoKey, "GET", "/api/v1/applications", nil, "").want(t, "GET /applications", 200)
		return string(r.body)
	}
	if a, b := list(), list(); a != b {
		t.Errorf("two simulators with the same seed differ:\n%s\n%s", a, b)
	}
}
