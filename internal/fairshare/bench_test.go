package fairshare_test

import (
	"context"
	"testing"

	"github.com/legalgate/legalgate/internal/fairshare"
	"github.com/legalgate/legalgate/internal/redistest"
)

// BenchmarkAdmit is the cost fair sharing adds to a request: a call held to
// the caps only (in process), and an unmetered one also held to its rate
// (one Redis script), each admitted and released.
func BenchmarkAdmit(b *testing.B) {
	rdb := redistest.Start(b).Client(b)
	l, _ := newLimiter(b, rdb, fairshare.Config{CredentialCalls: 1 << 20, Default: fairshare.Limits{
		UpstreamCalls: 1 << 20, Rates: map[string]fairshare.Rate{"garant": {PerSecond: 1 << 30, Burst: 1 << 30}}}})
	for _, bc := range []struct {
		name  string
		class fairshare.Class
	}{{"call", fairshare.Call}, {"free_call", fairshare.FreeCall}} {
		b.Run(bc.name, func(b *testing.B) {
			r := fairshare.Request{Class: bc.class, Tenant: "alpha", Upstream: "garant", Credential: "garant-main"}
			b.ReportAllocs()
			for b.Loop() {
				release, err := l.Admit(context.Background(), r)
				if err != nil {
					b.Fatal(err)
				}
				release()
			}
		})
	}
}
