package upstreamguard_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstreamguard"
)

// BenchmarkTransport is the cost the guard adds to one upstream request,
// side by side: the bare transport, a credential with a breaker only (no
// rate: FSSP and FIPS by default), and a paced one (one Redis script per
// request; the rate is too high to make anything wait).
//
//	go test -run '^$' -bench Transport -benchmem ./internal/upstreamguard/
func BenchmarkTransport(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("{}")) }))
	b.Cleanup(up.Close)
	rs := redistest.Start(b)
	g, err := upstreamguard.New(rs.Client(b), upstreamguard.Config{Credentials: []upstreamguard.Credential{
		{Upstream: "garant", Name: "breaker-only"}, {Upstream: "garant", Name: "paced", Rate: 1 << 30},
	}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	b.Cleanup(base.CloseIdleConnections)
	for _, bc := range []struct {
		name, cred string
		rt         http.RoundTripper
	}{
		{"bare", "", base},
		{"breaker", "breaker-only", g.Transport("garant", base)},
		{"paced", "paced", g.Transport("garant", base)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := tenant.WithCredential(context.Background(), bc.cred)
			for b.Loop() {
				req, _ := http.NewRequestWithContext(ctx, "GET", up.URL, nil)
				res, err := bc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	}
}
