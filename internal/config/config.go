// Package config is the gateway's configuration: one YAML file, loaded and
// validated once at start-up, failing with a message that names the field.
// Secret values are given as ${ENV_VAR} or file:/path and resolved here; they
// are held as tenant.Secret so that they never print.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v3"

	"github.com/legalgate/legalgate/internal/ops"
)

// Upstream names.
const (
	Garant = "garant"
	FSSP   = "fssp"
	FIPS   = "fips"
)

// Config is the whole configuration.
type Config struct {
	Addr        string                `yaml:"addr"`
	Redis       Redis                 `yaml:"redis"`
	TimeZone    string                `yaml:"time_zone"` // quota periods; default Europe/Moscow
	Credentials map[string]Credential `yaml:"credentials"`
	Tenants     map[string]Tenant     `yaml:"tenants"`
	Upstreams   Upstreams             `yaml:"upstreams"`
	Cache       Cache                 `yaml:"cache"`
	FSSP        FSSPTasks             `yaml:"fssp"`
	Quota       QuotaOptions          `yaml:"quota"`
	Server      Server                `yaml:"server"`
	Fairness    Fairness              `yaml:"fairness"`
	Guard       UpstreamGuard         `yaml:"upstream_guard"`
	Webhooks    Webhooks              `yaml:"webhooks"`
	Watches     Watches               `yaml:"watches"`
}

// Redis says where Redis is. Empty URL and Addrs: an embedded in-process
// server (demo only: nothing is durable).
type Redis struct {
	URL     string        `yaml:"url"`   // one node: redis://[:password@]host:6379/0, or ${ENV} / file:/path holding it
	Addrs   []string      `yaml:"addrs"` // a Redis Cluster
	Timeout time.Duration `yaml:"timeout"`
}

// Embedded reports whether the gateway should start its own in-process Redis.
func (r Redis) Embedded() bool { return r.URL == "" && len(r.Addrs) == 0 }

// Credential is one upstream account.
type Credential struct {
	Upstream  string     `yaml:"upstream"`
	Secret    string     `yaml:"secret"` // ${ENV}, file:/path or (not recommended) the literal value
	ExpiresAt *time.Time `yaml:"expires_at"`
	Limits    []Limit    `yaml:"limits"`
}

// Tenant is one calling service.
type Tenant struct {
	KeysSHA256  []string          `yaml:"keys_sha256"`
	Admin       bool              `yaml:"admin"`
	Credentials map[string]string `yaml:"credentials"` // upstream → credential name
	Limits      []Limit           `yaml:"limits"`
	Webhooks    *TenantWebhooks   `yaml:"webhooks"` // nil: the tenant may not ask for callbacks
}

// Limit is one quota rule. For a credential the upstream is the credential's.
type Limit struct {
	Upstream string `yaml:"upstream"`
	Family   string `yaml:"family"`
	Period   string `yaml:"period"` // month, day, hour, sliding_hour, sliding_day, second
	Limit    int64  `yaml:"limit"`
}

// Upstreams holds each upstream's connection settings.
type Upstreams struct {
	Garant GarantUpstream `yaml:"garant"`
	FSSP   Upstream       `yaml:"fssp"`
	FIPS   FIPSUpstream   `yaml:"fips"`
}

// Upstream is the common part of an upstream's settings.
type Upstream struct {
	BaseURL string        `yaml:"base_url"`
	Timeout time.Duration `yaml:"timeout"`
	// PropagateTrace sends the W3C traceparent, tracestate and baggage of a
	// traced request to the upstream (off by default: the government APIs
	// need not learn the callers' trace ids). Only with tracing on.
	PropagateTrace bool `yaml:"propagate_trace"`
}

// blocks maps each upstream's name to its common settings: the one place
// of this package that lists the upstreams by name (the contract's
// x-gateway-upstreams lists the same; TestUpstreamsMatchContract).
func (u *Upstreams) blocks() map[string]*Upstream {
	return map[string]*Upstream{Garant: &u.Garant.Upstream, FSSP: &u.FSSP, FIPS: &u.FIPS.Upstream}
}

// knownUpstream reports whether name is an upstream of the config.
func knownUpstream(name string) bool {
	_, ok := (&Upstreams{}).blocks()[name]
	return ok
}

