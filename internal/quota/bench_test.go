package quota

import (
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

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
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
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
	b.ReportMetric(redisMicros(b, rdb, "evalsha")/float64(n), "redis-µs/op")
}

// redisMicros is the time Redis itself spent in cmd since the last CONFIG
// RESETSTAT (INFO commandstats), in µs: the script's own cost, apart from
// the network and the client.
func redisMicros(b *testing.B, rdb *redis.Client, cmd string) float64 {
	b.Helper()
	info, err := rdb.Info(ctxT(b), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(info) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":")
		if !ok {
			continue
		}
		for f := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(f, "usec="); ok {
				us, _ := strconv.ParseFloat(v, 64)
				return us
			}
		}
	}
	b.Fatalf("INFO commandstats has no %s", cmd)
	return 0
}
