package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

// simAnswer is what the Garant simulator itself answers a request with the
// demo token: the bytes a client written for Garant reads.
func simAnswer(t *testing.T, env *garantEnv, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, env.simURL+path, rd)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+garantsim.DemoToken)
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(t, err)
	return res.StatusCode, b
}

// compat sends a request in Garant's shape, as a client written for Garant
// sends it, with a tenant key in place of the Garant token.
func compat(t *testing.T, env *garantEnv, method, path, key, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, env.URL+"/compat/garant"+path, rd)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := env.Client().Do(req)
	must(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(t, err)
	return res.StatusCode, res.Header, b
}

// TestGarantCompatAnswersAsGarant replays public client shapes of every
// Garant method against /compat/garant and compares the answers byte for
// byte with what the simulator answers the same request.
func TestGarantCompatAnswersAsGarant(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	from := time.Now().AddDate(0, 0, -5).Format(time.DateOnly)
	topic := garantsim.TopicCivilCode
	cases := []struct{ method, path, body string }{
		// The search body public clients send: sort and sortOrder spelled out, 0 included.
		{"POST", "/v2/search", `{"text":"трудовой кодекс","page":1,"env":"internet","sort":0,"sortOrder":0}`},
		{"POST", "/v2/search", `{"text":"MorphoName(гражданский кодекс)","isQuery":true,"page":2,"env":"internet","sort":1,"sortOrder":1}`},
		{"POST", "/v2/snippets", fmt.Sprintf(`{"topic":%d,"text":"возмещение убытков"}`, topic)},
		{"POST", "/v2/find-hyperlinks", `{"text":"статья 15 ГК РФ","baseUrl":"https://internet.garant.ru"}`},
		{"GET", fmt.Sprintf("/v2/topic/%d", topic), ""},
		{"GET", fmt.Sprintf("/v2/topic/%d/html", topic), ""},
		{"GET", fmt.Sprintf("/v2/topic/%d/entry/15/html", topic), ""},
		{"GET", fmt.Sprintf("/v2/topic/%d/download-pdf", topic), ""},
		{"GET", fmt.Sprintf("/v2/topic/%d/download", topic), ""},
		{"GET", fmt.Sprintf("/v2/redactions/%d", topic), ""},
		{"POST", "/v2/find-modified", fmt.Sprintf(`{"topics":[%d],"modDate":"2020-01-01","needEvents":true}`, topic)},
		{"GET", "/v2/prime", ""},
		{"POST", "/v2/prime/create-news", fmt.Sprintf(`{"categories":[1008],"fromDate":%q}`, from)},
		{"POST", "/v2/sutyazhnik-search", `{"text":"взыскание неустойки по договору поставки","count":2,"kind":["301","302"]}`},
		{"GET", "/v2/limits", ""},
	}
	for _, tc := range cases {
		status, h, got := compat(t, env, tc.method, tc.path, keyAlpha, tc.body)
		wantStatus, want := simAnswer(t, env, tc.method, tc.path, tc.body)
		if status != wantStatus || !bytes.Equal(got, want) {
			t.Errorf("%s %s = %d %.300s\nwant %d %.300s (the simulator's own answer)", tc.method, tc.path, status, got, wantStatus, want)
		}
		if h.Get("X-Request-ID") == "" {
			t.Errorf("%s %s: no X-Request-ID", tc.method, tc.path)
		}
	}
}

// TestGarantCompatSharesCacheAndQuota: /v1 and /compat are one budget and
// one cache: a /compat request after a /v1 miss is a hit that spends
// nothing and calls Garant no more, and so is a /v1 request after a /compat
// miss.
func TestGarantCompatSharesCacheAndQuota(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	topics := env.sim.Topics()
	calls := func() int { return env.sim.Kit.Calls.Get("GET /v2/topic/{topic}") }

	v1 := fmt.Sprintf("/v1/garant/topics/%d", topics[0])
	if status, h, _ := env.send(t, "GET", v1, keyAlpha, nil); status != 200 || h.Get("RateLimit") == "" {
		t.Fatalf("GET %s = %d (RateLimit %q), want 200 and a metered call", v1, status, h.Get("RateLimit"))
	}
	status, h, _ := compat(t, env, "GET", fmt.Sprintf("/v2/topic/%d", topics[0]), keyAlpha, "")
	if status != 200 || !strings.HasPrefix(h.Get("Cache-Status"), "legalgate; hit") || h.Get("RateLimit") != "" {
		t.Errorf("/compat after a /v1 miss = %d, Cache-Status %q, RateLimit %q; want a hit that spends nothing", status, h.Get("Cache-Status"), h.Get("RateLimit"))
	}
	if got := calls(); got != 1 {
		t.Errorf("Garant calls after /v1 then /compat = %d, want 1", got)
	}

	status, h, _ = compat(t, env, "GET", fmt.Sprintf("/v2/topic/%d", topics[1]), keyAlpha, "")
	if status != 200 || h.Get("RateLimit") == "" {
		t.Errorf("/compat miss = %d (RateLimit %q), want 200 and a metered call", status, h.Get("RateLimit"))
	}
	v1 = fmt.Sprintf("/v1/garant/topics/%d", topics[1])
	if status, h, _ := env.send(t, "GET", v1, keyAlpha, nil); status != 200 || h.Get("RateLimit") != "" {
		t.Errorf("/v1 after a /compat miss = %d (RateLimit %q), want 200 and nothing spent", status, h.Get("RateLimit"))
	}
	if got := calls(); got != 2 {
		t.Errorf("Garant calls after /compat then /v1 = %d, want 2 in all", got)
	}
	if got := topicInfoUsed(t, env); got != 2 {
		t.Errorf("topic_info used = %d, want 2 (one per document, whichever route asked)", got)
	}
}

