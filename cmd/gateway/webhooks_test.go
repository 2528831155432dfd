package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/webhooks/webhookstest"
)

const billingWebhookSecret = "whsec_ZGVtby1hbHBoYS13ZWJob29rLXNlY3JldA=="

// startWebhookGateway runs a gateway with one FSSP tenant, billing, whose
// callbacks may go to loopback, and returns its base URL and the simulator.
func startWebhookGateway(t *testing.T) (string, *fsspsim.Server) {
	t.Helper()
	rs := redistest.Start(t)
	simCfg := fsspsim.DefaultConfig()
	simCfg.QueueFor, simCfg.RunFor, simCfg.HourLimit = 50*time.Millisecond, 50*time.Millisecond, 1000
	sim := fsspsim.New(simCfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg := fmt.Sprintf(`
redis: {url: %q}
credentials:
  fssp-main: {upstream: fssp, secret: "${FSSP_TOKEN}", limits: [{family: single, period: day, limit: 1000}]}
tenants:
  billing:
    keys_sha256: [%s]
    credentials: {fssp: fssp-main}
    webhooks: {secrets: ["${HOOK_SECRET}"], allow: ["http://127.0.0.1:*/hooks/"], allow_private: true}
upstreams:
  fssp: {base_url: %q}
fssp: {poll_initial: 100ms, poll_max: 200ms}
`, rs.URL(), config.HashKey("billing-key"), srv.URL)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _ := startGateway(t, []string{"-config", path}, map[string]string{"FSSP_TOKEN": "demo-fssp-token", "HOOK_SECRET": billingWebhookSecret})
	return base, sim
}

func postJSON(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer billing-key")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// The end-to-end: a batch job submits 120 FSSP searches with one
// callback and receives 120 signed deliveries, one per task.
func TestFSSPCallbacks(t *testing.T) {
	base, sim := startWebhookGateway(t)
	rc := webhookstest.NewReceiver(t, nil)
	callback := rc.URL + "/hooks/fssp"

	// A callback outside the allow-list is refused before anything is spent.
	for _, bad := range []string{"http://127.0.0.1:1/other", "http://evil.example/hooks/", "not a url"} {
		code, body := postJSON(t, base+"/v1/fssp/searches/ip", `{"number":"12345/24/77001-ИП","callback_url":"`+bad+`"}`)
		if code != 400 || !strings.Contains(string(body), `"field":"body.callback_url"`) {
			t.Errorf("POST with callback_url %q = %d %s, want a 400 naming body.callback_url", bad, code, body)
		}
	}
	if n := sim.Kit.Calls.Total(); n != 0 {
		t.Errorf("FSSP calls after refused callbacks = %d, want 0", n)
	}
	if code, body := get(t, base+"/v1/quotas", "billing-key"); code != 200 || !strings.Contains(body, `"used":0`) {
		t.Errorf("GET /v1/quotas after refused callbacks = %d %s, want nothing used", code, body)
	}

	const n = 120
	tasks := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, 8) // a batch job's few connections
	for i := range n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			code, body := postJSON(t, base+"/v1/fssp/searches/ip",
				fmt.Sprintf(`{"number":"%d/24/77001-ИП","callback_url":%q}`, 10000+i, callback))
			var task struct{ ID string }
			if code != 202 || json.Unmarshal(body, &task) != nil || task.ID == "" {
				t.Errorf("POST search %d = %d %s, want 202 with a task", i, code, body)
				return
			}
			mu.Lock()
			tasks[task.ID] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	ids := map[string]bool{}
	for range n {
		r := rc.Next(t)
		if err := webhookstest.Verify(billingWebhookSecret, r.Header, r.Body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("delivery %s: Verify = %v", r.Header.Get("webhook-id"), err)
		}
		var msg struct {
			Type string
			Data struct{ ID, Status, Result string }
		}
		if err := json.Unmarshal(r.Body, &msg); err != nil {
			t.Fatalf("delivery body %s: %v", r.Body, err)
		}
		if msg.Type != "fssp.task.finished" || !tasks[msg.Data.ID] || msg.Data.Result != "/v1/fssp/tasks/"+msg.Data.ID ||
			(msg.Data.Status != "succeeded" && msg.Data.Status != "partial") || r.Path != "/hooks/fssp" {
			t.Errorf("delivery %s to %s, want a finished task of ours at /hooks/fssp", r.Body, r.Path)
		}
		if ids[msg.Data.ID] {
			t.Errorf("task %s delivered twice", msg.Data.ID)
		}
		ids[msg.Data.ID] = true
	}
	// The log shows every delivery as delivered once the receiver's
	// answers are recorded (just after they are sent).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, body := get(t, base+"/v1/webhooks/deliveries?limit=1000", "billing-key")
		var log struct{ Deliveries []struct{ Status string } }
		delivered := 0
		if err := json.Unmarshal([]byte(body), &log); err == nil {
			for _, d := range log.Deliveries {
				if d.Status == "delivered" {
					delivered++
				}
			}
		}
		if code == 200 && delivered == n && len(log.Deliveries) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /v1/webhooks/deliveries = %d, %d of %d delivered, want 200 with all %d delivered", code, delivered, len(log.Deliveries), n)
		}
	}
}
