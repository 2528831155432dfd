package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/usage"
)

// BenchmarkGarantHit serves a Garant cache hit (from the in-process L1)
// through the whole router, without tracing: the hot path that tracing must
// leave alone when it is off. Compare allocs/op with BenchmarkGarantHitTraced
// and with this benchmark before tracing existed (BENCHMARKS.md).
func BenchmarkGarantHit(b *testing.B) { benchGarantHit(b, nil) }

func benchGarantHit(b *testing.B, edit func(*handlers.Deps)) {
	sim := httptest.NewServer(garantsim.New(simConfig()))
	b.Cleanup(sim.Close)
	g := newGateway(b, func(d *handlers.Deps) {
		d.Quotas = &usage.Reports{Quota: garantQuota(b, d.Redis)}
		d.Garant = garantDeps(b, d.Redis, d.Registry, sim.URL)
		if edit != nil {
			edit(d)
		}
	})
	h := g.Config.Handler
	serve := func() int {
		r := httptest.NewRequest(http.MethodGet, "/v1/garant/topics/10900200", nil)
		r.Header.Set("Authorization", "Bearer "+keyAlpha)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := serve(); code != http.StatusOK { // the miss that fills the cache
		b.Fatalf("GET topic = %d, want 200", code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if code := serve(); code != http.StatusOK {
			b.Fatalf("GET topic = %d, want 200", code)
		}
	}
}