// Names lists the upstreams the config knows, sorted.
func (u *Upstreams) Names() []string { return slices.Sorted(maps.Keys(u.blocks())) }

// GarantUpstream adds Garant's options.
type GarantUpstream struct {
	Upstream     `yaml:",inline"`
	EditionsPath string `yaml:"editions_path"` // default /v2/redactions/{topic}
	DocumentBase string `yaml:"document_base"` // absolute URL base, default https://internet.garant.ru
	Proxima      bool   `yaml:"proxima"`       // on-prem: no auth, a subset of methods
}

// FIPSUpstream adds the route table and the request bodies' member names,
// since FIPS's document publishes neither.
type FIPSUpstream struct {
	Upstream `yaml:",inline"`
	Routes   map[string]FIPSRoute `yaml:"routes"` // operation id → route; checked when the FIPS client is built
	Fields   FIPSFields           `yaml:"fields"` // request body member names; defaults filled, checked at load
}

// FIPSRoute is how one FIPS operation is called: a path template alone (a
// string) or a mapping of any of method, path, content_type, part (the
// multipart part name) and signature (json, multipart or raw). Fields left
// out keep the defaults, which `gateway -print-routes` prints.
type FIPSRoute struct {
	Method      string `yaml:"method"`
	Path        string `yaml:"path"`
	ContentType string `yaml:"content_type"`
	Part        string `yaml:"part"`
	Signature   string `yaml:"signature"`
}

// UnmarshalYAML reads a path alone or a mapping without unknown fields.
func (r *FIPSRoute) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*r = FIPSRoute{Path: n.Value}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a FIPS route is a path or a mapping of method, path, content_type, part, signature", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i].Value; k {
		case "method", "path", "content_type", "part", "signature":
		default:
			return fmt.Errorf("line %d: field %s not found in a FIPS route (method, path, content_type, part, signature)", n.Content[i].Line, k)
		}
	}
	type plain FIPSRoute
	return n.Decode((*plain)(r))
}

// Cache configures the Garant response cache.
type Cache struct {
	TTL              map[string]time.Duration `yaml:"ttl"` // operation id → TTL
	Grace            time.Duration            `yaml:"grace"`
	MaxEntryBytes    int64                    `yaml:"max_entry_bytes"`
	ShareCredentials bool                     `yaml:"share_across_credentials"`
	// The in-process L1 in front of Redis: how long a replica serves an entry
	// without asking Redis (also how long other replicas may serve an entry
	// after a purge). 0: 1s; negative: no L1.
	LocalTTL     time.Duration `yaml:"local_ttl"`
	LocalEntries int           `yaml:"local_entries"` // 0: 10,000
	LocalBytes   int64         `yaml:"local_bytes"`   // 0: 64 MiB
}

// FSSPTasks configures the FSSP task engine.
type FSSPTasks struct {
	MaxWait     time.Duration `yaml:"max_wait"`     // cap of ?wait=, default 25s, at most 60s
	Deadline    time.Duration `yaml:"deadline"`     // overall task deadline, default 10m
	GroupLimit  int           `yaml:"group_limit"`  // sub-requests per upstream group, default 50 (FSSP's later official limit; its API document says 100)
	PollInitial time.Duration `yaml:"poll_initial"` // default 3s
	PollMax     time.Duration `yaml:"poll_max"`     // default 20s
	// MaxParked caps the HTTP/1.x long polls parked without a goroutine at
	// once (default 20000; -1: none); beyond it they wait the usual way.
	// Each parked poll holds a file descriptor.
	MaxParked int `yaml:"max_parked"`
}

// QuotaOptions tunes the quota engine.
type QuotaOptions struct {
	FailOpen []string `yaml:"fail_open"` // "upstream/family" that go on when Redis is down
}

