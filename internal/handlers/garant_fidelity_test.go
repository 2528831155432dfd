package handlers_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

// TestGarantForbidden: Garant's 403 (the credential lacks the permission,
// per method or per document) is a 403 problem naming the Garant method
// and the credential, spends no quota and is counted in the credential
// metrics.
func TestGarantForbidden(t *testing.T) {
	cfg := simConfig()
	tok := cfg.Tokens[garantsim.DemoToken]
	tok.Denied = []string{"search"}
	tok.DeniedTopics = []int{garantsim.TopicCivilCode}
	cfg.Tokens[garantsim.DemoToken] = tok
	env := newGarantEnv(t, cfg, nil)

	denied := func(method string) float64 {
		return fipsCounter(t, env.Deps.Registry, "gateway_credential_denied_total",
			map[string]string{"upstream": "garant", "credential": "garant-test", "method": method})
	}
	cases := []struct {
		name, method, path string
		body               any
		permission         string
		family             string // metered family whose units must come back
	}{
		{"search (method)", "POST", "/v1/garant/search", map[string]any{"text": "налог", "env": "internet"}, "search", ""},
		{"topic info (document)", "GET", fmt.Sprintf("/v1/garant/topics/%d", garantsim.TopicCivilCode), nil, "topic", quota.FamilyTopicInfo},
		{"export (document)", "GET", fmt.Sprintf("/v1/garant/topics/%d/export/pdf", garantsim.TopicCivilCode), nil, "topic/download-pdf", quota.FamilyExport},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before int64
			if tc.family != "" {
				before = credentialUsed(t, env, tc.family)
			}
			counted := denied(tc.permission)
			status, h, body := env.send(t, tc.method, tc.path, keyAlpha, tc.body)
			if status != 403 {
				t.Fatalf("%s %s = %d, want 403; body %s", tc.method, tc.path, status, body)
			}
			p := problemOf(t, status, h, body)
			var ext struct {
				Permission string `json:"permission"`
				Credential string `json:"credential"`
			}
			must(t, json.Unmarshal(body, &ext))
			if !strings.HasSuffix(p.Type, "/upstream-permission-denied") || p.Upstream != "garant" ||
				ext.Permission != tc.permission || ext.Credential != "garant-test" ||
				!strings.Contains(p.Detail, tc.permission) || !strings.Contains(p.Detail, "garant-test") {
				t.Errorf("problem %s, want upstream-permission-denied naming %q and credential garant-test", body, tc.permission)
			}
			if got := denied(tc.permission) - counted; got != 1 {
				t.Errorf("gateway_credential_denied_total{method=%q} rose by %v, want 1", tc.permission, got)
			}
			if tc.family != "" {
				if got := credentialUsed(t, env, tc.family) - before; got != 0 {
					t.Errorf("%s units kept after a 403 = %d, want 0 (refunded)", tc.family, got)
				}
			}
		})
	}
	if status, _, body := env.send(t, "GET", fmt.Sprintf("/v1/garant/topics/%d", garantsim.TopicConstitution), keyAlpha, nil); status != 200 {
		t.Errorf("topic info of a permitted document = %d, want 200; %s", status, body)
	}
}

// TestGarantTopicInfoWithoutAccess: the document's example of topic info
// has no "access"; the answer leaves it out instead of sending an empty
// string outside its enum.
func TestGarantTopicInfoWithoutAccess(t *testing.T) {
	cfg := simConfig()
	cfg.OmitAccess = true
	env := newGarantEnv(t, cfg, nil)
	status, _, body := env.send(t, "GET", fmt.Sprintf("/v1/garant/topics/%d", garantsim.TopicMinWageResolution), keyAlpha, nil)
	if status != 200 {
		t.Fatalf("topic info = %d; %s", status, body)
	}
	var m map[string]any
	must(t, json.Unmarshal(body, &m))
	if v, ok := m["access"]; ok {
		t.Errorf("topic info without Garant's access has \"access\": %q, want it absent", v)
	}
	if m["name"] == "" || m["topic"] != float64(garantsim.TopicMinWageResolution) {
		t.Errorf("topic info = %s, want the document", body)
	}
}

