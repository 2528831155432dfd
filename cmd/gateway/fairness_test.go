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
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
)

// TestFairnessConfig: the config's fairness section reaches the gateway, and
// a long poll over HTTP/2 (never parked: it waits in a goroutine) counts
// against the tenant's long-poll cap.
func TestFairnessConfig(t *testing.T) {
	rs := redistest.Start(t)
	simCfg := fsspsim.DefaultConfig()
	simCfg.QueueFor, simCfg.RunFor = time.Hour, 0
	sim := httptest.NewServer(fsspsim.New(simCfg))
	t.Cleanup(sim.Close)
	cfg := fmt.Sprintf(`
redis: {url: %q}
credentials:
  fssp-main: {upstream: fssp, secret: demo-fssp-token}
tenants:
  billing: {keys_sha256: [%s], credentials: {fssp: fssp-main}}
upstreams:
  fssp: {base_url: %q}
fairness: {long_polls: {per_tenant: 1}}
`, rs.URL(), config.HashKey("billing-key"), sim.URL)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base, _, _ := startGatewayCtx(t, context.Background(), []string{"-config", path}, nil)
	task := submitFSSP(t, base)

	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	h2 := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
	t.Cleanup(h2.CloseIdleConnections)
	get := func(ctx context.Context, wait int) (*http.Response, []byte, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/v1/fssp/tasks/%s?wait=%d", base, task, wait), nil)
		req.Header.Set("Authorization", "Bearer billing-key")
		res, err := h2.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res, b, err
	}
	// Two polls at once: one is admitted and waits, the other is refused.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type answer struct {
		res  *http.Response
		body []byte
		err  error
	}
	answers := make(chan answer, 2)
	for range 2 {
		go func() {
			res, body, err := get(ctx, 20)
			answers <- answer{res, body, err}
		}()
	}
	select {
	case a := <-answers:
		if a.err != nil {
			t.Fatal(a.err)
		}
		var p map[string]any
		_ = json.Unmarshal(a.body, &p)
		if a.res.StatusCode != http.StatusTooManyRequests || a.res.ProtoMajor != 2 || a.res.Header.Get("Retry-After") == "" ||
			p["limit"] != "fairness.long_polls.per_tenant" {
			t.Errorf("a second long poll = %s %d (Retry-After %q) %s; want HTTP/2 429 naming fairness.long_polls.per_tenant with a Retry-After",
				a.res.Proto, a.res.StatusCode, a.res.Header.Get("Retry-After"), a.body)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no long poll answered at once, want one refused")
	}
}
