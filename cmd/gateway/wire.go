package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	apispec "github.com/legalgate/legalgate/api"
	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/fairshare"
	"github.com/legalgate/legalgate/internal/fipssvc"
	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/garantsvc"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/ops"
	"github.com/legalgate/legalgate/internal/park"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/telemetry"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fips"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
	"github.com/legalgate/legalgate/internal/upstream/garant"
	"github.com/legalgate/legalgate/internal/upstreamguard"
	"github.com/legalgate/legalgate/internal/usage"
	"github.com/legalgate/legalgate/internal/watches"
	"github.com/legalgate/legalgate/internal/webhooks"
)

// app is everything run builds from the config besides the HTTP layer.
type app struct {
	ops     *ops.Table
	tenants *tenant.Live // the tenants, keys and credentials in force
	quota   *quota.Engine
	guard   *upstreamguard.Guard
	fssp    *fssptasks.Engine
	garant  *garantsvc.Service
	fips    *fipssvc.Service
	fair    *fairshare.Limiter
	tel     *telemetry.Telemetry
	// jobs is the background work (run by lifecycle.serve, stopped after
	// the drain).
	jobs []job
	// apply takes a reloaded configuration into force: tenants, keys,
	// credentials, allocations, credential rates, fair-share caps and rates.
	// On an error nothing visible to requests changed.
	apply func(cfg *config.Config, generation uint64) error
	hooks *webhooks.Dispatcher
	// watches keeps the tenants' watches of Garant documents (nil without Garant).
	watches *watches.Manager
}

