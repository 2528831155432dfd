package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/webhooks"
)

// A tenant's delivery log and redeliveries reach only its own deliveries.
func TestWebhookDeliveriesPerTenant(t *testing.T) {
	var hooks *webhooks.Dispatcher
	g := newGateway(t, func(d *handlers.Deps) {
		rule, err := webhooks.ParseRule("http://127.0.0.1:*/")
		must(t, err)
		key, err := webhooks.ParseKey("whsec_ZGVtby1hbHBoYS13ZWJob29rLXNlY3JldA==")
		must(t, err)
		w := webhooks.Tenant{Keys: []webhooks.Key{key}, Allow: []webhooks.Rule{rule}, AllowPrivate: true}
		hooks = webhooks.New(d.Redis, webhooks.Config{Tenants: map[string]webhooks.Tenant{"alpha": w, "other": w}}, nil, slog.New(slog.DiscardHandler))
		d.Webhooks = hooks
	})
	// Queued, never sent: the dispatcher is not running.
	id, err := hooks.Enqueue(context.Background(), webhooks.Message{Tenant: "other", URL: "http://127.0.0.1:1/cb", Type: "t", Data: 1})
	must(t, err)

	read := func(res *http.Response) string {
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	if res := g.do(t, "GET", "/v1/webhooks/deliveries", keyAlpha, nil); res.StatusCode != 200 {
		t.Errorf("GET deliveries as alpha = %d, want 200", res.StatusCode)
	} else if body := read(res); strings.Contains(body, id) {
		t.Errorf("GET deliveries as alpha = %s, shows other's delivery %s", body, id)
	}
	if res := g.do(t, "POST", "/v1/webhooks/deliveries/"+id+"/redeliver", keyAlpha, nil); res.StatusCode != 404 {
		t.Errorf("POST redeliver of other's delivery as alpha = %d %s, want 404", res.StatusCode, read(res))
	}
	res := g.do(t, "GET", "/v1/webhooks/deliveries?limit=10", keyOther, nil)
	var list struct {
		Deliveries []struct{ ID, Status, URL string }
	}
	if err := json.Unmarshal([]byte(read(res)), &list); err != nil || res.StatusCode != 200 || len(list.Deliveries) != 1 || list.Deliveries[0].ID != id || list.Deliveries[0].Status != "pending" {
		t.Errorf("GET deliveries as other = %d %+v (%v), want its one pending delivery", res.StatusCode, list, err)
	}
	if res := g.do(t, "POST", "/v1/webhooks/deliveries/"+id+"/redeliver", keyOther, nil); res.StatusCode != 202 {
		t.Errorf("POST redeliver as other = %d %s, want 202", res.StatusCode, read(res))
	}
	if res := g.do(t, "POST", "/v1/webhooks/deliveries/not-an-id/redeliver", keyOther, nil); res.StatusCode != 400 {
		t.Errorf("POST redeliver of a malformed id = %d, want 400", res.StatusCode)
	}
}