// topicInfoUsed is the credential's monthly topic_info units spent.
func topicInfoUsed(t *testing.T, env *garantEnv) int64 {
	t.Helper()
	rows, err := env.Deps.Quotas.Quota.Usage(context.Background(), "alpha", map[string]string{"garant": "garant-test"})
	must(t, err)
	for _, u := range rows {
		if u.Family == quota.FamilyTopicInfo && u.Scope == quota.ScopeCredential && u.Period == quota.PeriodMonth {
			return u.Used
		}
	}
	t.Fatal("no monthly topic_info quota")
	return 0
}

// TestGarantCompatErrors: errors come as Garant's (its status codes, a
// JSON error body): 423 once a family is spent, and from then on without
// calling Garant; 401 for an unknown key; 400 before anything is sent; 404
// outside Garant's routes. The tenant key is in no log line.
func TestGarantCompatErrors(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	must(t, env.sim.SetUsed(garantsim.DemoToken, garantsim.FamilyTopicInfo, 1<<20))
	path := fmt.Sprintf("/v2/topic/%d", garantsim.TopicCivilCode)
	for i := range 2 {
		status, h, body := compat(t, env, "GET", path, keyAlpha, "")
		var e struct{ Error string }
		if status != http.StatusLocked || json.Unmarshal(body, &e) != nil || e.Error == "" || h.Get("RateLimit") == "" {
			t.Errorf("GET %s on a spent family (try %d) = %d %s (RateLimit %q), want 423 with an error and RateLimit", path, i+1, status, body, h.Get("RateLimit"))
		}
	}
	if got := env.sim.Kit.Calls.Get("GET /v2/topic/{topic}"); got != 1 {
		t.Errorf("Garant calls = %d, want 1 (the spent family is refused before the call)", got)
	}
	for _, tc := range []struct {
		method, path, key, body string
		want                    int
	}{
		{"GET", path, "not-a-tenant-key", "", 401},
		{"POST", "/v2/search", keyAlpha, `{"text":"","env":"internet"}`, 400},
		{"POST", "/v2/search", keyAlpha, `{"text":"кодекс","env":"moon"}`, 400},
		{"GET", "/v2/nowhere", keyAlpha, "", 404},
	} {
		before := env.sim.Kit.Calls.Get("POST /v2/search")
		status, _, body := compat(t, env, tc.method, tc.path, tc.key, tc.body)
		var e struct{ Error string }
		if status != tc.want || json.Unmarshal(body, &e) != nil || e.Error == "" {
			t.Errorf("%s %s = %d %s, want %d with a JSON error", tc.method, tc.path, status, body, tc.want)
		}
		if env.sim.Kit.Calls.Get("POST /v2/search") != before {
			t.Errorf("%s %s reached Garant", tc.method, tc.path)
		}
	}
	// A rate is a 429 whatever refuses it, never the 423 of a spent month:
	// Garant's own 429, still there after the guard's retries.
	env.sim.Kit.SetFault(&simkit.Fault{Status: http.StatusTooManyRequests, PathPrefix: "/v2/prime"})
	status, h, body := compat(t, env, "GET", "/v2/prime", keyAlpha, "")
	env.sim.Kit.SetFault(nil)
	var e struct{ Error string }
	if status != http.StatusTooManyRequests || json.Unmarshal(body, &e) != nil || e.Error == "" || h.Get("Retry-After") == "" {
		t.Errorf("GET /v2/prime while Garant answers 429 = %d %s (Retry-After %q), want 429 with an error and Retry-After", status, body, h.Get("Retry-After"))
	}
	if strings.Contains(env.Logs.String(), keyAlpha) {
		t.Errorf("a log line holds the tenant key: %s", env.Logs.String())
	}
}
