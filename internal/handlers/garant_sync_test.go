package handlers_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

// TestGarantLimitsSync: one round of the periodic sync lowers the remaining
// count GET /v1/quotas shows to what Garant reports, and two replicas'
// syncers on one Redis make one /v2/limits call per credential per round.
func TestGarantLimitsSync(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	cred, _ := env.Deps.Tenants.Load().Credential("garant-test")
	const interval = 300 * time.Millisecond
	syncer := func(q *quota.Engine, g *handlers.Garant) *handlers.GarantLimitsSync {
		return &handlers.GarantLimitsSync{Garant: g, Quota: q, Redis: env.Deps.Redis,
			Credentials: []*tenant.Credential{cred}, Interval: interval}
	}
	replica := metrics.NewRegistry()
	syncers := []*handlers.GarantLimitsSync{
		syncer(env.Deps.Quota, env.Deps.Garant),
		syncer(garantQuota(t, env.Deps.Redis), garantDeps(t, env.Deps.Redis, replica, env.simURL)),
	}

	// Garant has 5 exports left of the 30 configured.
	must(t, env.sim.SetUsed(garantsim.DemoToken, garantsim.FamilyExport, 25))
	if got := exportQuota(t, env); got.Remaining != 30 || got.Source != quota.SourceConfig {
		t.Fatalf("export quota before the sync = %+v, want 30 remaining from config", got)
	}

	for round := 1; round <= 2; round++ {
		var wg sync.WaitGroup
		synced := make([]int, len(syncers))
		for i, s := range syncers {
			wg.Go(func() { synced[i] = s.Round(context.Background()) })
		}
		wg.Wait()
		if got := env.sim.Kit.Calls.Get("GET /v2/limits"); got != round {
			t.Errorf("round %d: /v2/limits calls = %d, want %d (one per round)", round, got, round)
		}
		if synced[0]+synced[1] != 1 {
			t.Errorf("round %d: credentials synced = %v, want one replica to sync", round, synced)
		}
		if got := exportQuota(t, env); got.Remaining != 5 || got.Source != quota.SourceUpstream {
			t.Errorf("round %d: export quota = %+v, want 5 remaining from upstream", round, got)
		}
		waitUnlocked(t, env, "{cred:garant-test}:garant:limits-sync")
	}
}

// waitUnlocked waits until the round's lock expires.
func waitUnlocked(t *testing.T, env *garantEnv, key string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := env.Deps.Redis.Exists(context.Background(), key).Result()
		must(t, err)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock %s never expired", key)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type quotaRow struct {
	Family, Scope, Period, Source string
	Remaining                     int64
}

// exportQuota is alpha's view of the credential's monthly export quota.
func exportQuota(t *testing.T, env *garantEnv) quotaRow {
	t.Helper()
	status, _, body := env.send(t, "GET", "/v1/quotas", keyAlpha, nil)
	if status != 200 {
		t.Fatalf("GET /v1/quotas = %d %s", status, body)
	}
	var out struct{ Quotas []quotaRow }
	must(t, json.Unmarshal(body, &out))
	for _, q := range out.Quotas {
		if q.Family == quota.FamilyExport && q.Scope == string(quota.ScopeCredential) && q.Period == string(quota.PeriodMonth) {
			return q
		}
	}
	t.Fatalf("GET /v1/quotas has no monthly credential export quota: %s", body)
	return quotaRow{}
}