// TestGarantTextLimitsInBytes: Garant's 16 KB search limit counts bytes of
// UTF-8; Cyrillic text over it is refused naming the field and never
// reaches Garant, text under it (in bytes) is sent.
func TestGarantTextLimitsInBytes(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	long := strings.Repeat("я", 8200) // 8,200 characters, 16,400 bytes
	cases := []struct {
		name, path string
		body       map[string]any
	}{
		{"search", "/v1/garant/search", map[string]any{"text": long, "env": "internet"}},
		{"snippets", "/v1/garant/snippets", map[string]any{"topic": garantsim.TopicTaxCode, "text": long}},
	}
	for _, tc := range cases {
		status, h, body := env.send(t, "POST", tc.path, keyAlpha, tc.body)
		if status != 400 {
			t.Errorf("%s with %d characters (%d bytes) = %d, want 400; %s", tc.name, len([]rune(long)), len(long), status, body)
			continue
		}
		if p := problemOf(t, status, h, body); len(p.Errors) != 1 || p.Errors[0].Field != "body.text" || !strings.Contains(p.Errors[0].Message, "bytes") {
			t.Errorf("%s: problem %s, want one error naming body.text in bytes", tc.name, body)
		}
	}
	if n := env.sim.Kit.Calls.Total(); n != 0 {
		t.Errorf("over-long text reached Garant %d times", n)
	}
	fits := strings.Repeat("я", 8190) // 16,380 bytes
	if status, _, body := env.send(t, "POST", "/v1/garant/search", keyAlpha, map[string]any{"text": fits, "env": "internet"}); status != 200 {
		t.Errorf("search with %d bytes = %d, want 200; %s", len(fits), status, body)
	}
}

// TestGarantUnparsedKeptRaw: an event or edition date the gateway cannot
// read is passed on raw and counted, never dropped or turned into an open
// period.
func TestGarantUnparsedKeptRaw(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	unparsed := func(op, field string) float64 {
		return fipsCounter(t, env.Deps.Registry, "gateway_upstream_unparsed_values_total",
			map[string]string{"upstream": "garant", "operation": op, "field": field})
	}

	env.sim.Kit.SetFault(&simkit.Fault{Status: 200, PathPrefix: "/v2/find-modified",
		Body: `{"topics":[{"topic":77682742,"modStatus":1,"events":[{"date":"2010-03-30","type":4},{"date":"30.03.2013","type":5}]}]}`})
	status, _, body := env.send(t, "POST", "/v1/garant/monitoring/documents", keyAlpha,
		map[string]any{"topics": []int{77682742}, "modDate": "2019-07-01", "needEvents": true})
	env.sim.Kit.SetFault(nil)
	if status != 200 {
		t.Fatalf("find-modified = %d; %s", status, body)
	}
	var mod struct {
		Topics []struct {
			Events []map[string]any `json:"events"`
		} `json:"topics"`
	}
	must(t, json.Unmarshal(body, &mod))
	if len(mod.Topics) != 1 || len(mod.Topics[0].Events) != 2 ||
		mod.Topics[0].Events[0]["date"] != "2010-03-30" || mod.Topics[0].Events[1]["date_raw"] != "30.03.2013" || mod.Topics[0].Events[1]["type"] != 5.0 {
		t.Errorf("find-modified = %s, want both events, the second with date_raw 30.03.2013", body)
	}
	if got := unparsed("garantFindModified", "events.date"); got != 1 {
		t.Errorf("unparsed events.date = %v, want 1", got)
	}

	env.sim.Kit.SetFault(&simkit.Fault{Status: 200, PathPrefix: "/v2/redactions/",
		Body: `[{"status":"rs_Actual","topic":10103000,"changingDocuments":[],"activity":[{"from":"04.07.2020","to":"по настоящее время"}],"notSure":[{"from":"1 июля 2020","text":"?"}]}]`})
	status, _, body = env.send(t, "GET", "/v1/garant/topics/10103000/editions", keyAlpha, nil)
	env.sim.Kit.SetFault(nil)
	if status != 200 {
		t.Fatalf("editions = %d; %s", status, body)
	}
	var eds struct {
		Editions []struct {
			Activity []map[string]any `json:"activity"`
			NotSure  []map[string]any `json:"notSure"`
		} `json:"editions"`
	}
	must(t, json.Unmarshal(body, &eds))
	if len(eds.Editions) != 1 {
		t.Fatalf("editions = %s", body)
	}
	a, n := eds.Editions[0].Activity[0], eds.Editions[0].NotSure[0]
	if a["from"] != "2020-07-04" || a["to"] != nil || a["to_raw"] != "по настоящее время" || n["from_raw"] != "1 июля 2020" || n["from"] != nil {
		t.Errorf("editions = %s, want to_raw and from_raw kept, the readable date converted", body)
	}
	if unparsed("garantGetTopicEditions", "activity.to") != 1 || unparsed("garantGetTopicEditions", "notSure.from") != 1 {
		t.Errorf("unparsed edition dates not counted")
	}
}

