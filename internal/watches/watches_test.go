package watches_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

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
	"github.com/legalgate/legalgate/internal/watches"
	"github.com/legalgate/legalgate/internal/webhooks"
	"github.com/legalgate/legalgate/internal/webhooks/webhookstest"
)

// Signing secrets of the test tenants.
var secrets = map[string]string{
	"alpha": "whsec_ZGVtby1hbHBoYS13ZWJob29rLXNlY3JldA==",
	"beta":  "whsec_ZGVtby1iZXRhLXdlYmhvb2stc2VjcmV0",
	"gamma": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}

// env is a Garant simulator, a Redis, a webhook dispatcher and receiver,
// and three tenants sharing one Garant credential.
type env struct {
	sim     *garantsim.Server
	url     string
	rdb     redis.UniversalClient
	cred    *tenant.Credential
	reg     *tenant.Registry
	tenants map[string]*tenant.Tenant
	hooks   *webhooks.Dispatcher
	recv    *webhookstest.Receiver
	clock   *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg := garantsim.DefaultConfig()
	cfg.RatePerSecond = 10000
	sim := garantsim.New(cfg)
	ss := httptest.NewServer(sim)
	t.Cleanup(ss.Close)
	e := &env{sim: sim, url: ss.URL, rdb: redistest.Start(t).Client(t), reg: tenant.NewRegistry(), tenants: map[string]*tenant.Tenant{},
		cred:  &tenant.Credential{Name: "garant-test", Upstream: "garant", Secret: tenant.NewSecret(garantsim.DemoToken)},
		clock: &clock{t: time.Now().Add(-2 * time.Hour)}}
	e.reg.AddCredential(e.cred)
	hooks := map[string]webhooks.Tenant{}
	rule, err := webhooks.ParseRule("http://127.0.0.1:*/")
	must(t, err)
	for _, id := range []string{"alpha", "beta", "gamma"} {
		tn := &tenant.Tenant{ID: id, Credentials: map[string]*tenant.Credential{"garant": e.cred}}
		must(t, e.reg.AddTenant(tn, nil))
		e.tenants[id] = tn
		k, err := webhooks.ParseKey(secrets[id])
		must(t, err)
		hooks[id] = webhooks.Tenant{Keys: []webhooks.Key{k}, Allow: []webhooks.Rule{rule}, AllowPrivate: true}
	}
	e.hooks = webhooks.New(e.rdb, webhooks.Config{Tenants: hooks, Poll: 10 * time.Millisecond, Timeout: 5 * time.Second},
		prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.hooks.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	e.recv = webhookstest.NewReceiver(t, nil)
	return e
}

// manager is one replica's watch manager with its own Garant service
// (quota engine and cache on the shared Redis).
func (e *env) manager(t *testing.T) *watches.Manager {
	t.Helper()
	var rules []quota.Rule
	for fam, limit := range map[string]int64{quota.FamilyTopicInfo: 300, quota.FamilyLinksControl: 100000} {
		rules = append(rules, quota.Rule{Scope: quota.ScopeCredential, Upstream: "garant", Family: fam, Period: quota.PeriodMonth, Limit: limit})
	}
	q, err := quota.New(e.rdb, quota.Config{Rules: rules}, prometheus.NewRegistry())
	must(t, err)
	c, err := garant.New(garant.Config{BaseURL: e.url, Timeout: 20 * time.Second, Transport: http.DefaultTransport})
	must(t, err)
	store, err := cache.New(e.rdb, cache.Config{}, prometheus.NewRegistry())
	must(t, err)
	svc := &garantsvc.Service{Client: c, Quota: q, Cache: store}
	return &watches.Manager{Redis: e.rdb, Garant: svc, Hooks: e.hooks, Tenants: func() *tenant.Registry { return e.reg },
		Tick: time.Minute, MinInterval: time.Hour, Now: e.clock.Now}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// topicInfo asks for a document's info through the service's cache.
func topicInfo(t *testing.T, m *watches.Manager, tn *tenant.Tenant, cred *tenant.Credential, topic int) {
	t.Helper()
	_, err := m.Garant.Begin("garantGetTopic", tn, cred).JSON(context.Background(), "", garantsvc.Key{Topic: topic},
		func(ctx context.Context) ([]byte, error) {
			info, err := m.Garant.Client.Topic(ctx, cred.Secret, topic)
			if err != nil {
				return nil, err
			}
			return json.Marshal(info)
		}, nil, true)
	must(t, err)
}

// TestRoundMergesWatches: 300 watches of 250 distinct documents from three
// tenants cost 3 find-modified calls a round (two replicas running the
// round at once), spent once from the credential's monitoring family; a
// changed document's cached answers are purged and each of its two
// watchers gets one signed delivery, once.
func TestRoundMergesWatches(t *testing.T) {
	e := newEnv(t)
	a, b := e.manager(t), e.manager(t)
	ctx := context.Background()
	topics := e.sim.Topics()
	if len(topics) < 250 {
		t.Fatalf("the simulator has %d documents, want 250", len(topics))
	}
	ids := []string{"alpha", "beta", "gamma"}
	owner := map[string]string{} // watch id → tenant
	for i := range 300 {
		tn := e.tenants[ids[i%3]]
		w, err := a.Create(ctx, tn, watches.Request{Topics: []int{topics[i%250]}, CallbackURL: e.recv.URL + "/" + tn.ID, Interval: time.Hour})
		must(t, err)
		owner[w.ID] = tn.ID
	}
	changed := topics[0] // watched by watch 0 (alpha) and watch 250 (beta)
	topicInfo(t, a, e.tenants["alpha"], e.cred, changed)
	if got := e.sim.Kit.Calls.Get("GET /v2/topic/{topic}"); got != 1 {
		t.Fatalf("topic info calls = %d, want 1", got)
	}
	topicInfo(t, a, e.tenants["alpha"], e.cred, changed)
	if got := e.sim.Kit.Calls.Get("GET /v2/topic/{topic}"); got != 1 {
		t.Fatalf("topic info calls after a second ask = %d, want 1 (cached)", got)
	}
	must(t, e.sim.Change(changed, time.Now(), 1))

	e.clock.Set(time.Now())
	var wg sync.WaitGroup
	for _, m := range []*watches.Manager{a, b} {
		wg.Go(func() { m.Round(ctx) })
	}
	wg.Wait()
	if got := e.sim.Kit.Calls.Get("POST /v2/find-modified"); got != 3 {
		t.Errorf("find-modified calls in a round = %d, want 3", got)
	}
	rows, err := a.Garant.Quota.Usage(ctx, "alpha", map[string]string{"garant": e.cred.Name})
	must(t, err)
	for _, u := range rows {
		if u.Family == quota.FamilyLinksControl && u.Scope == quota.ScopeCredential && u.Used != 3 {
			t.Errorf("links_control used = %d, want 3", u.Used)
		}
	}

	got := map[string]bool{}
	for range 2 {
		r := e.recv.Next(t)
		tn := r.Path[1:]
		if err := webhookstest.Verify(secrets[tn], r.Header, r.Body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("delivery to %s: %v", tn, err)
		}
		var body struct {
			Type string         `json:"type"`
			Data watches.Change `json:"data"`
		}
		must(t, json.Unmarshal(r.Body, &body))
		if body.Type != watches.EventChanged || body.Data.Topic != changed || owner[body.Data.Watch] != tn || body.Data.Changed == "" {
			t.Errorf("delivery to %s = %s, want %s of %d for its own watch", tn, r.Body, watches.EventChanged, changed)
		}
		got[tn] = true
	}
	if !got["alpha"] || !got["beta"] {
		t.Errorf("deliveries went to %v, want alpha and beta", got)
	}
	// A replica that did not run the round (its memory holds nothing) asks
	// the shared cache: purged.
	topicInfo(t, e.manager(t), e.tenants["alpha"], e.cred, changed)
	if got := e.sim.Kit.Calls.Get("GET /v2/topic/{topic}"); got != 2 {
		t.Errorf("topic info calls after the change = %d, want 2 (the cached answer purged)", got)
	}

	// The next round checks again and tells nobody twice.
	e.clock.Set(time.Now().Add(time.Hour))
	must(t, e.rdb.Del(ctx, "{cred:garant-test}:watches:lock").Err())
	if n := b.Round(ctx); n != 1 {
		t.Fatalf("second round checked %d credentials, want 1", n)
	}
	if got := e.sim.Kit.Calls.Get("POST /v2/find-modified"); got != 6 {
		t.Errorf("find-modified calls after two rounds = %d, want 6", got)
	}
	for _, id := range ids {
		list, err := e.hooks.List(ctx, id, 100)
		must(t, err)
		want := map[string]int{"alpha": 1, "beta": 1, "gamma": 0}[id]
		if len(list) != want {
			t.Errorf("%s deliveries = %d, want %d", id, len(list), want)
		}
	}
}

// TestCreateRefusals: a callback outside the allow-list and a too short
// interval are refused naming the field, and nothing is stored or spent.
func TestCreateRefusals(t *testing.T) {
	e := newEnv(t)
	m := e.manager(t)
	ctx := context.Background()
	alpha := e.tenants["alpha"]
	for _, c := range []struct {
		req   watches.Request
		field string
	}{
		{watches.Request{Topics: []int{garantsim.TopicLabourCode}, CallbackURL: "https://evil.example/hook"}, "body.callback_url"},
		{watches.Request{Topics: []int{garantsim.TopicLabourCode}, CallbackURL: e.recv.URL + "/", Interval: time.Minute}, "body.interval_seconds"},
		{watches.Request{CallbackURL: e.recv.URL + "/"}, "body.topics"},
	} {
		_, err := m.Create(ctx, alpha, c.req)
		ae, ok := apperr.As(err)
		if !ok || ae.Kind != apperr.Invalid || len(ae.Fields) == 0 || ae.Fields[0].Field != c.field {
			t.Errorf("Create(%+v) = %v, want Invalid naming %s", c.req, err, c.field)
		}
	}
	list, err := m.List(ctx, alpha)
	must(t, err)
	if len(list) != 0 {
		t.Errorf("List after refusals = %d watches, want 0", len(list))
	}
	if n := e.sim.Kit.Calls.Total(); n != 0 {
		t.Errorf("simulator calls = %d, want 0", n)
	}
}

// TestIsolation: beta neither lists nor deletes alpha's watch.
func TestIsolation(t *testing.T) {
	e := newEnv(t)
	m := e.manager(t)
	ctx := context.Background()
	w, err := m.Create(ctx, e.tenants["alpha"], watches.Request{Topics: []int{garantsim.TopicTaxCode}, CallbackURL: e.recv.URL + "/"})
	must(t, err)
	list, err := m.List(ctx, e.tenants["beta"])
	must(t, err)
	if len(list) != 0 {
		t.Errorf("beta's list = %+v, want empty", list)
	}
	if err := m.Delete(ctx, e.tenants["beta"], w.ID); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("beta Delete(alpha's) = %v, want NotFound", err)
	}
	list, err = m.List(ctx, e.tenants["alpha"])
	must(t, err)
	if len(list) != 1 || list[0].ID != w.ID {
		t.Errorf("alpha's list = %+v, want its watch", list)
	}
	must(t, m.Delete(ctx, e.tenants["alpha"], w.ID))
	if err := m.Delete(ctx, e.tenants["alpha"], w.ID); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("Delete twice = %v, want NotFound", err)
	}
}