// wire builds the app from cfg; it starts nothing.
func wire(cfg *config.Config, rdb redis.UniversalClient, reg *prometheus.Registry, log *slog.Logger, tel *telemetry.Telemetry) (*app, error) {
	table, err := ops.Contract()
	if err != nil {
		return nil, err
	}
	reg0, err := buildTenants(cfg, 1)
	if err != nil {
		return nil, err
	}
	tenants := tenant.NewLive(reg0)
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("config: time_zone: %w", err)
	}
	// A per-second throttle protects the upstream, not a paid quota: when Redis
	// is down, operations whose only family is the rate go on (metered ones
	// still fail closed).
	failOpen := map[string]bool{}
	for _, up := range table.Upstreams() {
		failOpen[up+"/"+quota.FamilyRate] = true
	}
	for _, f := range cfg.Quota.FailOpen {
		failOpen[f] = true
	}
	q, err := quota.New(rdb, quota.Config{
		Rules: quotaRules(cfg), Accounts: quotaAccounts(cfg), Location: loc, FailOpen: failOpen, Timeout: cfg.Redis.Timeout * 2,
		Families: quota.FamiliesOf(table), Splits: quota.SplitsOf(table),
	}, reg)
	if err != nil {
		return nil, fmt.Errorf("quota: %w", err)
	}
	upstreamMetrics := metrics.NewUpstream(reg)
	upstreamMetrics.SetDeniable(config.Garant, garant.Methods) // Garant's 403: a permission the token lacks
	addCredentialMetrics(upstreamMetrics, reg0)

	guard, err := wireGuard(cfg, table, rdb, reg, log)
	if err != nil {
		return nil, err
	}
	a := &app{ops: table, tenants: tenants, quota: q, guard: guard, tel: tel}
	if a.fair, err = wireFairness(cfg, rdb, reg, log); err != nil {
		return nil, err
	}
	if cfg.Uses(config.Garant) {
		if a.garant, err = wireGarant(cfg, rdb, reg, upstreamMetrics, guard, q, table, loc, tel); err != nil {
			return nil, err
		}
		a.garant.Fair = a.fair
	}
	if cfg.Uses(config.FIPS) {
		if a.fips, err = wireFIPS(cfg, rdb, reg, upstreamMetrics, guard, log, tel); err != nil {
			return nil, err
		}
	}
	a.hooks = wireWebhooks(cfg, rdb, reg, log)
	var tasks *fssptasks.Engine
	if cfg.Uses(config.FSSP) {
		if tasks, err = wireFSSP(cfg, rdb, reg, upstreamMetrics, guard, q, tenants, fsspCallbacks{a.hooks}, log, tel); err != nil {
			return nil, err
		}
		a.fssp = tasks
	}

	// The quota engine's subscription to the other replicas' invalidations
	// (refunds, split changes): while it holds, an exhaustion is answered
	// from memory until it resets.
	a.jobs = append(a.jobs, job{"quota invalidations", q.Run})
	a.jobs = append(a.jobs, job{"webhook deliveries", a.hooks.Run})
	if tasks != nil {
		a.jobs = append(a.jobs, job{"fssp task engine", tasks.Run})
	}
	if a.garant != nil {
		// Garant is the source of truth for its quotas: read /v2/limits of
		// every credential every few minutes (one replica per round).
		garantCredentials := func() []*tenant.Credential {
			var creds []*tenant.Credential
			for _, c := range tenants.Load().Credentials() {
				if c.Upstream == config.Garant {
					creds = append(creds, c)
				}
			}
			return creds
		}
		limitsSync := &garantsvc.LimitsSync{Service: a.garant, Redis: rdb, Current: garantCredentials,
			Log: log, Timeout: cfg.Upstreams.Garant.Timeout + 5*time.Second, RedisTimeout: 2 * cfg.Redis.Timeout}
		a.jobs = append(a.jobs, job{"garant limits sync", func(ctx context.Context) error { limitsSync.Run(ctx); return nil }})
		// Every tenant's watches of a credential, merged into one round a
		// minute (one replica per credential and round).
		a.watches = &watches.Manager{Redis: rdb, Garant: a.garant, Hooks: a.hooks, Tenants: tenants.Load, Log: log,
			Tick: cfg.Watches.Tick, MinInterval: cfg.Watches.MinInterval, DefaultInterval: cfg.Watches.DefaultInterval,
			DocumentBase: cfg.Upstreams.Garant.DocumentBase,
			RedisTimeout: 2 * cfg.Redis.Timeout, CallTimeout: cfg.Upstreams.Garant.Timeout + 5*time.Second}
		a.jobs = append(a.jobs, job{"garant watches", a.watches.Run})
	}
	a.apply = func(next *config.Config, generation uint64) error {
		// Everything that can refuse is built before anything is swapped.
		reg, err := buildTenants(next, generation)
		if err != nil {
			return err
		}
		if err := q.SetRules(quotaRules(next), quotaAccounts(next)); err != nil {
			return fmt.Errorf("quota: %w", err)
		}
		if err := guard.SetCredentials(guardCredentials(next, table)); err != nil {
			return fmt.Errorf("upstream guard: %w", err)
		}
		a.fair.SetConfig(fairConfig(next))
		a.hooks.SetTenants(next.WebhooksConfig())
		addCredentialMetrics(upstreamMetrics, reg)
		tenants.Store(reg)
		return nil
	}
	return a, nil
}

// deps is what handlers.NewServer needs: the app, the config's limits and
// conns, which takes back the connections of answered long polls.
func (a *app) deps(cfg *config.Config, rdb redis.UniversalClient, reg *prometheus.Registry, log *slog.Logger, conns park.Resumer) *handlers.Deps {
	return &handlers.Deps{
		Log: log, Tenants: a.tenants, Redis: rdb, Registry: reg, HTTP: metrics.NewHTTP(reg),
		Quotas: &usage.Reports{Quota: a.quota}, SpecYAML: apispec.YAML, Ops: a.ops, FSSP: a.fssp, Garant: a.garant, FIPS: a.fips,
		Conns: conns, MaxParked: cfg.FSSP.MaxParked, Fair: a.fair,
		Breakers: a.guard, Telemetry: a.tel, Webhooks: a.hooks, Watches: a.watches,
		Limits: handlers.Limits{
			BodyTimeout: cfg.Server.BodyTimeout, BodyIdleTimeout: cfg.Server.BodyIdleTimeout, WriteTimeout: cfg.Server.WriteTimeout,
			BodyBudget: int64(cfg.Server.BodyBudgetMiB) << 20, TenantBodyBudget: int64(cfg.Server.TenantBodyBudgetMiB) << 20,
		},
	}
}