// Server holds HTTP server settings.
type Server struct {
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	// AdminAddr is the admin listener, apart from the public API: /metrics
	// and, with Pprof, /debug/pprof/ (default 127.0.0.1:8081, loopback; the
	// -admin-addr flag or GATEWAY_ADMIN_ADDR override it). The public
	// listener answers 404 there.
	AdminAddr string `yaml:"admin_addr"`
	Pprof     bool   `yaml:"pprof"` // serve net/http/pprof on the admin listener; default off

	// Limits of one request (internal/handlers.Limits). A request body
	// must arrive within BodyTimeout in all (default 30s) and
	// BodyIdleTimeout between two reads (default 10s; a streamed FIPS
	// upload has neither, only its handler's 30s per chunk); an answer must be written within
	// WriteTimeout of the request's arrival (default 90s; a long poll adds
	// its wait). Request bodies held in memory at once total at most
	// BodyBudgetMiB (default 64), TenantBodyBudgetMiB of them per tenant
	// (default 32): past them 429 (the tenant's share) or 503, with
	// Retry-After; a body larger than either is 413.
	BodyTimeout         time.Duration `yaml:"body_timeout"`
	BodyIdleTimeout     time.Duration `yaml:"body_idle_timeout"`
	WriteTimeout        time.Duration `yaml:"write_timeout"`
	BodyBudgetMiB       int           `yaml:"body_budget_mib"`
	TenantBodyBudgetMiB int           `yaml:"tenant_body_budget_mib"`
}

// Fairness keeps one tenant from starving the others (internal/fairshare).
// In each cap and rate, 0 takes the default and -1 turns it off. The caps
// count per replica; the rates count in Redis, across replicas.
type Fairness struct {
	LongPolls     LongPollCaps              `yaml:"long_polls"`
	UpstreamCalls UpstreamCallCaps          `yaml:"upstream_calls"`
	Rates         map[string]Rate           `yaml:"rates"`   // garant, fips → each tenant's rate of the upstream's unmetered operations
	Tenants       map[string]TenantFairness `yaml:"tenants"` // one tenant's own caps and rates; 0 (or absent): the defaults above
}

// LongPollCaps caps FSSP long polls (?wait= and Prefer: wait), parked or not.
type LongPollCaps struct {
	PerTenant int `yaml:"per_tenant"` // default 1000
	Global    int `yaml:"global"`     // default 20000
}

// UpstreamCallCaps caps the Garant and FIPS calls in flight on one credential
// (cache hits call nothing).
type UpstreamCallCaps struct {
	PerTenant     int `yaml:"per_tenant"`     // one tenant's; default 16
	PerCredential int `yaml:"per_credential"` // every tenant's together; default 64
}

// Rate is a per-tenant rate: per_second on average, burst at once.
type Rate struct {
	PerSecond int `yaml:"per_second"`
	Burst     int `yaml:"burst"` // default 2 × per_second
}

// TenantFairness replaces the defaults for one tenant.
type TenantFairness struct {
	LongPolls     int             `yaml:"long_polls"`
	UpstreamCalls int             `yaml:"upstream_calls"`
	Rates         map[string]Rate `yaml:"rates"`
}

// DefaultRates are the default per-tenant rates of unmetered operations:
// Garant's well under the credential's pace (upstream_guard), so that two
// tenants cannot starve each other; FIPS publishes no limit.
func DefaultRates() map[string]Rate {
	return map[string]Rate{Garant: {PerSecond: 5, Burst: 10}, FIPS: {PerSecond: 10, Burst: 20}}
}

func (f *Fairness) applyDefaults() {
	setInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	setInt(&f.LongPolls.PerTenant, 1000)
	setInt(&f.LongPolls.Global, 20000)
	setInt(&f.UpstreamCalls.PerTenant, 16)
	setInt(&f.UpstreamCalls.PerCredential, 64)
	if f.Rates == nil {
		f.Rates = map[string]Rate{}
	}
	for up, def := range DefaultRates() {
		r := f.Rates[up]
		setInt(&r.PerSecond, def.PerSecond)
		if r.PerSecond > 0 {
			setInt(&r.Burst, 2*r.PerSecond)
		}
		f.Rates[up] = r
	}
	for id, t := range f.Tenants {
		for up, r := range t.Rates {
			if r.PerSecond > 0 {
				setInt(&r.Burst, 2*r.PerSecond)
			}
			t.Rates[up] = r
		}
		f.Tenants[id] = t
	}
}

// RatedUpstreams are the upstreams fairness.rates applies to: those with an
// unmetered upstream call (x-gateway share free_call) in the contract.
func RatedUpstreams() []string {
	table, err := ops.Contract()
	if err != nil {
		return nil
	}
	var out []string
	for _, up := range table.Upstreams() {
		if slices.ContainsFunc(table.Of(up), func(o *ops.Operation) bool { return o.Share == ops.ShareFreeCall }) {
			out = append(out, up)
		}
	}
	return out
}

