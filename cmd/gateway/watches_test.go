package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/webhooks/webhookstest"
)

// The demo tenants' signing secrets.
var watchSecrets = map[string]string{
	"alpha": config.DemoWebhookSecretAlpha,
	"beta":  config.DemoWebhookSecretBeta,
}

// send makes a request with a tenant key and answers its status, headers
// and body.
func send(t *testing.T, method, url, key, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// The end-to-end for watches, through run(): two services (tenants)
// watch the same law and one of its articles; each round costs one
// find-modified and one block-on-control call for both; when the article
// changes both get signed deliveries of both events, the cached document
// is purged (the next read is a miss with the new content), and
// /v1/quotas and the ledger show exactly the calls made. Deleting the
// watches leaves no state behind.
func TestGarantWatchesThroughRun(t *testing.T) {
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	simCfg := garantsim.DefaultConfig()
	simCfg.RatePerSecond = 10000
	sim := garantsim.New(simCfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	rc := webhookstest.NewReceiver(t, nil)
	const interval = 2 * time.Second
	cfg := fmt.Sprintf(`
redis: {url: %q}
credentials:
  garant-main:
    upstream: garant
    secret: demo-garant-token
    limits: [{family: links_control, period: month, limit: 100000000}, {family: topic_info, period: month, limit: 300}]
tenants:
  alpha:
    keys_sha256: [%s]
    credentials: {garant: garant-main}
    webhooks: {secrets: [%q], allow: ["http://127.0.0.1:*/hooks/"], allow_private: true}
  beta:
    keys_sha256: [%s]
    credentials: {garant: garant-main}
    webhooks: {secrets: [%q], allow: ["http://127.0.0.1:*/hooks/"], allow_private: true}
upstreams:
  garant: {base_url: %q}
watches: {tick: 100ms, min_interval: 1s}
`, rs.URL(), config.HashKey("alpha-key"), watchSecrets["alpha"], config.HashKey("beta-key"), watchSecrets["beta"], srv.URL)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _ := startGateway(t, []string{"-config", path}, nil)
	keys := map[string]string{"alpha": "alpha-key", "beta": "beta-key"}

	law, article := garantsim.TopicLabourCode, 81
	fragment := fmt.Sprintf("https://internet.garant.ru/#/document/%d/entry/%d", law, article)
	topicPath := fmt.Sprintf("%s/v1/garant/topics/%d", base, law)
	if status, h, body := send(t, "GET", topicPath, keys["alpha"], ""); status != 200 || h.Get("Cache-Status") == "legalgate; hit" {
		t.Fatalf("GET the law = %d %q %.200s, want 200 from Garant", status, h.Get("Cache-Status"), body)
	}
	if status, h, _ := send(t, "GET", topicPath, keys["beta"], ""); status != 200 || h.Get("Cache-Status") != "legalgate; hit" {
		t.Fatalf("GET the law again = %d %q, want a hit", status, h.Get("Cache-Status"))
	}

	created := time.Now()
	ids := map[string]string{}
	for _, tn := range []string{"alpha", "beta"} {
		key := keys[tn]
		if tn == "beta" {
			time.Sleep(interval / 3) // the second service subscribes later: its watch joins the same schedule
		}
		status, _, body := send(t, "POST", base+"/v1/garant/watches", key, fmt.Sprintf(
			`{"topics":[%d],"fragments":[%q],"callback_url":%q,"interval_seconds":%d}`, law, fragment, rc.URL+"/hooks/"+tn, int(interval/time.Second)))
		var w struct{ ID string }
		if status != 201 || json.Unmarshal(body, &w) != nil || w.ID == "" {
			t.Fatalf("POST a watch as %s = %d %s, want 201", tn, status, body)
		}
		ids[tn] = w.ID
	}
	// Rounds go on, one per slot of the interval, each checking both
	// watches in one call of each kind.
	for deadline := time.Now().Add(30 * time.Second); sim.Kit.Calls.Get("POST /v2/find-modified") < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no two rounds within 30s")
		}
	}
	if err := sim.ChangeFragment(law, article, time.Now()); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for range 4 {
		r := rc.Next(t)
		tn := strings.TrimPrefix(r.Path, "/hooks/")
		if err := webhookstest.Verify(watchSecrets[tn], r.Header, r.Body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("delivery to %s: Verify = %v", tn, err)
		}
		var msg struct {
			Type string
			Data struct {
				WatchID string `json:"watch_id"`
				Topic   int
				URL     string
				Changed string
			}
		}
		if err := json.Unmarshal(r.Body, &msg); err != nil || msg.Data.WatchID != ids[tn] || msg.Data.Topic != law ||
			(msg.Type == "garant.fragment.changed") != (msg.Data.URL == fragment) {
			t.Errorf("delivery to %s = %s, want a change of the law or its article for its watch", tn, r.Body)
		}
		if got[tn+" "+msg.Type] {
			t.Errorf("%s told twice of %s", tn, msg.Type)
		}
		got[tn+" "+msg.Type] = true
	}
	for _, want := range []string{"alpha garant.document.changed", "alpha garant.fragment.changed", "beta garant.document.changed", "beta garant.fragment.changed"} {
		if !got[want] {
			t.Errorf("deliveries %v lack %s", got, want)
		}
	}
	status, h, body := send(t, "GET", topicPath, keys["beta"], "")
	today := `"last_modified":"` + time.Now().In(moscowLoc(t)).Format("2.1.2006") + `"`
	if status != 200 || h.Get("Cache-Status") == "legalgate; hit" || !strings.Contains(string(body), today) {
		t.Errorf("GET the law after the change = %d %q %.300s, want a miss showing the change of %s", status, h.Get("Cache-Status"), body, today)
	}
	if n := sim.Kit.Calls.Get("GET /v2/topic/{topic}"); n != 2 {
		t.Errorf("topic info calls = %d, want 2 (before the change and after the purge)", n)
	}

	// Stop watching; once the last round is over, the counts hold still.
	for tn, key := range keys {
		if status, _, body := send(t, "DELETE", base+"/v1/garant/watches/"+ids[tn], key, ""); status != 204 {
			t.Fatalf("DELETE %s's watch = %d %s, want 204", tn, status, body)
		}
	}
	stopped := time.Now()
	calls := func() (int, int) {
		return sim.Kit.Calls.Get("POST /v2/find-modified"), sim.Kit.Calls.Get("POST /v2/block-on-control/changed")
	}
	findModified, blocks := calls()
	for deadline := time.Now().Add(20 * time.Second); ; {
		time.Sleep(interval)
		fm, b := calls()
		if fm == findModified && b == blocks {
			break
		}
		findModified, blocks = fm, b
		if time.Now().After(deadline) {
			t.Fatalf("calls still made 20s after the watches were deleted: find-modified %d, block-on-control %d", fm, b)
		}
	}
	// One call of each kind per slot of the interval that began while the
	// watches stood: were each tenant's watch checked on its own, twice as many.
	slots := int(stopped.UnixMilli()/interval.Milliseconds() - created.UnixMilli()/interval.Milliseconds())
	if findModified != blocks || findModified < 2 || findModified > slots {
		t.Errorf("find-modified, block-on-control calls = %d, %d over %d slots, want the same count, at most one a slot", findModified, blocks, slots)
	}

	var quotas struct {
		Quotas []struct {
			Family, Scope string
			Used          int
		}
	}
	status, _, body = send(t, "GET", base+"/v1/quotas", keys["beta"], "")
	if err := json.Unmarshal(body, &quotas); status != 200 || err != nil {
		t.Fatalf("GET /v1/quotas = %d %s", status, body)
	}
	monitoring := map[string]int{}
	for _, q := range quotas.Quotas {
		if q.Scope == "credential" && strings.HasPrefix(q.Family, "links_control") {
			monitoring[q.Family] = q.Used
		}
	}
	t.Logf("GET /v1/quotas (beta): monitoring %v; calls: find-modified %d, block-on-control %d", monitoring, findModified, blocks)
	if monitoring["links_control"] != findModified+blocks {
		t.Errorf("links_control used = %v, want %d (the calls made)", monitoring, findModified+blocks)
	}
	var usage struct {
		Spending []struct {
			Tenant, Family, Operation string
			Spent                     int
		}
	}
	spent := map[string]int{}
	for tn, key := range keys {
		status, _, body = send(t, "GET", base+"/v1/quotas/usage", key, "")
		if err := json.Unmarshal(body, &usage); status != 200 || err != nil {
			t.Fatalf("GET /v1/quotas/usage as %s = %d %s", tn, status, body)
		}
		for _, s := range usage.Spending {
			spent[s.Tenant+" "+s.Operation] += s.Spent
		}
	}
	t.Logf("ledger: %v", spent)
	// The round's calls are charged once, to the tenant of the oldest due watch.
	payer := "alpha"
	if spent["alpha garantFindModified"] == 0 {
		payer = "beta"
	}
	if spent[payer+" garantFindModified"] != findModified || spent[payer+" garantBlocksChanged"] != blocks ||
		spent["alpha garantFindModified"]+spent["beta garantFindModified"] != findModified {
		t.Errorf("ledger = %v, want find-modified %d and block-on-control %d, charged once", spent, findModified, blocks)
	}

	n, err := rdb.Exists(context.Background(), "{cred:garant-main}:watches", "{cred:garant-main}:watches:checked",
		"{cred:garant-main}:watches:told", "{cred:garant-main}:watches:purged").Result()
	if err != nil || n != 0 {
		t.Errorf("watch keys left after deleting every watch = %d (%v), want 0", n, err)
	}
}

func moscowLoc(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
