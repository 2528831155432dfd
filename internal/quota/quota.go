// Package quota is the gateway's quota engine. It meters upstream operations
// against limits at two scopes, the upstream credential (the account's real
// limit, shared by every tenant using it) and the tenant (an allocation out of
// it), over calendar periods in a configured time zone, sliding windows and a
// per-second rate. Every check of one request runs as one Lua script in one
// Redis round trip; all keys of a request share the hash tag {cred:NAME}, so
// the engine works on Redis Cluster.
//
// The flow is reserve, then commit or refund: a handler calls Reserve before
// the upstream call and Refund when the upstream did not do the work. A
// reservation that is not refunded is committed. Cache hits reserve nothing.
//
// An owner known to be exhausted until T is rejected from memory, without
// Redis, until T; Run keeps the engine subscribed to the invalidations other
// engines publish when units come back (see exhaustedCache). A family may be
// split per operation for some credentials (Split, SetSplit), chosen in the
// same script as the check.
//
// Redis keys, all under the credential's hash tag {cred:NAME}:
//
//	{cred:C}:q:SCOPE:OWNER:UP:FAMILY:PERIOD[:START]  counter (string) or sliding window (sorted set)
//	{cred:C}:q:mark:UP:FAMILY                        423 mark: spent until (ms)
//	{cred:C}:q:sync:UP:FAMILY:MONTHSTART             the month's count was lowered by a sync
//	{cred:C}:q:split:UP:FAMILY                       "1": the family is split for C (no expiry)
//	{cred:C}:q:ledger:PERIOD:START                   the ledger (hash; see ledger.go)
//	{cred:C}:q:attempt:ID[:refund|:ledger]           a script's answer, so that a retry counts once
//
// and the pub/sub channel Config.Channel ("scope:owner:upstream:family" a line).
package quota

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/ops"
)

// Scope says whose limit a rule is.
type Scope string

// The two scopes.
const (
	ScopeCredential Scope = "credential" // the upstream account, shared by tenants
	ScopeTenant     Scope = "tenant"     // one tenant's allocation out of a credential
)

// Period is the window a limit counts over.
type Period string

// The periods. Month, day and hour are calendar periods in Config.Location;
// sliding periods count the last hour or day up to now; second is a rate.
const (
	PeriodMonth       Period = "month"
	PeriodDay         Period = "day"
	PeriodHour        Period = "hour"
	PeriodSlidingHour Period = "sliding_hour"
	PeriodSlidingDay  Period = "sliding_day"
	PeriodSecond      Period = "second"
)

// FamilyRate is the family of a per-second rate rule: when an upstream has a
// rule of this family, every operation of that upstream costs one unit of it.
const FamilyRate = "rate"

// Unlimited is the remaining count Garant reports for "effectively
// unlimited"; SyncRemaining ignores it.
const Unlimited = 32767

// Sources of a Usage row.
const (
	SourceConfig   = "config"   // counted by the gateway against the configured limit
	SourceUpstream = "upstream" // lowered by an upstream sync or a 423
)

// Rule is one limit. An empty Owner makes the rule the default for every
// owner of its scope; a rule naming the owner replaces the default for it.
type Rule struct {
	Scope    Scope
	Owner    string // tenant id or credential name; "" for every owner
	Upstream string
	Family   string
	Period   Period
	Limit    int64
}

// Cost is what one operation spends.
type Cost struct {
	Family string
	Units  int64
}

// Account is one tenant's use of an upstream credential. The quota gauges
// report the quotas of every configured account.
type Account struct {
	Tenant, Credential, Upstream string
}

// Config configures an Engine. Zero values take the documented defaults.
type Config struct {
	Rules    []Rule
	Accounts []Account                  // whose quotas the gauges report (besides credentials rules name)
	Families map[string]map[string]Cost // upstream → operation id → family and cost; nil: FamiliesOf the contract
	Location *time.Location             // calendar periods; nil: Europe/Moscow
	FailOpen map[string]bool            // "upstream/family" → pass when Redis is down
	Now      func() time.Time           // nil: time.Now
	Jitter   time.Duration              // max jitter added to Retry-After; 0: 1s, negative: none
	RateWait time.Duration              // how long a rejection by per-second rules alone waits and retries; 0: 2s, negative: never
	Timeout  time.Duration              // per Redis call; 0: 500ms

	// Splits are the families counted per operation for the credentials
	// whose upstream counts them so (SetSplit); nil: SplitsOf the contract,
	// for the operations Families puts in the split family.
	Splits []Split
	// Channel is the Redis pub/sub channel on which engines tell one another
	// to drop cached exhaustions (see Run); "": DefaultChannel.
	Channel string
	// LocalCacheMax caps how long a known exhaustion (counted, or a 423
	// mark) is answered from memory without Redis while the engine is not
	// subscribed to invalidations (Run not running, or its subscription not
	// confirmed): a refund on another instance is then seen after at most
	// this long. While subscribed, an exhaustion is cached until it resets.
	// 0: 1 minute.
	LocalCacheMax time.Duration
	// UsageRefresh is how long the quota gauges read from Redis at a scrape
	// are reused by the next scrapes: however many scrapers, Redis sees one
	// usage read (one script per credential) per UsageRefresh. 0: 5s;
	// negative: every scrape reads.
	UsageRefresh time.Duration
}