// validateFairness checks the fairness section, and that no tenant limit
// is a per-second rate (the quota engine's rate family paces a credential;
// a tenant's rate is fairness.rates).
func (c *Config) validateFairness(bad func(string, string, ...any)) {
	f := &c.Fairness
	atLeast := func(field string, n int) {
		if n < -1 {
			bad(field, "must be -1 (off), 0 (the default) or a positive count")
		}
	}
	paced := RatedUpstreams()
	rates := func(field string, rs map[string]Rate) {
		for up, r := range rs {
			rf := field + "." + up
			if !slices.Contains(paced, up) {
				bad(rf, "rates are for the upstreams with unmetered calls: %s", strings.Join(paced, ", "))
			}
			atLeast(rf+".per_second", r.PerSecond)
			if r.Burst < 0 {
				bad(rf+".burst", "must not be negative")
			}
		}
	}
	atLeast("fairness.long_polls.per_tenant", f.LongPolls.PerTenant)
	atLeast("fairness.long_polls.global", f.LongPolls.Global)
	atLeast("fairness.upstream_calls.per_tenant", f.UpstreamCalls.PerTenant)
	atLeast("fairness.upstream_calls.per_credential", f.UpstreamCalls.PerCredential)
	rates("fairness.rates", f.Rates)
	for id, t := range f.Tenants {
		tf := "fairness.tenants." + id
		if _, ok := c.Tenants[id]; !ok {
			bad(tf, "no such tenant")
		}
		atLeast(tf+".long_polls", t.LongPolls)
		atLeast(tf+".upstream_calls", t.UpstreamCalls)
		rates(tf+".rates", t.Rates)
	}
	for id, t := range c.Tenants {
		for i, l := range t.Limits {
			if l.Family == "rate" {
				bad(fmt.Sprintf("tenants.%s.limits[%d].family", id, i), "a tenant's rate is set in fairness.rates (the rate family paces a credential)")
			}
		}
	}
}

// UpstreamGuard configures the protection of the upstreams
// (internal/upstreamguard): a circuit breaker per credential, and pacing to
// each credential's rate (its `rate` limit of period `second`, by default
// the rate its upstream documents: see DocumentedRate).
type UpstreamGuard struct {
	Breaker struct {
		// Failures is how many consecutive timeouts, cut or refused
		// connections or 5xx answers open a credential's breaker [5].
		Failures int `yaml:"failures"`
		// OpenFor is how long an open breaker answers 503 at once before
		// letting probes through [30s].
		OpenFor time.Duration `yaml:"open_for"`
		// Probes is how many calls a half-open breaker lets through; as
		// many successes close it [1].
		Probes int `yaml:"probes"`
	} `yaml:"breaker"`
	Pacing struct {
		// MaxWait is the longest a call waits in line for its turn under
		// the credential's rate; a call whose turn is further away is a 429
		// with Retry-After at once [2s].
		MaxWait time.Duration `yaml:"max_wait"`
		// Margin is added to the one-second window of a rate, for the
		// variation in the time requests take to reach the upstream (a new
		// TLS connection, a busy host): Garant's 20 a second are sent as 20
		// per 1.25 s by default, 16 a second [250ms].
		Margin time.Duration `yaml:"margin"`
		// RetryShare is the share of a credential's rate its retries of
		// Garant's 429s may use, for every replica together [0.1].
		RetryShare float64 `yaml:"retry_share"`
	} `yaml:"pacing"`
}

// DocumentedRate is the rate, in requests a second per credential, that an
// upstream's documentation allows; 0 when it documents none. Garant Connect
// v2 answers 429 above 20 requests a second per token; the FSSP and FIPS
// documents state no per-second rate (FSSP's hourly and daily limits are
// quota families).
func DocumentedRate(upstream string) int {
	if upstream == Garant {
		return 20
	}
	return 0
}

// CredentialRate is the rate (requests a second) the gateway paces the
// named credential to: its `rate` limit of period `second` when the config
// gives one, else DocumentedRate of its upstream; 0: not paced.
func (c *Config) CredentialRate(name string) int {
	cr := c.Credentials[name]
	for _, l := range cr.Limits {
		if l.Family == "rate" && l.Period == "second" {
			return int(l.Limit)
		}
	}
	return DocumentedRate(cr.Upstream)
}

