// Package fairshare keeps one tenant from starving the others. Admit, its one
// entry point, lets a request in or refuses it, naming the limit it is past:
//
//   - LongPoll (an FSSP long poll, parked or waiting in a goroutine): at most
//     Limits.LongPolls per tenant, Config.LongPolls in all;
//   - Call (an upstream call, until its answer is read, a streamed one
//     included; the caller admits it where the call is made): at most
//     Limits.UpstreamCalls per tenant on one credential, Config.CredentialCalls
//     per credential in all;
//   - FreeCall (an upstream call no quota family meters): a Call, and also at
//     most Limits.Rates[upstream] per tenant, a GCRA rate with a burst.
//
// Past a tenant's own cap or rate the error is an *apperr.Error of kind
// QuotaExceeded (429); past a cap shared by all tenants it is Unavailable
// (503). Both carry a Retry-After and the problem members "limit" (the
// limit's configuration key, see the Limit* constants), "max" and "scope".
//
// The concurrency caps count in process, per replica: N replicas admit N
// times as many. The rates count in Redis (github.com/go-redis/redis_rate,
// one script per admission), shared by every replica; while Redis does not
// answer, each replica falls back to an in-process limiter at the same rate
// (golang.org/x/time/rate), so a rate never fails open.
//
// Redis keys, one per tenant and upstream with a rate:
//
//	rate:fair:TENANT:UPSTREAM   GCRA state (redis_rate), expiring once the burst is full again
package fairshare

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/ops"
)

// Class says which limits a request counts against.
type Class uint8

// The classes.
const (
	None     Class = iota // no limit: the gateway's own operations, reads that call no upstream
	LongPoll              // a long poll
	Call                  // an upstream call a quota family meters
	FreeCall              // an upstream call no quota family meters
)

// ClassOf is the class of an operation's fair-sharing rule (ops.Operation.Share).
func ClassOf(share string) Class {
	switch share {
	case ops.ShareLongPoll:
		return LongPoll
	case ops.ShareCall:
		return Call
	case ops.ShareFreeCall:
		return FreeCall
	}
	return None
}

// Rate is a per-tenant rate: PerSecond on average, Burst at once.
type Rate struct {
	PerSecond int // 0: no rate
	Burst     int // 0: PerSecond
}

// Limits are one tenant's caps and rates; a zero cap is no cap.
type Limits struct {
	LongPolls     int             // long polls at once
	UpstreamCalls int             // upstream calls at once on one credential
	Rates         map[string]Rate // upstream → the rate of its unmetered operations
}

// Config configures a Limiter. A zero cap is no cap.
type Config struct {
	Default         Limits            // every tenant's, unless Tenants names it
	Tenants         map[string]Limits // a tenant's own, replacing Default whole
	LongPolls       int               // long polls at once, all tenants together
	CredentialCalls int               // upstream calls at once on one credential, all tenants together
	Timeout         time.Duration     // per Redis call; 0: 250ms
}

// Request is one request to admit. Upstream and Credential (the configured
// name, never the secret) are for Call and FreeCall.
type Request struct {
	Class                        Class
	Tenant, Upstream, Credential string
}

// Limiter admits requests. It is safe for concurrent use.
type Limiter struct {
	cfg     atomic.Pointer[Config] // the caps and rates in force; SetConfig swaps them
	timeout time.Duration
	rdb     redis.UniversalClient // nil: rates count in process only
	rates   *redis_rate.Limiter
	log     *slog.Logger

	polls       atomic.Int64
	tenantPolls sync.Map     // tenant → *atomic.Int64
	credCalls   sync.Map     // credential → *atomic.Int64
	tenantCalls sync.Map     // callKey → *atomic.Int64
	local       sync.Map     // rate key → *localRate
	warned      atomic.Int64 // when the fallback was last logged (Unix ns)

	m *metrics
}

type callKey struct{ tenant, credential string }

// New returns a Limiter counting rates in rdb (nil: in process only). It
// registers its metrics on reg when reg is not nil.
func New(rdb redis.UniversalClient, cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Limiter, error) {
	if log == nil {
		return nil, errors.New("fairshare: nil logger")
	}
	l := &Limiter{timeout: cfg.Timeout, rdb: rdb, log: log}
	l.cfg.Store(&cfg)
	if l.timeout <= 0 {
		l.timeout = 250 * time.Millisecond
	}
	if rdb != nil {
		l.rates = redis_rate.NewLimiter(rdb)
	}
	var err error
	if l.m, err = newMetrics(l, reg); err != nil {
		return nil, err
	}
	return l, nil
}

// SetConfig replaces the caps and rates (a configuration reload; Timeout is
// kept). Requests admitted before keep their slots: a lowered cap refuses
// new requests until enough of them are answered.
func (l *Limiter) SetConfig(cfg Config) { l.cfg.Store(&cfg) }

func noop() {}

// Admit lets r in, or returns why not. release must be called once r is
// answered (it may be called again; only the first call counts). A nil
// Limiter admits everything.
func (l *Limiter) Admit(ctx context.Context, r Request) (release func(), err error) {
	if l == nil || r.Class == None {
		return noop, nil
	}
	cfg := l.cfg.Load()
	lim := cfg.limits(r.Tenant)
	if r.Class == LongPoll {
		mine := counter(&l.tenantPolls, r.Tenant)
		return l.hold(r, mine, lim.LongPolls, LimitLongPollsPerTenant, &l.polls, cfg.LongPolls, LimitLongPollsGlobal)
	}
	mine := counter(&l.tenantCalls, callKey{r.Tenant, r.Credential})
	all := counter(&l.credCalls, r.Credential)
	release, err = l.hold(r, mine, lim.UpstreamCalls, LimitCallsPerTenant, all, cfg.CredentialCalls, LimitCallsPerCredential)
	if err != nil || r.Class != FreeCall {
		return release, err
	}
	if err := l.rate(ctx, r, lim.Rates[r.Upstream]); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

func (c *Config) limits(tenant string) Limits {
	if lim, ok := c.Tenants[tenant]; ok {
		return lim
	}
	return c.Default
}

// counter returns the counter of key in m, adding it on first use. Keys are
// configured tenants and credentials, so m stays small.
func counter[K comparable](m *sync.Map, key K) *atomic.Int64 {
	if c, ok := m.Load(key); ok {
		return c.(*atomic.Int64)
	}
	c, _ := m.LoadOrStore(key, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// hold takes one unit of mine (capped at mineMax) and one of all (capped at
// allMax), or neither.
func (l *Limiter) hold(r Request, mine *atomic.Int64, mineMax int, mineName string, all *atomic.Int64, allMax int, allName string) (func(), error) {
	if n := mine.Add(1); mineMax > 0 && n > int64(mineMax) {
		mine.Add(-1)
		return nil, l.refuse(r, mineName, mineMax, 0)
	}
	if n := all.Add(1); allMax > 0 && n > int64(allMax) {
		all.Add(-1)
		mine.Add(-1)
		return nil, l.refuse(r, allName, allMax, 0)
	}
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			all.Add(-1)
			mine.Add(-1)
		}
	}, nil
}