// DefaultChannel is the default Config.Channel.
const DefaultChannel = "quota:invalidate"

// Engine checks and records quota use. It is safe for concurrent use; run
// several engines (one per gateway instance) against the same Redis.
type Engine struct {
	rdb      redis.UniversalClient
	loc      *time.Location
	now      func() time.Time
	jitter   time.Duration
	rateWait time.Duration
	timeout  time.Duration
	cacheMax time.Duration
	usageTTL time.Duration
	families map[string]map[string]Cost
	limits   atomic.Pointer[limitSet] // the rules in force; SetRules swaps them
	failOpen map[string]bool
	splits   splits
	channel  string
	ping     time.Duration // how long the subscription may be silent before a PING
	local    *exhaustedCache
	ledger   *ledgerQueue
	m        *metrics
	s        scripts
}

// New returns an engine using rdb (a *redis.Client or *redis.ClusterClient).
// It registers its metrics on reg when reg is not nil; the quota gauges are
// read from Redis when reg is gathered. New itself makes no Redis call.
func New(rdb redis.UniversalClient, cfg Config, reg prometheus.Registerer) (*Engine, error) {
	if rdb == nil {
		return nil, errors.New("quota: nil redis client")
	}
	e := &Engine{
		rdb: rdb, loc: cfg.Location, now: cfg.Now, jitter: cfg.Jitter, rateWait: cfg.RateWait,
		timeout: cfg.Timeout, cacheMax: cfg.LocalCacheMax, usageTTL: cfg.UsageRefresh, families: cfg.Families,
		failOpen: cfg.FailOpen, channel: cfg.Channel, ping: 5 * time.Second, s: newScripts(),
	}
	if e.loc == nil {
		e.loc = moscow()
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.jitter = orDefault(e.jitter, time.Second)
	e.rateWait = orDefault(e.rateWait, 2*time.Second)
	e.timeout = orDefault(e.timeout, 500*time.Millisecond)
	e.cacheMax = orDefault(e.cacheMax, time.Minute)
	e.usageTTL = orDefault(e.usageTTL, 5*time.Second)
	e.local = newExhaustedCache(e.cacheMax)
	if e.channel == "" {
		e.channel = DefaultChannel
	}
	var contract *ops.Table
	if e.families == nil || cfg.Splits == nil {
		t, err := ops.Contract()
		if err != nil {
			return nil, err
		}
		contract = t
	}
	if e.families == nil {
		e.families = FamiliesOf(contract)
	}
	splitList := cfg.Splits
	if splitList == nil {
		splitList = SplitsOf(contract)
	}
	var err error
	if e.splits, err = indexSplits(splitList, cfg.Splits != nil, e.families); err != nil {
		return nil, err
	}
	ls, err := e.newLimitSet(cfg.Rules, cfg.Accounts)
	if err != nil {
		return nil, err
	}
	e.limits.Store(ls)
	e.ledger = newLedgerQueue()
	if e.m, err = newMetrics(e, reg); err != nil {
		return nil, err
	}
	return e, nil
}

// limitSet is one configuration's rules and accounts, never changed once
// built.
type limitSet struct {
	rules    map[famKey][]slot
	accounts []Account
	groups   []usageGroup // whose quotas the gauges and AllUsage read
}

func (e *Engine) newLimitSet(rules []Rule, accounts []Account) (*limitSet, error) {
	idx, err := indexRules(rules)
	if err != nil {
		return nil, err
	}
	e.splits.inherit(idx)
	for _, a := range accounts {
		for kind, n := range map[string]string{"tenant": a.Tenant, "credential": a.Credential, "upstream": a.Upstream} {
			if err := validName(kind, n); err != nil {
				return nil, err
			}
		}
		if a.Credential == "" || a.Upstream == "" {
			return nil, fmt.Errorf("quota: account %+v: credential and upstream are required", a)
		}
	}
	return &limitSet{rules: idx, accounts: accounts, groups: usageGroups(accounts, idx)}, nil
}

// SetRules replaces the rules and accounts (a configuration reload): checks
// planned from then on count against the new limits; counters in Redis are
// kept, so a limit lowered below what was spent refuses at once. Exhaustions
// remembered in memory are forgotten, since a raised limit may end them.
func (e *Engine) SetRules(rules []Rule, accounts []Account) error {
	ls, err := e.newLimitSet(rules, accounts)
	if err != nil {
		return err
	}
	e.limits.Store(ls)
	e.local.invalidateAll()
	if e.m != nil {
		e.m.precreate(e)
	}
	return nil
}

// orDefault maps 0 to def and a negative duration to 0.
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// moscow is Europe/Moscow, or its fixed +03:00 offset (no DST since 2014)
// when the zone database is missing.
func moscow() *time.Location {
	if loc, err := time.LoadLocation("Europe/Moscow"); err == nil {
		return loc
	}
	return time.FixedZone("MSK", 3*60*60)
}

// redisCtx bounds one Redis call.
func (e *Engine) redisCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.timeout)
}

func validName(kind, s string) error {
	for _, r := range s {
		if r == '{' || r == '}' || r == ':' || r <= ' ' {
			return fmt.Errorf("quota: %s %q: contains %q", kind, s, r)
		}
	}
	return nil
}

// Location is the time zone of the calendar periods.
func (e *Engine) Location() *time.Location { return e.loc }