// RateWarnings names the credentials paced faster than their upstream
// documents: allowed (a contract may grant more), but never silently.
func (c *Config) RateWarnings() []string {
	var out []string
	for name, cr := range c.Credentials {
		if doc, rate := DocumentedRate(cr.Upstream), c.CredentialRate(name); doc > 0 && rate > doc {
			out = append(out, fmt.Sprintf("credentials.%s: a rate of %d requests a second is above the %d that %s documents per credential; "+
				"the upstream may refuse the excess or block the credential", name, rate, doc, cr.Upstream))
		}
	}
	sort.Strings(out)
	return out
}

func (g *UpstreamGuard) applyDefaults() {
	if g.Breaker.Failures == 0 {
		g.Breaker.Failures = 5
	}
	if g.Breaker.OpenFor == 0 {
		g.Breaker.OpenFor = 30 * time.Second
	}
	if g.Breaker.Probes == 0 {
		g.Breaker.Probes = 1
	}
	if g.Pacing.MaxWait == 0 {
		g.Pacing.MaxWait = 2 * time.Second
	}
	if g.Pacing.Margin == 0 {
		g.Pacing.Margin = 250 * time.Millisecond
	}
	if g.Pacing.RetryShare == 0 {
		g.Pacing.RetryShare = 0.1
	}
}

func (c *Config) validateGuard(bad func(field, format string, args ...any)) {
	g := c.Guard
	if g.Breaker.Failures < 1 {
		bad("upstream_guard.breaker.failures", "must be at least 1")
	}
	if g.Breaker.OpenFor < time.Second {
		bad("upstream_guard.breaker.open_for", "must be at least 1s")
	}
	if g.Breaker.Probes < 1 {
		bad("upstream_guard.breaker.probes", "must be at least 1")
	}
	if g.Pacing.MaxWait < 0 || g.Pacing.MaxWait > time.Minute {
		bad("upstream_guard.pacing.max_wait", "must be between 0s and 1m")
	}
	if g.Pacing.Margin < 0 || g.Pacing.Margin > time.Second {
		bad("upstream_guard.pacing.margin", "must be between 0s and 1s")
	}
	if g.Pacing.RetryShare <= 0 || g.Pacing.RetryShare > 1 {
		bad("upstream_guard.pacing.retry_share", "must be above 0 and at most 1")
	}
	for name, cr := range c.Credentials {
		n := 0
		for i, l := range cr.Limits {
			if l.Family != "rate" || l.Period != "second" {
				continue
			}
			if n++; n > 1 {
				bad(fmt.Sprintf("credentials.%s.limits[%d]", name, i), "a credential has at most one rate of period second")
			}
			if l.Limit < 1 {
				bad(fmt.Sprintf("credentials.%s.limits[%d].limit", name, i), "a rate of period second paces the credential's requests: at least 1")
			}
		}
	}
}

// Load reads, expands and validates the config at path.
func Load(path string, getenv func(string) string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(b, getenv)
}

