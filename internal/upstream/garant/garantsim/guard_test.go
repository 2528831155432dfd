package garantsim

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	sim, ts := newTest(t)
	for _, h := range []string{"", "Bearer", "Bearer nope", "Basic " + DemoToken, DemoToken} {
		req, _ := http.NewRequest("GET", ts.URL+"/v2/limits", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		if r := send(t, ts.Client(), req); r.status != 401 || !strings.Contains(string(r.body), `"error"`) {
			t.Errorf("GET /v2/limits with Authorization %q = %d %s, want 401", h, r.status, r.body)
		}
	}
	// The limited tariff: 401 on what it lacks, while /v2/limits answers.
	if r := call(t, ts, "GET", "/v2/limits", DemoLimitedToken, nil); r.status != 200 {
		t.Errorf("GET /v2/limits (limited) = %d, want 200", r.status)
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/v2/sutyazhnik-search"}, {"GET", "/v2/topic/10103000/download"}, {"GET", "/v2/topic/10103000/html"},
		{"GET", "/v2/topic/10103000/entry/1/html"}, {"GET", "/v2/image/36576886"},
	} {
		var body any
		if c.method == "POST" {
			body = map[string]any{"text": "ндс", "count": 1, "kind": []string{"301"}}
		}
		if r := call(t, ts, c.method, c.path, DemoLimitedToken, body); r.status != 401 {
			t.Errorf("%s %s (limited) = %d, want 401", c.method, c.path, r.status)
		}
	}
	if r := call(t, ts, "GET", "/v2/topic/10103000", DemoLimitedToken, nil); r.status != 200 {
		t.Errorf("GET /v2/topic/10103000 (limited) = %d, want 200", r.status)
	}
	// Rejected calls are counted too.
	if got := sim.Kit.Calls.Get("GET /v2/limits"); got != 6 {
		t.Errorf("Calls.Get(GET /v2/limits) = %d, want 6", got)
	}
	if got := sim.Kit.Calls.Get("POST /v2/sutyazhnik-search"); got != 1 {
		t.Errorf("Calls.Get(POST /v2/sutyazhnik-search) = %d, want 1", got)
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	_, ts := newTest(t)
	body := `{"text":"налог","env":"internet","sort":0,"sortOrder":0}`
	tests := []struct {
		name, method, path, body, contentType, accept string
		want                                          int
	}{
		{"json", "POST", "/v2/search", body, "application/json", "application/json", 200},
		{"json charset", "POST", "/v2/search", body, "application/json; charset=utf-8", "*/*", 200},
		{"no content type", "POST", "/v2/search", body, "", "application/json", 400},
		{"text/plain", "POST", "/v2/search", body, "text/plain", "application/json", 400},
		{"no accept", "POST", "/v2/search", body, "application/json", "", 400},
		{"xml accept", "POST", "/v2/search", body, "application/json", "application/xml", 400},
		{"GET json accept html", "GET", "/v2/topic/10103000", "", "", "text/html", 400},
		{"GET json without accept", "GET", "/v2/limits", "", "", "", 200},
		{"file with json accept", "GET", "/v2/topic/10103000/download", "", "", "application/json", 200},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, ts.URL+tt.path, strings.NewReader(tt.body))
		req.Header.Set("Authorization", "Bearer "+DemoToken)
		if tt.contentType != "" {
			req.Header.Set("Content-Type", tt.contentType)
		}
		if tt.accept != "" {
			req.Header.Set("Accept", tt.accept)
		}
		if r := send(t, ts.Client(), req); r.status != tt.want {
			t.Errorf("%s %s (%s) = %d %s, want %d", tt.method, tt.path, tt.name, r.status, r.body, tt.want)
		}
	}
}

type limitsView map[string]int

func limitsOf(t *testing.T, r reply) limitsView {
	t.Helper()
	out := limitsView{}
	for _, l := range decode[[]limitItem](t, r) {
		out[l.Title] = l.Value
	}
	return out
}