// addCredentialMetrics makes the credential series of reg exist, with their
// expiry where known.
func addCredentialMetrics(um *metrics.Upstream, reg *tenant.Registry) {
	for _, c := range reg.Credentials() {
		um.AddCredential(c.Upstream, c.Name)
		if !c.ExpiresAt.IsZero() {
			um.CredentialExpiry.WithLabelValues(c.Name, c.Upstream).Set(float64(c.ExpiresAt.Unix()))
		}
	}
}

// wireGuard builds the upstream guard: a circuit breaker per credential and
// pacing to each credential's rate (config.CredentialRate); the 429s of an
// upstream whose contract rules say retry_429 (Garant's: over its
// per-second rate) are retried within the retry budget. A rate above the
// documented one is a start-up warning.
func wireGuard(cfg *config.Config, table *ops.Table, rdb redis.UniversalClient, reg prometheus.Registerer, log *slog.Logger) (*upstreamguard.Guard, error) {
	var retried []string
	for _, name := range table.Upstreams() {
		if u, _ := table.Upstream(name); u.Retry429 {
			retried = append(retried, name)
		}
	}
	gc := upstreamguard.Config{
		Credentials:          guardCredentials(cfg, table),
		RetryTooManyRequests: retried,
		Failures:             cfg.Guard.Breaker.Failures, OpenFor: cfg.Guard.Breaker.OpenFor, Probes: cfg.Guard.Breaker.Probes,
		MaxWait: cfg.Guard.Pacing.MaxWait, Margin: cfg.Guard.Pacing.Margin, RetryShare: cfg.Guard.Pacing.RetryShare,
		RedisTimeout: cfg.Redis.Timeout, Log: log,
	}
	for _, w := range cfg.RateWarnings() {
		log.Warn("config: " + w)
	}
	g, err := upstreamguard.New(rdb, gc, reg)
	if err != nil {
		return nil, fmt.Errorf("upstream guard: %w", err)
	}
	return g, nil
}

// guardCredentials lists the credentials the upstream guard guards, each
// paced to its rate.
func guardCredentials(cfg *config.Config, table *ops.Table) []upstreamguard.Credential {
	var out []upstreamguard.Credential
	for name, c := range cfg.Credentials {
		u, _ := table.Upstream(c.Upstream)
		out = append(out, upstreamguard.Credential{Upstream: c.Upstream, Title: u.Title, Name: name, Rate: cfg.CredentialRate(name)})
	}
	return out
}

// wireGarant builds the Garant client, its cache and the Garant service.
func wireGarant(cfg *config.Config, rdb redis.UniversalClient, reg prometheus.Registerer, um *metrics.Upstream, guard *upstreamguard.Guard, q *quota.Engine, table *ops.Table, loc *time.Location, tel *telemetry.Telemetry) (*garantsvc.Service, error) {
	garantClient, err := garant.New(garant.Config{
		BaseURL: cfg.Upstreams.Garant.BaseURL, EditionsPath: cfg.Upstreams.Garant.EditionsPath,
		Proxima: cfg.Upstreams.Garant.Proxima, Timeout: cfg.Upstreams.Garant.Timeout, Location: loc,
		Transport: upstreamTransport(tel, cfg.Upstreams.Garant.PropagateTrace, config.Garant, guard, um),
	})
	if err != nil {
		return nil, fmt.Errorf("garant: %w", err)
	}
	garantCache, err := cache.New(rdb, cache.Config{
		Timeout: min(cfg.Redis.Timeout, 100*time.Millisecond), Grace: cfg.Cache.Grace,
		MaxEntryBytes: cfg.Cache.MaxEntryBytes, FillTimeout: cfg.Upstreams.Garant.Timeout + 5*time.Second,
		LocalTTL: cfg.Cache.LocalTTL, LocalEntries: cfg.Cache.LocalEntries, LocalBytes: cfg.Cache.LocalBytes,
	}, reg)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	svc := &garantsvc.Service{Client: garantClient, Quota: q, Cache: garantCache, Ops: table, TTL: cfg.Cache.TTL, Guard: guard,
		ShareAcrossCredentials: cfg.Cache.ShareCredentials, DocumentBase: cfg.Upstreams.Garant.DocumentBase,
		OnRejected: func(c string) { um.CredentialRejectedNow(config.Garant, c) }, Metrics: um}
	garantCache.AddOperations(svc.CachedOperations()...)
	return svc, nil
}