// Parse decodes YAML (unknown fields are errors), resolves secrets, applies
// defaults and validates.
func Parse(b []byte, getenv func(string) string) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	for name, cr := range c.Credentials {
		s, err := ResolveSecret(cr.Secret, getenv)
		if err != nil {
			return nil, fmt.Errorf("config: credentials.%s.secret: %w", name, err)
		}
		cr.Secret = s
		c.Credentials[name] = cr
	}
	// A Redis URL may carry its password: it is a secret like the others.
	u, err := ResolveSecret(c.Redis.URL, getenv)
	if err != nil {
		return nil, fmt.Errorf("config: redis.url: %w", err)
	}
	c.Redis.URL = u
	if err := c.resolveWebhookSecrets(getenv); err != nil {
		return nil, err
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// ResolveSecret turns ${ENV} and file:/path into the secret value.
func ResolveSecret(v string, getenv func(string) string) (string, error) {
	switch {
	case envRef.MatchString(v):
		name := envRef.FindStringSubmatch(v)[1]
		s := getenv(name)
		if s == "" {
			return "", fmt.Errorf("environment variable %s is empty or unset", name)
		}
		return s, nil
	case strings.HasPrefix(v, "file:"):
		b, err := os.ReadFile(strings.TrimPrefix(v, "file:"))
		if err != nil {
			return "", fmt.Errorf("read secret file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	default:
		return v, nil
	}
}

func (c *Config) applyDefaults() {
	setDur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.TimeZone == "" {
		c.TimeZone = "Europe/Moscow"
	}
	setDur(&c.Redis.Timeout, 250*time.Millisecond)
	for name, u := range c.Upstreams.blocks() {
		setDur(&u.Timeout, defaultTimeouts[name])
	}
	c.Upstreams.FIPS.Fields.defaults()
	if c.Upstreams.Garant.EditionsPath == "" {
		c.Upstreams.Garant.EditionsPath = "/v2/redactions/{topic}"
	}
	if c.Upstreams.Garant.DocumentBase == "" {
		c.Upstreams.Garant.DocumentBase = "https://internet.garant.ru"
	}
	setDur(&c.Cache.Grace, 24*time.Hour)
	if c.Cache.MaxEntryBytes == 0 {
		c.Cache.MaxEntryBytes = 25 << 20
	}
	setDur(&c.FSSP.MaxWait, 25*time.Second)
	setDur(&c.FSSP.Deadline, 10*time.Minute)
	setDur(&c.FSSP.PollInitial, 3*time.Second)
	setDur(&c.FSSP.PollMax, 20*time.Second)
	if c.FSSP.GroupLimit == 0 {
		c.FSSP.GroupLimit = 50
	}
	setDur(&c.Server.ReadHeaderTimeout, 10*time.Second)
	setDur(&c.Server.IdleTimeout, 120*time.Second)
	setDur(&c.Server.ShutdownTimeout, 30*time.Second)
	if c.Server.AdminAddr == "" {
		c.Server.AdminAddr = "127.0.0.1:8081"
	}
	c.Fairness.applyDefaults()
	c.Guard.applyDefaults()
	setDur(&c.Server.BodyTimeout, 30*time.Second)
	setDur(&c.Server.BodyIdleTimeout, 10*time.Second)
	setDur(&c.Server.WriteTimeout, 90*time.Second)
	if c.Server.BodyBudgetMiB == 0 {
		c.Server.BodyBudgetMiB = 64
	}
	if c.Server.TenantBodyBudgetMiB == 0 {
		c.Server.TenantBodyBudgetMiB = min(32, c.Server.BodyBudgetMiB)
	}
}

// defaultTimeouts are the upstreams' default timeouts (30 s otherwise).
var defaultTimeouts = map[string]time.Duration{Garant: 30 * time.Second, FSSP: 15 * time.Second, FIPS: 60 * time.Second}

var (
	periods   = map[string]bool{"month": true, "day": true, "hour": true, "sliding_hour": true, "sliding_day": true, "second": true}
	hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// Names become parts of Redis keys, metric labels and cache scopes.
	validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	// reservedNames would collide with the cache's shared scope.
	reservedNames = map[string]bool{"shared": true}
)

// Validate checks the whole config and names every wrong field, one line
// each, sorted so that the same config always gives the same message.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		bad("time_zone", "unknown time zone %q", c.TimeZone)
	}
	if c.Redis.URL != "" && len(c.Redis.Addrs) > 0 {
		bad("redis", "set url (one node) or addrs (cluster), not both")
	}
	if c.Redis.URL != "" {
		if _, err := redis.ParseURL(c.Redis.URL); err != nil {
			bad("redis.url", "%s", redisURLProblem(c.Redis.URL, err))
		}
	}
	for name, cr := range c.Credentials {
		f := "credentials." + name
		if !validName.MatchString(name) || reservedNames[name] {
			bad(f, "a credential name is 1 to 64 letters, digits, '_' or '-', and not %q", "shared")
		}
		if !knownUpstream(cr.Upstream) {
			bad(f+".upstream", "must be garant, fssp or fips, got %q", cr.Upstream)
		}
		if cr.Secret == "" && !(cr.Upstream == Garant && c.Upstreams.Garant.Proxima) {
			bad(f+".secret", "is required")
		}
		for i, l := range cr.Limits {
			validateLimit(bad, fmt.Sprintf("%s.limits[%d]", f, i), l, false)
		}
	}
	if len(c.Tenants) == 0 {
		bad("tenants", "at least one tenant is required")
	}
	for id, t := range c.Tenants {
		f := "tenants." + id
		if !validName.MatchString(id) {
			bad(f, "a tenant id is 1 to 64 letters, digits, '_' or '-'")
		}
		if len(t.KeysSHA256) == 0 {
			bad(f+".keys_sha256", "at least one key hash is required")
		}
		for i, k := range t.KeysSHA256 {
			if !hexSHA256.MatchString(k) {
				bad(fmt.Sprintf("%s.keys_sha256[%d]", f, i), "must be 64 lower-case hex characters (sha256sum of the key)")
			}
		}
		for up, cred := range t.Credentials {
			cr, ok := c.Credentials[cred]
			switch {
			case !knownUpstream(up):
				bad(f+".credentials", "unknown upstream %q", up)
			case !ok:
				bad(f+".credentials."+up, "unknown credential %q", cred)
			case cr.Upstream != up:
				bad(f+".credentials."+up, "credential %q is for upstream %q", cred, cr.Upstream)
			}
		}
		for i, l := range t.Limits {
			validateLimit(bad, fmt.Sprintf("%s.limits[%d]", f, i), l, true)
		}
	}
	c.validateKeyHashesUnique(bad)
	for name, u := range c.Upstreams.blocks() {
		if c.Uses(name) && !strings.HasPrefix(u.BaseURL, "http://") && !strings.HasPrefix(u.BaseURL, "https://") {
			bad("upstreams."+name+".base_url", "must be an http(s) URL, got %s", redactedURL(u.BaseURL))
		}
	}
	if c.FSSP.MaxParked < -1 {
		bad("fssp.max_parked", "must be -1 (no parking), 0 (the default) or a positive count")
	}
	if c.Redis.Timeout > 5*time.Second {
		// Quota reservations are recognised when go-redis sends them again
		// for 10 s (internal/quota); a retry comes within this timeout.
		bad("redis.timeout", "must be at most 5s")
	}
	if c.FSSP.MaxWait > 60*time.Second {
		bad("fssp.max_wait", "must be at most 60s")
	}
	c.Upstreams.FIPS.Fields.validate(bad)
	c.validateFairness(bad)
	c.validateGuard(bad)
	c.validateServer(bad)
	c.validateWebhooks(bad)
	c.validateWatches(bad)
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// validateKeyHashesUnique refuses a key hash listed under two tenants: the
// key would authenticate as whichever tenant the registry met last, which
// changes between restarts. The hash itself is not printed.
func (c *Config) validateKeyHashesUnique(bad func(string, string, ...any)) {
	first := map[string]string{} // hash → the field that lists it first
	for _, id := range slices.Sorted(maps.Keys(c.Tenants)) {
		for i, k := range c.Tenants[id].KeysSHA256 {
			f := fmt.Sprintf("tenants.%s.keys_sha256[%d]", id, i)
			prev, seen := first[k]
			switch {
			case !seen:
				first[k] = f
			case !strings.HasPrefix(prev, "tenants."+id+".keys_sha256["):
				bad(f, "is the same key hash as %s: one key must identify one tenant", prev)
			}
		}
	}
}

// PlainHTTPUpstreams lists the upstreams in use whose base URL is plain
// http:// (their tokens and data cross the network unencrypted), as
// upstream → base URL with any password redacted.
func (c *Config) PlainHTTPUpstreams() map[string]string {
	out := map[string]string{}
	for name, b := range c.Upstreams.blocks() {
		if u := b.BaseURL; c.Uses(name) && strings.HasPrefix(strings.ToLower(u), "http://") {
			if p, err := url.Parse(u); err == nil {
				out[name] = p.Redacted()
			} else {
				out[name] = "http://…" // Validate refuses it anyway
			}
		}
	}
	return out
}

// redactedURL quotes a URL for a message with its password replaced, or
// says only that it does not parse: net/url's reasons may quote part of it.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "a value that is not a URL"
	}
	return strconv.Quote(u.Redacted())
}