// TestCreateRefusedByForecast: a watch whose merged schedule would spend
// the credential's links_control family before its monthly reset is
// refused, saying when it would run out; the schedule it joins counts
// (documents shared with other tenants' watches cost nothing more).
func TestCreateRefusedByForecast(t *testing.T) {
	e := newEnv(t)
	m := e.manager(t)
	// A limit of 1.5 calls per hour left in the month: one call an hour
	// lasts, two do not.
	moscow, err := time.LoadLocation("Europe/Moscow")
	must(t, err)
	now := time.Now().In(moscow)
	reset := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, moscow)
	limit := int64(time.Until(reset).Hours()*1.5) + 1
	q, err := quota.New(e.rdb, quota.Config{Rules: []quota.Rule{{Scope: quota.ScopeCredential, Upstream: "garant",
		Family: quota.FamilyLinksControl, Period: quota.PeriodMonth, Limit: limit}}}, prometheus.NewRegistry())
	must(t, err)
	m.Garant.Quota = q
	ctx := context.Background()
	topics := e.sim.Topics()
	e.clock.Set(time.Now())
	for i := range 100 { // 100 documents checked hourly: one call an hour
		tn := e.tenants[[]string{"alpha", "beta", "gamma"}[i%3]]
		_, err := m.Create(ctx, tn, watches.Request{Topics: topics[i : i+1], CallbackURL: e.recv.URL + "/", Interval: time.Hour})
		must(t, err)
	}
	// The same documents again, from another tenant: still one call an hour.
	_, err = m.Create(ctx, e.tenants["gamma"], watches.Request{Topics: topics[:100], CallbackURL: e.recv.URL + "/", Interval: time.Hour})
	must(t, err)
	// A 101st document needs a second call an hour.
	_, err = m.Create(ctx, e.tenants["alpha"], watches.Request{Topics: topics[100:101], CallbackURL: e.recv.URL + "/", Interval: time.Hour})
	ae, ok := apperr.As(err)
	if !ok || ae.Kind != apperr.Unprocessable || ae.Extensions["exhausts_at"] == nil || ae.Extensions["family"] != quota.FamilyLinksControl {
		t.Fatalf("Create(a 101st hourly document) = %v, want Unprocessable saying when links_control runs out", err)
	}
	at, err := time.Parse(time.RFC3339, ae.Extensions["exhausts_at"].(string))
	if err != nil || !at.Before(reset) || !at.After(time.Now()) {
		t.Errorf("exhausts_at = %v (%v), want between now and the reset %v", ae.Extensions["exhausts_at"], err, reset)
	}
	// Daily, it fits.
	if _, err := m.Create(ctx, e.tenants["alpha"], watches.Request{Topics: topics[100:101], CallbackURL: e.recv.URL + "/", Interval: 24 * time.Hour}); err != nil {
		t.Errorf("Create(a 101st daily document) = %v, want it stored", err)
	}
	if n := e.sim.Kit.Calls.Total(); n != 0 {
		t.Errorf("simulator calls = %d, want 0 (creating watches spends nothing)", n)
	}
}
