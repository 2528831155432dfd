// Package config is the gateway's configuration: one YAML file, loaded and
// validated once at start-up, failing with a message that names the field.
// Secret values are given as ${ENV_VAR} or file:/path and resolved here; they
// are held as tenant.Secret so that they never print.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
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
}

// Redis says where Redis is. Empty URL and Addrs: an embedded in-process
// server (demo only: nothing is durable).
type Redis struct {
	URL     string        `yaml:"url"`   // one node: redis://host:6379/0
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
}

// GarantUpstream adds Garant's options.
type GarantUpstream struct {
	Upstream     `yaml:",inline"`
	EditionsPath string `yaml:"editions_path"` // default /v2/redactions/{topic}
	DocumentBase string `yaml:"document_base"` // absolute URL base, default https://internet.garant.ru
	Proxima      bool   `yaml:"proxima"`       // on-prem: no auth, a subset of methods
}

// FIPSUpstream adds the route table, since FIPS publishes none.
type FIPSUpstream struct {
	Upstream `yaml:",inline"`
	Routes   map[string]string `yaml:"routes"` // operation id → upstream path template
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
	GroupLimit  int           `yaml:"group_limit"`  // sub-requests per upstream group, default 50
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
	// HeapFloorMiB: while the live heap is small, the Go GC waits until
	// the heap reaches this many MiB (default 64; -1: Go's default pace);
	// see internal/gctune. A GOGC environment variable turns it off.
	HeapFloorMiB int `yaml:"heap_floor_mib"`

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
	setDur(&c.Upstreams.Garant.Timeout, 30*time.Second)
	setDur(&c.Upstreams.FSSP.Timeout, 15*time.Second)
	setDur(&c.Upstreams.FIPS.Timeout, 60*time.Second)
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
	if c.Server.HeapFloorMiB == 0 {
		c.Server.HeapFloorMiB = 64
	}
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

var (
	upstreamNames = map[string]bool{Garant: true, FSSP: true, FIPS: true}
	periods       = map[string]bool{"month": true, "day": true, "hour": true, "sliding_hour": true, "sliding_day": true, "second": true}
	hexSHA256     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// Names become parts of Redis keys, metric labels and cache scopes.
	validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	// reservedNames would collide with the cache's shared scope.
	reservedNames = map[string]bool{"shared": true}
)

// Validate checks the whole config and names the first wrong field.
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
	for name, cr := range c.Credentials {
		f := "credentials." + name
		if !validName.MatchString(name) || reservedNames[name] {
			bad(f, "a credential name is 1 to 64 letters, digits, '_' or '-', and not %q", "shared")
		}
		if !upstreamNames[cr.Upstream] {
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
			case !upstreamNames[up]:
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
	for _, u := range []struct {
		name, url string
		used      bool
	}{{Garant, c.Upstreams.Garant.BaseURL, c.Uses(Garant)}, {FSSP, c.Upstreams.FSSP.BaseURL, c.Uses(FSSP)}, {FIPS, c.Upstreams.FIPS.BaseURL, c.Uses(FIPS)}} {
		if u.used && !strings.HasPrefix(u.url, "http://") && !strings.HasPrefix(u.url, "https://") {
			bad("upstreams."+u.name+".base_url", "must be an http(s) URL, got %q", u.url)
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
	if c.Server.HeapFloorMiB < -1 {
		bad("server.heap_floor_mib", "must be -1 (Go's default GC pace), 0 (the default, 64) or a positive size in MiB")
	}
	if c.FSSP.MaxWait > 60*time.Second {
		bad("fssp.max_wait", "must be at most 60s")
	}
	c.validateServer(bad)
	return errors.Join(errs...)
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
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{Garant, c.Upstreams.Garant.Timeout}, {FSSP, c.Upstreams.FSSP.Timeout}, {FIPS, c.Upstreams.FIPS.Timeout}} {
		if c.Uses(u.name) && s.WriteTimeout <= u.d {
			bad("server.write_timeout", "must be longer than upstreams.%s.timeout (%s), got %s", u.name, u.d, s.WriteTimeout)
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
	if needUpstream && !upstreamNames[l.Upstream] {
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