// wireFSSP builds the FSSP client and task engine.
func wireFSSP(cfg *config.Config, rdb redis.UniversalClient, reg prometheus.Registerer, um *metrics.Upstream, guard *upstreamguard.Guard, q *quota.Engine, tenants tenant.Source, cb fssptasks.Callbacks, log *slog.Logger, tel *telemetry.Telemetry) (*fssptasks.Engine, error) {
	fsspClient, err := fssp.New(fssp.Config{
		BaseURL:   cfg.Upstreams.FSSP.BaseURL,
		Transport: upstreamTransport(tel, cfg.Upstreams.FSSP.PropagateTrace, config.FSSP, guard, um),
		Timeout:   cfg.Upstreams.FSSP.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("fssp: %w", err)
	}
	// A search whose credential's breaker is open fails before it reserves.
	reserve := func(ctx context.Context, r quota.Request) (*quota.Reservation, error) {
		if err := guard.Check(r.Upstream, r.Credential); err != nil {
			return nil, err
		}
		return q.Reserve(ctx, r)
	}
	return fssptasks.New(rdb, fsspClient, reserve, fssptasks.Config{
		MaxWait: cfg.FSSP.MaxWait, Deadline: cfg.FSSP.Deadline, PollInitial: cfg.FSSP.PollInitial,
		PollMax: cfg.FSSP.PollMax, GroupLimit: cfg.FSSP.GroupLimit,
		// A poller renews its lease during upstream calls too; a lease of
		// twice a call's timeout leaves room for a slow Redis.
		LeaseTTL:    2*cfg.Upstreams.FSSP.Timeout + 5*time.Second,
		Idempotency: idempotency.New(rdb, idempotency.Options{Prefix: "fssp:idem", Timeout: 2 * cfg.Redis.Timeout, Log: log}),
		Tokens: func(name string) (tenant.Secret, bool) {
			c, ok := tenants.Load().Credential(name)
			if !ok {
				return tenant.Secret{}, false
			}
			return c.Secret, true
		},
		OnRejected: func(c string) { um.CredentialRejectedNow(config.FSSP, c) },
		Callbacks:  cb,
		Tracer:     tel.TracerProvider(),
	}, reg, log), nil
}

// wireFIPS builds the FIPS service: its client (route table from config,
// dictionaries cached in Redis) and the idempotency store of its creates.
func wireFIPS(cfg *config.Config, rdb redis.UniversalClient, _ prometheus.Registerer, um *metrics.Upstream, guard *upstreamguard.Guard, log *slog.Logger, tel *telemetry.Telemetry) (*fipssvc.Service, error) {
	fc, err := fips.New(fips.Config{
		BaseURL: cfg.Upstreams.FIPS.BaseURL, Routes: fipsRoutes(cfg), Fields: fipsFields(cfg), Timeout: cfg.Upstreams.FIPS.Timeout,
		Transport: upstreamTransport(tel, cfg.Upstreams.FIPS.PropagateTrace, config.FIPS, guard, um),
		Redis:     rdb, RedisTimeout: cfg.Redis.Timeout,
		// A 401 counts the rejection and moves the credential's expiry to now.
		OnRejected: func(c string) { um.CredentialRejectedNow(config.FIPS, c) },
		OnUnparsed: func(op, f string) { um.UnparsedValue(config.FIPS, op, f) },
	})
	if err != nil {
		return nil, fmt.Errorf("config: upstreams.%w", err)
	}
	return &fipssvc.Service{Client: fc, Idem: idempotency.New(rdb, idempotency.Options{Timeout: 2 * cfg.Redis.Timeout, Log: log})}, nil
}

// fipsRoutes is the config's FIPS route table as the client takes it.
func fipsRoutes(cfg *config.Config) map[string]fips.Route {
	out := make(map[string]fips.Route, len(cfg.Upstreams.FIPS.Routes))
	for op, r := range cfg.Upstreams.FIPS.Routes {
		out[op] = fips.Route{Method: r.Method, Path: r.Path, ContentType: r.ContentType, Part: r.Part, Signature: r.Signature}
	}
	return out
}

// fipsFields is the config's FIPS field table as the client takes it.
func fipsFields(cfg *config.Config) fips.Fields {
	f := cfg.Upstreams.FIPS.Fields
	return fips.Fields{
		ApplicationType: f.Application.Type, ApplicationCategory: f.Application.Category, ApplicationTitle: f.Application.Title,
		DocumentType: f.Document.Type, DocumentTypeTitle: f.Document.TypeTitle, DocumentDescription: f.Document.Description,
		SignatureList: f.Signatures.List, SignatureAlgorithm: f.Signatures.Algorithm, SignatureValue: f.Signatures.Value,
		SubmissionAlgorithm: f.Submission.Algorithm, SubmissionSignature: f.Submission.Signature,
	}
}

// upstreamTransport is the transport of upstream's client: an HTTP client
// span per call when tracing is on (propagating the trace when the config
// says so), then the upstream guard, the upstream metrics and the connections.
func upstreamTransport(tel *telemetry.Telemetry, propagate bool, upstream string, guard *upstreamguard.Guard, um *metrics.Upstream) http.RoundTripper {
	return tel.Transport(upstream, propagate, guard.Transport(upstream, um.Transport(upstream, newTransport())))
}

// newTransport is the HTTP transport of one upstream: keep-alive connections
// sized for a gateway, explicit timeouts, no proxy from the environment.
func newTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}
}