func TestQuotaSpentUntilMoscowMonthEnds(t *testing.T) {
	t.Parallel()
	sim, ts := newTest(t)
	want := limitsView{FamilyHyperlinks: 1000, FamilyExport: 30, FamilyOnControl: 1000, FamilyBlocksOnControl: 1000, FamilyTopicInfo: 300}
	if diff := cmp.Diff(want, limitsOf(t, call(t, ts, "GET", "/v2/limits", DemoToken, nil))); diff != "" {
		t.Errorf("GET /v2/limits (-want +got):\n%s", diff)
	}
	// A failed call spends nothing; a successful one spends one unit.
	call(t, ts, "GET", "/v2/topic/1/download", DemoToken, nil)
	call(t, ts, "GET", "/v2/topic/10103000/html", DemoToken, nil)
	if got := limitsOf(t, call(t, ts, "GET", "/v2/limits", DemoToken, nil))[FamilyExport]; got != 29 {
		t.Errorf("export remaining after one 404 and one success = %d, want 29", got)
	}

	// 30 Nov 2026 23:59:59 in Moscow is 20:59:59 UTC.
	sim.Kit.Clock.Set(time.Date(2026, 11, 30, 20, 59, 58, 0, time.UTC))
	if err := sim.SetUsed(DemoToken, "topic/download", 29); err != nil {
		t.Fatal(err)
	}
	if r := call(t, ts, "GET", "/v2/topic/10103000/download-pdf", DemoToken, nil); r.status != 200 {
		t.Fatalf("30th export = %d, want 200", r.status)
	}
	for _, path := range []string{"/v2/topic/10103000/download", "/v2/image/36576886", "/v2/topic/1/html"} {
		if r := call(t, ts, "GET", path, DemoToken, nil); r.status != http.StatusLocked || !strings.Contains(string(r.body), `"error"`) {
			t.Errorf("GET %s after the family is spent = %d %s, want 423", path, r.status, r.body)
		}
	}
	if got := limitsOf(t, call(t, ts, "GET", "/v2/limits", DemoToken, nil))[FamilyExport]; got != 0 {
		t.Errorf("export remaining = %d, want 0", got)
	}
	if r := call(t, ts, "GET", "/v2/topic/10103000", DemoToken, nil); r.status != 200 {
		t.Errorf("other family after export is spent = %d, want 200", r.status)
	}
	sim.Kit.Clock.Advance(time.Second) // 23:59:59 Moscow
	if r := call(t, ts, "GET", "/v2/topic/10103000/download", DemoToken, nil); r.status != http.StatusLocked {
		t.Errorf("export one second before the Moscow month ends = %d, want 423", r.status)
	}
	sim.Kit.Clock.Advance(time.Second) // 1 Dec 00:00:00 Moscow, still 30 Nov in UTC
	if r := call(t, ts, "GET", "/v2/topic/10103000/download", DemoToken, nil); r.status != 200 {
		t.Errorf("export on the 1st of next month in Moscow = %d, want 200", r.status)
	}
	if got := limitsOf(t, call(t, ts, "GET", "/v2/limits", DemoToken, nil))[FamilyExport]; got != 29 {
		t.Errorf("export remaining in the new month = %d, want 29", got)
	}
	if got := sim.Used(DemoToken, FamilyExport); got != 1 {
		t.Errorf("Used(export) = %d, want 1", got)
	}
	if err := sim.SetUsed(DemoToken, "nope", 1); err == nil {
		t.Errorf("SetUsed(nope) = nil, want an error")
	}
}

func TestQuotaUnlimited(t *testing.T) {
	t.Parallel()
	sim, ts := newTest(t, func(c *Config) {
		c.Tokens = map[string]Token{"t": {Quotas: map[string]int{"find-hyperlinks": Unlimited, FamilyTopicInfo: 1}}}
	})
	_ = sim.SetUsed("t", FamilyHyperlinks, 50000)
	if r := call(t, ts, "POST", "/v2/find-hyperlinks", "t", map[string]string{"text": "статьей 15 ГК РФ", "baseUrl": "https://x"}); r.status != 200 {
		t.Errorf("find-hyperlinks on an unlimited tariff = %d, want 200", r.status)
	}
	call(t, ts, "GET", "/v2/topic/10103000", "t", nil)
	want := limitsView{FamilyHyperlinks: Unlimited, FamilyExport: Unlimited, FamilyOnControl: Unlimited, FamilyBlocksOnControl: Unlimited, FamilyTopicInfo: 0}
	if diff := cmp.Diff(want, limitsOf(t, call(t, ts, "GET", "/v2/limits", "t", nil))); diff != "" {
		t.Errorf("GET /v2/limits (-want +got):\n%s", diff)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	sim, ts := newTest(t, func(c *Config) { c.RatePerSecond = 5 })
	for i := range 5 {
		if r := call(t, ts, "GET", "/v2/prime", DemoToken, nil); r.status != 200 {
			t.Fatalf("request %d within the rate = %d, want 200", i+1, r.status)
		}
	}
	if r := call(t, ts, "GET", "/v2/limits", DemoToken, nil); r.status != http.StatusTooManyRequests {
		t.Errorf("6th request in one second = %d, want 429", r.status)
	}
	if r := call(t, ts, "GET", "/v2/limits", DemoLimitedToken, nil); r.status != 200 {
		t.Errorf("another token in the same second = %d, want 200", r.status)
	}
	sim.Kit.Clock.Advance(time.Second)
	if r := call(t, ts, "GET", "/v2/limits", DemoToken, nil); r.status != 200 {
		t.Errorf("request a second later = %d, want 200", r.status)
	}
	if got := sim.Kit.Calls.Get("GET /v2/limits"); got != 3 {
		t.Errorf("Calls.Get(GET /v2/limits) = %d, want 3 (the 429 counts)", got)
	}
	if DefaultConfig().RatePerSecond != 20 || New(Config{}).cfg.RatePerSecond != 20 {
		t.Errorf("default RatePerSecond, want 20")
	}
}
