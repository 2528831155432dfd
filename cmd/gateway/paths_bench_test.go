package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/redistest"
)

// benchOrigin answers GET /v2/topic/{id} with the ~600-byte JSON document
// of the shared perf rig's origin (../shared/perf/backend), as "Garant"
// and as "FIPS".
func benchOrigin(tb testing.TB) *httptest.Server {
	tb.Helper()
	body := `{"id":"12345","type":"topic","title":"Loopback proxy baseline topic","status":"published",` +
		`"author":{"id":"u-1029","name":"Jane Example","handle":"jexample"},` +
		`"tags":["gateway","benchmark","json","loopback","baseline"],` +
		`"created_at":"2026-11-22T10:00:00Z","updated_at":"2026-11-22T11:00:00Z",` +
		`"stats":{"views":123456,"likes":789,"comments":42,"shares":7},` +
		`"summary":"` + strings.Repeat("lorem ipsum dolor sit amet ", 7) + `",` +
		`"links":{"self":"/v2/topic/12345","comments":"/v2/topic/12345/comments"}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// benchKey is the bench tenant's API key.
const benchKey = "bench-key"

// benchGateway wires the gateway as run does (wire, app.deps) from the
// configuration of ../shared/perf/gw-rotation.sh, with the Garant
// credential's pace, the tenant's upstream-call cap and its FIPS rate raised
// as bench/gateway.sh raises them (every check still runs, none refuses),
// and returns its public handler. The access log goes to
// io.Discard through the same JSON handler run uses.
func benchGateway(tb testing.TB) http.Handler {
	tb.Helper()
	origin := benchOrigin(tb)
	rdb := redistest.Start(tb).Client(tb)
	yaml := fmt.Sprintf(`
addr: 127.0.0.1:0
server: {admin_addr: "127.0.0.1:1"}
redis: {url: "redis://%s/0"}
credentials:
  fips-bench: {upstream: fips, secret: bench-key-fips}
  garant-bench:
    upstream: garant
    secret: bench-token
    limits: [{family: topic_info, period: month, limit: 1000000000000}, {family: rate, period: second, limit: 100000000}]
fairness:
  upstream_calls: {per_tenant: 64, per_credential: 64}
  rates: {fips: {per_second: 100000000}}
tenants:
  bench: {keys_sha256: [%s], credentials: {garant: garant-bench, fips: fips-bench}}
upstreams:
  garant: {base_url: %q}
  fips: {base_url: %q, routes: {fipsGetApplication: "/v2/topic/{applicationId}"}}
`, rdb.Options().Addr, config.HashKey(benchKey), origin.URL, origin.URL)
	cfg, err := config.Parse([]byte(yaml), func(string) string { return "" })
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	reg := metrics.NewRegistry()
	app, err := wire(cfg, rdb, reg, log, nil)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := handlers.NewServer(app.deps(cfg, rdb, reg, log, nil))
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// discardWriter is a ResponseWriter that keeps the status and drops the
// body, reused across requests.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(b)
	return len(b), nil
}

// BenchmarkPaths serves the rotation's gateway paths in process, from
// the router to the response writer (auth, validation, quota, cache,
// metrics, access log and, for fips and nocache, the upstream call over
// loopback), so that an allocation regression on a path shows without wrk:
//
//	go test -run '^$' -bench Paths -benchmem ./cmd/gateway/
func BenchmarkPaths(b *testing.B) {
	h := benchGateway(b)
	for _, p := range []struct {
		name, path string
		hdr        []string
		cacheHit   bool
	}{
		{name: "hit", path: "/v1/garant/topics/12345", cacheHit: true},
		{name: "nocache", path: "/v1/garant/topics/12345", hdr: []string{"Cache-Control", "no-cache"}},
		{name: "fips", path: "/v1/fips/applications/12345"},
	} {
		b.Run(p.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, p.path, nil)
			req.Header.Set("Authorization", "Bearer "+benchKey)
			for i := 0; i+1 < len(p.hdr); i += 2 {
				req.Header.Set(p.hdr[i], p.hdr[i+1])
			}
			w := &discardWriter{h: http.Header{}}
			serve := func() {
				clear(w.h)
				w.status, w.n = 0, 0
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK || w.n == 0 {
					b.Fatalf("GET %s = %d (%d bytes), want 200 with a body; headers %v", p.path, w.status, w.n, w.h)
				}
			}
			serve() // fills the cache
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				serve()
			}
			b.StopTimer()
			if got := strings.HasPrefix(w.h.Get("Cache-Status"), "legalgate; hit"); got != p.cacheHit {
				b.Fatalf("GET %s: Cache-Status %q, want a hit: %t", p.path, w.h.Get("Cache-Status"), p.cacheHit)
			}
		})
	}
}