// buildTenants turns the config's credentials and tenants into the registry
// of that generation.
func buildTenants(cfg *config.Config, generation uint64) (*tenant.Registry, error) {
	reg := tenant.NewRegistry()
	reg.Generation = generation
	for name, c := range cfg.Credentials {
		cred := &tenant.Credential{Name: name, Upstream: c.Upstream, Secret: tenant.NewSecret(c.Secret)}
		if c.ExpiresAt != nil {
			cred.ExpiresAt = *c.ExpiresAt
		}
		reg.AddCredential(cred)
	}
	for id, t := range cfg.Tenants {
		tn := &tenant.Tenant{ID: id, Admin: t.Admin, Credentials: map[string]*tenant.Credential{}}
		for upstream, name := range t.Credentials {
			c, _ := reg.Credential(name)
			tn.Credentials[upstream] = c
		}
		if err := reg.AddTenant(tn, t.KeysSHA256); err != nil {
			return nil, fmt.Errorf("config: tenants.%s: %w", id, err)
		}
	}
	return reg, nil
}

// quotaAccounts lists which credential each tenant uses: the quota gauges
// report all of them.
func quotaAccounts(cfg *config.Config) []quota.Account {
	var accounts []quota.Account
	for id, t := range cfg.Tenants {
		for _, name := range t.Credentials {
			if c, ok := cfg.Credentials[name]; ok {
				accounts = append(accounts, quota.Account{Tenant: id, Credential: name, Upstream: c.Upstream})
			}
		}
	}
	return accounts
}

// quotaRules lists the credential and tenant limits of the config. A
// credential's rate of period second is its pace, kept by the upstream
// guard (wireGuard), not a quota.
func quotaRules(cfg *config.Config) []quota.Rule {
	var rules []quota.Rule
	for name, c := range cfg.Credentials {
		for _, l := range c.Limits {
			if l.Family == quota.FamilyRate && quota.Period(l.Period) == quota.PeriodSecond {
				continue
			}
			rules = append(rules, quota.Rule{Scope: quota.ScopeCredential, Owner: name, Upstream: c.Upstream,
				Family: l.Family, Period: quota.Period(l.Period), Limit: l.Limit})
		}
	}
	for id, t := range cfg.Tenants {
		for _, l := range t.Limits {
			rules = append(rules, quota.Rule{Scope: quota.ScopeTenant, Owner: id, Upstream: strings.ToLower(l.Upstream),
				Family: l.Family, Period: quota.Period(l.Period), Limit: l.Limit})
		}
	}
	return rules
}