// redisURLProblem says why raw is not a Redis URL without quoting the
// password it may carry.
func redisURLProblem(raw string, err error) string {
	const want = "expected redis://[user:password@]host:port[/db] or rediss://…"
	var uerr *url.Error
	if errors.As(err, &uerr) {
		// net/url quotes the whole URL, and its reasons may quote part of
		// it (an invalid escape): say only that it does not parse.
		return "is not a valid URL; " + want
	}
	msg := strings.TrimPrefix(err.Error(), "redis: ")
	if u, perr := url.Parse(raw); perr == nil && u.User != nil {
		for _, s := range []string{u.User.String(), u.User.Username()} {
			if s != "" {
				msg = strings.ReplaceAll(msg, s, "xxxxx")
			}
		}
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg + "; " + want
}

// validateServer checks the request limits of server.
func (c *Config) validateServer(bad func(string, string, ...any)) {
	s := c.Server
	for _, d := range []struct {
		field    string
		v, limit time.Duration
	}{
		{"server.read_header_timeout", s.ReadHeaderTimeout, time.Minute},
		{"server.body_timeout", s.BodyTimeout, 10 * time.Minute},
		{"server.body_idle_timeout", s.BodyIdleTimeout, 10 * time.Minute},
		{"server.write_timeout", s.WriteTimeout, 30 * time.Minute},
	} {
		if d.v <= 0 || d.v > d.limit {
			bad(d.field, "must be a positive duration of at most %s, got %s", d.limit, d.v)
		}
	}
	if s.BodyIdleTimeout > s.BodyTimeout {
		bad("server.body_idle_timeout", "must not be longer than server.body_timeout (%s)", s.BodyTimeout)
	}
	// An answer must not be cut off while the upstream is still allowed to
	// give it.
	for name, u := range c.Upstreams.blocks() {
		if c.Uses(name) && s.WriteTimeout <= u.Timeout {
			bad("server.write_timeout", "must be longer than upstreams.%s.timeout (%s), got %s", name, u.Timeout, s.WriteTimeout)
		}
	}
	if s.BodyBudgetMiB < 1 {
		bad("server.body_budget_mib", "must be a positive size in MiB, got %d", s.BodyBudgetMiB)
	}
	if s.TenantBodyBudgetMiB < 1 || s.TenantBodyBudgetMiB > s.BodyBudgetMiB {
		bad("server.tenant_body_budget_mib", "must be a positive size in MiB of at most server.body_budget_mib (%d), got %d", s.BodyBudgetMiB, s.TenantBodyBudgetMiB)
	}
}

// Uses reports whether any credential is for upstream.
func (c *Config) Uses(upstream string) bool {
	for _, cr := range c.Credentials {
		if cr.Upstream == upstream {
			return true
		}
	}
	return false
}

func validateLimit(bad func(string, string, ...any), field string, l Limit, needUpstream bool) {
	if needUpstream && !knownUpstream(l.Upstream) {
		bad(field+".upstream", "must be garant, fssp or fips, got %q", l.Upstream)
	}
	if l.Family == "" {
		bad(field+".family", "is required")
	}
	if !periods[l.Period] {
		bad(field+".period", "must be one of month, day, hour, sliding_hour, sliding_day, second; got %q", l.Period)
	}
	if l.Limit < 0 {
		bad(field+".limit", "must not be negative")
	}
}

// SecretFiles lists the files the config at path takes secrets from
// (file:/path values of redis.url, credentials and tenants' webhook
// secrets), for a watcher to see them change. An unreadable or
// undecodable file lists none: Load reports it.
func SecretFiles(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var raw struct {
		Redis       struct{ URL string } `yaml:"redis"`
		Credentials map[string]struct {
			Secret string `yaml:"secret"`
		} `yaml:"credentials"`
		Tenants map[string]struct {
			Webhooks struct {
				Secrets []string `yaml:"secrets"`
			} `yaml:"webhooks"`
		} `yaml:"tenants"`
	}
	if yaml.Unmarshal(b, &raw) != nil {
		return nil
	}
	values := []string{raw.Redis.URL}
	for _, c := range raw.Credentials {
		values = append(values, c.Secret)
	}
	for _, t := range raw.Tenants {
		values = append(values, t.Webhooks.Secrets...)
	}
	var out []string
	for _, v := range values {
		if f, ok := strings.CutPrefix(v, "file:"); ok {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
