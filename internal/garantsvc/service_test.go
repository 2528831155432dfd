package garantsvc_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/garantsvc"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

// env is a Garant simulator and a Redis shared by the services (replicas)
// a test builds.
type env struct {
	sim   *garantsim.Server
	url   string
	rdb   redis.UniversalClient
	cred  *tenant.Credential
	alpha *tenant.Tenant
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg := garantsim.DefaultConfig()
	cfg.RatePerSecond = 10000
	sim := garantsim.New(cfg)
	ss := httptest.NewServer(sim)
	t.Cleanup(ss.Close)
	cred := &tenant.Credential{Name: "garant-test", Upstream: "garant", Secret: tenant.NewSecret(garantsim.DemoToken)}
	return &env{sim: sim, url: ss.URL, rdb: redistest.Start(t).Client(t), cred: cred,
		alpha: &tenant.Tenant{ID: "alpha", Credentials: map[string]*tenant.Credential{"garant": cred}}}
}

// service is one replica's Garant service: its own quota engine (the
// documented monthly limits) and cache on the shared Redis.
func (e *env) service(t *testing.T) *garantsvc.Service {
	t.Helper()
	var rules []quota.Rule
	for fam, limit := range map[string]int64{quota.FamilyExport: 30, quota.FamilyTopicInfo: 300, quota.FamilyLinksControl: 1000} {
		rules = append(rules, quota.Rule{Scope: quota.ScopeCredential, Upstream: "garant", Family: fam, Period: quota.PeriodMonth, Limit: limit})
	}
	q, err := quota.New(e.rdb, quota.Config{Rules: rules}, prometheus.NewRegistry())
	must(t, err)
	c, err := garant.New(garant.Config{BaseURL: e.url, Timeout: 20 * time.Second, Transport: http.DefaultTransport})
	must(t, err)
	store, err := cache.New(e.rdb, cache.Config{}, prometheus.NewRegistry())
	must(t, err)
	return &garantsvc.Service{Client: c, Quota: q, Cache: store}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// remaining is the credential's monthly remaining count of family.
func remaining(t *testing.T, s *garantsvc.Service, family string) (int64, string) {
	t.Helper()
	rows, err := s.Quota.Usage(context.Background(), "alpha", map[string]string{"garant": "garant-test"})
	must(t, err)
	for _, u := range rows {
		if u.Family == family && u.Scope == quota.ScopeCredential && u.Period == quota.PeriodMonth {
			return u.Remaining, u.Source
		}
	}
	t.Fatalf("no monthly credential %s quota in %+v", family, rows)
	return 0, ""
}

// TestLimitsSync: one round of the periodic sync lowers the remaining
// count to what Garant reports, and two replicas' jobs on one Redis make
// one /v2/limits call per credential per round.
func TestLimitsSync(t *testing.T) {
	e := newEnv(t)
	a, b := e.service(t), e.service(t)
	syncers := []*garantsvc.LimitsSync{
		{Service: a, Redis: e.rdb, Credentials: []*tenant.Credential{e.cred}, Interval: 300 * time.Millisecond},
		{Service: b, Redis: e.rdb, Credentials: []*tenant.Credential{e.cred}, Interval: 300 * time.Millisecond},
	}
	must(t, e.sim.SetUsed(garantsim.DemoToken, garantsim.FamilyExport, 25))
	if n, src := remaining(t, a, quota.FamilyExport); n != 30 || src != quota.SourceConfig {
		t.Fatalf("export before the sync = %d from %s, want 30 from config", n, src)
	}
	for round := 1; round <= 2; round++ {
		var wg sync.WaitGroup
		synced := make([]int, len(syncers))
		for i, s := range syncers {
			wg.Go(func() { synced[i] = s.Round(context.Background()) })
		}
		wg.Wait()
		if got := e.sim.Kit.Calls.Get("GET /v2/limits"); got != round {
			t.Errorf("round %d: /v2/limits calls = %d, want %d (one per round)", round, got, round)
		}
		if synced[0]+synced[1] != 1 {
			t.Errorf("round %d: credentials synced = %v, want one replica to sync", round, synced)
		}
		for _, s := range []*garantsvc.Service{a, b} {
			if n, src := remaining(t, s, quota.FamilyExport); n != 5 || src != quota.SourceUpstream {
				t.Errorf("round %d: export = %d from %s, want 5 from upstream", round, n, src)
			}
		}
		// The next round starts once the round's lock expired.
		deadline := time.Now().Add(20 * time.Second)
		for {
			n, err := e.rdb.Exists(context.Background(), "{cred:garant-test}:garant:limits-sync").Result()
			must(t, err)
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the sync lock never expired")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestCallJSON: a miss spends one unit and calls Garant once; the same
// request again, from another replica, is a hit that spends nothing, and so
// is the same request from a route that converts Garant's answer (its own
// entry is filled from Garant's cached bytes).
func TestCallJSON(t *testing.T) {
	e := newEnv(t)
	a, b := e.service(t), e.service(t)
	topic := garantsim.TopicCivilCode
	upper := func(b []byte) ([]byte, error) { return bytes.ToUpper(b), nil }
	get := func(s *garantsvc.Service, convert func([]byte) ([]byte, error)) *garantsvc.Answer {
		c := s.Begin("garantGetTopic", e.alpha, e.cred)
		ans, err := c.JSON(context.Background(), "", garantsvc.Key{Topic: topic, Request: topic}, func(ctx context.Context) ([]byte, error) {
			return s.Client.JSON(ctx, e.cred.Secret, garant.TopicCall(topic))
		}, convert, convert == nil)
		must(t, err)
		return ans
	}
	miss := get(a, nil)
	hit := get(b, nil)
	if miss.Hit || !hit.Hit {
		t.Errorf("Hit of the miss, the hit = %v, %v; want false, true", miss.Hit, hit.Hit)
	}
	if diff := cmp.Diff(miss.Body, hit.Body); diff != "" {
		t.Errorf("hit body differs from the miss (-miss +hit):\n%s", diff)
	}
	if miss.RateLimit == "" || hit.RateLimit != "" {
		t.Errorf("RateLimit of the miss, the hit = %q, %q; want a field, none", miss.RateLimit, hit.RateLimit)
	}
	converted := get(b, upper)
	if want := bytes.ToUpper(miss.Body); !bytes.Equal(converted.Body, want) || converted.RateLimit != "" {
		t.Errorf("converted answer = %q (RateLimit %q), want %q and no RateLimit", converted.Body, converted.RateLimit, want)
	}
	if again := get(a, upper); !again.Hit {
		t.Errorf("converted answer again: Hit = false, want true")
	}
	if got := e.sim.Kit.Calls.Get("GET /v2/topic/{topic}"); got != 1 {
		t.Errorf("Garant calls = %d, want 1", got)
	}
	if n, _ := remaining(t, a, quota.FamilyTopicInfo); n != 299 {
		t.Errorf("topic_info remaining = %d, want 299 (the hits spend nothing)", n)
	}
}

// TestCallExhausted: Garant's 423 refunds the unit, marks the family spent
// for every replica and answers the quota engine's rejection.
func TestCallExhausted(t *testing.T) {
	e := newEnv(t)
	a, b := e.service(t), e.service(t)
	must(t, e.sim.SetUsed(garantsim.DemoToken, garantsim.FamilyTopicInfo, 1<<20))
	topic := garantsim.TopicCivilCode
	call := func(s *garantsvc.Service) error {
		c := s.Begin("garantGetTopic", e.alpha, e.cred)
		return c.Do(context.Background(), func(ctx context.Context) error {
			_, err := s.Client.Topic(ctx, e.cred.Secret, topic)
			return err
		})
	}
	err := call(a)
	if apperr.KindOf(err) != apperr.QuotaExceeded {
		t.Fatalf("Do after Garant's 423 = %v, want a QuotaExceeded error", err)
	}
	if e, _ := apperr.As(err); e == nil || e.Header.Get("RateLimit") == "" {
		t.Errorf("Do after Garant's 423 = %#v, want an error carrying RateLimit fields", err)
	}
	before := e.sim.Kit.Calls.Get("GET /v2/topic/{topic}")
	if err := call(b); apperr.KindOf(err) != apperr.QuotaExceeded {
		t.Errorf("Do on another replica = %v, want a QuotaExceeded error", err)
	}
	if got := e.sim.Kit.Calls.Get("GET /v2/topic/{topic}"); got != before {
		t.Errorf("Garant calls after the family was marked spent = %d, want %d (refused before the call)", got, before)
	}
}
