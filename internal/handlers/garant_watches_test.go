package handlers_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/watches"
	"github.com/legalgate/legalgate/internal/webhooks"
)

// Watches through the router: a callback outside the allow-list is a 400
// naming body.callback_url with nothing stored, and a tenant neither lists
// nor deletes another's watch (404).
func TestGarantWatchesRoutes(t *testing.T) {
	g := newGateway(t, func(d *handlers.Deps) {
		rule, err := webhooks.ParseRule("http://127.0.0.1:*/")
		must(t, err)
		key, err := webhooks.ParseKey("whsec_ZGVtby1hbHBoYS13ZWJob29rLXNlY3JldA==")
		must(t, err)
		w := webhooks.Tenant{Keys: []webhooks.Key{key}, Allow: []webhooks.Rule{rule}, AllowPrivate: true}
		d.Webhooks = webhooks.New(d.Redis, webhooks.Config{Tenants: map[string]webhooks.Tenant{"alpha": w, "other": w}}, nil, slog.New(slog.DiscardHandler))
		d.Watches = &watches.Manager{Redis: d.Redis, Hooks: d.Webhooks, Tenants: d.Tenants.Load}
	})
	read := func(res *http.Response) string {
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	res := g.do(t, "POST", "/v1/garant/watches", keyAlpha, map[string]any{"topics": []int{12125270}, "callback_url": "https://evil.example/hook"})
	if body := read(res); res.StatusCode != 400 || !strings.Contains(body, `"body.callback_url"`) {
		t.Errorf("POST a watch with a callback outside the allow-list = %d %s, want 400 naming body.callback_url", res.StatusCode, body)
	}
	res = g.do(t, "POST", "/v1/garant/watches", keyAlpha, map[string]any{"topics": []int{12125270}, "callback_url": "http://127.0.0.1:9/hook", "interval_seconds": 60})
	if body := read(res); res.StatusCode != 400 || !strings.Contains(body, `interval_seconds`) {
		t.Errorf("POST a watch every minute = %d %s, want 400 naming interval_seconds", res.StatusCode, body)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"callback_url": "http://127.0.0.1:9/hook"}, `"field":"body.topics"`},
		{map[string]any{"fragments": []string{"https://internet.garant.ru/#/document/12125270"}, "callback_url": "http://127.0.0.1:9/hook"}, `"field":"body.fragments[0]"`},
		{map[string]any{"fragments": slices.Repeat([]string{"https://internet.garant.ru/#/document/12125270/entry/1"}, 101),
			"callback_url": "http://127.0.0.1:9/hook"}, `"field":"body.fragments"`},
	} {
		res = g.do(t, "POST", "/v1/garant/watches", keyAlpha, c.body)
		if body := read(res); res.StatusCode != 400 || !strings.Contains(body, c.field) {
			t.Errorf("POST a watch %.80v = %d %s, want 400 naming %s", c.body, res.StatusCode, body, c.field)
		}
	}
	res = g.do(t, "POST", "/v1/garant/watches", keyAlpha, map[string]any{"topics": []int{12125270, 12125268},
		"fragments": []string{"http://internet.garant.ru/#/document/12125270/entry/81/"}, "callback_url": "http://127.0.0.1:9/hook"})
	var w struct {
		ID        string   `json:"id"`
		Interval  int      `json:"interval_seconds"`
		Fragments []string `json:"fragments"`
	}
	if body := read(res); res.StatusCode != 201 || json.Unmarshal([]byte(body), &w) != nil || w.ID == "" || w.Interval != 86400 ||
		len(w.Fragments) != 1 || w.Fragments[0] != "https://internet.garant.ru/#/document/12125270/entry/81" {
		t.Fatalf("POST a watch = %d %s, want 201 with an id, a day's interval and the fragment's link as Garant reads it", res.StatusCode, body)
	}
	res = g.do(t, "POST", "/v1/garant/watches", keyAlpha, map[string]any{"fragments": []string{"https://internet.garant.ru/#/document/12125270/entry/1"},
		"callback_url": "http://127.0.0.1:9/hook"})
	if body := read(res); res.StatusCode != 201 || !strings.Contains(body, `"topics":[]`) {
		t.Errorf("POST a watch of a fragment = %d %s, want 201 with no topics", res.StatusCode, body)
	}
	if body := read(g.do(t, "GET", "/v1/garant/watches", keyOther, nil)); strings.Contains(body, w.ID) {
		t.Errorf("GET watches as other = %s, shows alpha's watch", body)
	}
	if res := g.do(t, "DELETE", "/v1/garant/watches/"+w.ID, keyOther, nil); res.StatusCode != 404 {
		t.Errorf("DELETE alpha's watch as other = %d %s, want 404", res.StatusCode, read(res))
	}
	if body := read(g.do(t, "GET", "/v1/garant/watches", keyAlpha, nil)); !strings.Contains(body, w.ID) {
		t.Errorf("GET watches as alpha = %s, want its watch", body)
	}
	if res := g.do(t, "DELETE", "/v1/garant/watches/"+w.ID, keyAlpha, nil); res.StatusCode != 204 {
		t.Errorf("DELETE its watch as alpha = %d %s, want 204", res.StatusCode, read(res))
	}
	if res := g.do(t, "GET", "/v1/garant/watches", keyNoCreds, nil); res.StatusCode != 403 {
		t.Errorf("GET watches without a Garant credential = %d %s, want 403", res.StatusCode, read(res))
	}
}
