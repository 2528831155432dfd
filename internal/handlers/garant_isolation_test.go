package handlers_test

import (
	"context"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/quota"
)

// TestGarantCallerTextNotSharedAcrossTenants: alpha sends requests it
// composed (a search, a private contract to link, a news selection, the
// documents it watches); garant-beta, a tenant of the same credential,
// sends the same requests and learns nothing of alpha's: each is a miss
// (no hit, no Age), goes to Garant, and spends beta's own quota. A request
// about one public document stays shared by the credential.
func TestGarantCallerTextNotSharedAcrossTenants(t *testing.T) {
	env := newGarantEnv(t, simConfig(), func(d *handlers.Deps) {
		d.Garant.TTL = map[string]time.Duration{"garantFindModified": time.Minute, "garantBlocksChanged": time.Minute}
	})
	from := time.Now().AddDate(0, 0, -5).Format(time.DateOnly)
	private := []struct {
		name, path, route string
		body              any
	}{
		{"search", "/v1/garant/search", "POST /v2/search", map[string]any{"text": "договор поставки ООО Ромашка", "env": "internet"}},
		{"snippets", "/v1/garant/snippets", "POST /v2/snippets", map[string]any{"topic": 57742222, "text": "неустойка Ромашка"}},
		{"hyperlinks", "/v1/garant/hyperlinks", "POST /v2/find-hyperlinks",
			map[string]any{"text": "Договор № 17 между ООО «Ромашка» и ООО «Лютик», статья 70 Трудового кодекса РФ", "baseUrl": "https://internet.garant.ru"}},
		{"court practice", "/v1/garant/court-practice", "POST /v2/sutyazhnik-search", map[string]any{"text": "неустойка Ромашка Лютик", "count": 3, "kind": []string{"302"}}},
		{"prime news", "/v1/garant/prime/news", "POST /v2/prime/create-news", map[string]any{"categories": []int{1008}, "fromDate": from}},
		{"find modified", "/v1/garant/monitoring/documents", "POST /v2/find-modified", map[string]any{"topics": []int{10103000}, "modDate": "2018-01-01"}},
		{"blocks changed", "/v1/garant/monitoring/fragments", "POST /v2/block-on-control/changed",
			map[string]any{"fromDate": "2018-01-01", "urlArray": []string{"https://internet.garant.ru/#/document/10900200/entry/1"}}},
	}
	for _, op := range private {
		t.Run(op.name, func(t *testing.T) {
			before := env.sim.Kit.Calls.Get(op.route)
			if status, h, body := env.send(t, "POST", op.path, keyAlpha, op.body); status != 200 || h.Get("Cache-Status") != cache.StatusStored {
				t.Fatalf("alpha's %s = %d Cache-Status %q, want 200 stored; %.200s", op.path, status, h.Get("Cache-Status"), body)
			}
			status, h, body := env.send(t, "POST", op.path, keyGarantBeta, op.body)
			if status != 200 || h.Get("Cache-Status") != cache.StatusStored || h.Get("Age") != "" {
				t.Errorf("beta's same %s = %d Cache-Status %q Age %q, want 200 %q without Age (a miss of its own); %.200s",
					op.path, status, h.Get("Cache-Status"), h.Get("Age"), cache.StatusStored, body)
			}
			if got := env.sim.Kit.Calls.Get(op.route); got != before+2 {
				t.Errorf("upstream calls of %s = %d, want %d (one per tenant)", op.route, got-before, 2)
			}
			// Each tenant hits its own entry.
			for _, key := range []string{keyAlpha, keyGarantBeta} {
				if _, h, _ := env.send(t, "POST", op.path, key, op.body); h.Get("Cache-Status") != cache.StatusHit || h.Get("Age") == "" {
					t.Errorf("%s again as %s = Cache-Status %q Age %q, want a hit of its own entry", op.path, key, h.Get("Cache-Status"), h.Get("Age"))
				}
			}
		})
	}
	// The quota price: beta's hyperlinks and monitoring calls spent
	// links_control units of the shared credential, one per tenant and request.
	u, err := env.Deps.Quotas.Quota.Usage(context.Background(), "garant-beta", map[string]string{"garant": "garant-test"})
	must(t, err)
	for _, x := range u {
		if x.Family == quota.FamilyLinksControl && x.Scope == quota.ScopeCredential && x.Used != 6 {
			t.Errorf("links_control used = %d, want 6 (hyperlinks, find-modified, blocks-changed, once per tenant)", x.Used)
		}
	}

	// One public document: shared by the credential, as before.
	env.send(t, "GET", "/v1/garant/topics/10103000", keyAlpha, nil)
	if _, h, _ := env.send(t, "GET", "/v1/garant/topics/10103000", keyGarantBeta, nil); h.Get("Cache-Status") != cache.StatusHit {
		t.Errorf("beta's topic info after alpha's = %q, want a hit of the credential's shared entry", h.Get("Cache-Status"))
	}

	// An admin purge of the credential scope also removes the tenants' own entries.
	status, _, body := env.send(t, "DELETE", "/v1/garant/cache?operation=garantSearch", keyAlpha, nil)
	if status != 200 || string(body) != "{\"deleted\":2}\n" {
		t.Errorf("purge garantSearch = %d %s, want both tenants' entries deleted", status, body)
	}
}