// TestGarantHyperlinksLimitInBytes: Garant takes up to 20 MB (20,971,520
// bytes of UTF-8) of text to link; a text of exactly that size reaches
// Garant whole although its JSON body is larger, and one byte more is
// refused naming body.text in bytes, never sent. (Garant is a stub that
// reads the text: the simulator's linker takes long over 20 MB.)
func TestGarantHyperlinksLimitInBytes(t *testing.T) {
	var got struct {
		sync.Mutex
		calls, text int
	}
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v2/limits" {
			_, _ = io.WriteString(w, "[]")
			return
		}
		var in struct{ Text string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		got.Lock()
		got.calls, got.text = got.calls+1, len(in.Text)
		got.Unlock()
		_, _ = io.WriteString(w, `{"text":"ok"}`)
	}))
	t.Cleanup(stub.Close)
	env := newGarantEnv(t, simConfig(), func(d *handlers.Deps) {
		d.Garant = garantDeps(t, d.Redis, prometheus.NewRegistry(), stub.URL)
	})
	const limit = 20 << 20
	// Cyrillic (2 bytes a letter) with quotes and a line break, which JSON
	// writes as two bytes each: 48 bytes of text, 51 in JSON.
	unit := "Статья 5 «Закона» \"о связи\"\n"
	fits := strings.Repeat(unit, limit/len(unit))
	fits += strings.Repeat("x", limit-len(fits))
	over := fits + "x"
	status, h, body := env.send(t, "POST", "/v1/garant/hyperlinks", keyAlpha, map[string]any{"text": over, "baseUrl": "https://internet.garant.ru"})
	if status != 400 {
		t.Fatalf("hyperlinks with %d bytes of text = %d, want 400; %.300s", len(over), status, body)
	}
	if p := problemOf(t, status, h, body); len(p.Errors) != 1 || p.Errors[0].Field != "body.text" || !strings.Contains(p.Errors[0].Message, "bytes") {
		t.Errorf("problem %s, want one error naming body.text in bytes", body)
	}
	status, _, body = env.send(t, "POST", "/v1/garant/hyperlinks", keyAlpha, map[string]any{"text": fits, "baseUrl": "https://internet.garant.ru"})
	if status != 200 {
		t.Errorf("hyperlinks with %d bytes of text (Garant's limit) = %d, want 200; %.300s", len(fits), status, body)
	}
	got.Lock()
	defer got.Unlock()
	if got.calls != 1 || got.text != limit {
		t.Errorf("Garant got %d calls, the last with %d bytes of text; want one, with %d", got.calls, got.text, limit)
	}
}
