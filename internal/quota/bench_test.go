package quota

import (
	"testing"

	"github.com/legalgate/legalgate/internal/redistest"
)

// BenchmarkReserve measures one full check (tenant and credential monthly
// quotas plus the credential's per-second rate) against a real redis-server,
// and reports the Redis round trips it takes.
func BenchmarkReserve(b *testing.B) {
	hook := &roundTrips{}
	rdb := redistest.Start(b).Client(b)
	rdb.AddHook(hook)
	e := newEngine(b, rdb, Config{Rules: []Rule{
		credRule("garant", FamilyExport, PeriodMonth, 1<<40),
		tenantRule("", "garant", FamilyExport, PeriodMonth, 1<<40),
		credRule("garant", FamilyRate, PeriodSecond, 1<<40),
	}})
	ctx := ctxT(b)
	if _, err := e.Reserve(ctx, alphaExport); err != nil { // loads the script
		b.Fatalf("Reserve() = %v, want nil", err)
	}
	hook.n.Store(0)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := e.Reserve(ctx, alphaExport); err != nil {
			b.Fatalf("Reserve() = %v, want nil", err)
		}
		n++
	}
	b.ReportMetric(float64(hook.n.Load())/float64(n), "roundtrips/op")
}
