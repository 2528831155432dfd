// Package upstreamguard keeps the gateway from hammering, or waiting on, an
// upstream that cannot take more. It wraps each upstream client's
// http.RoundTripper (Guard.Transport) and guards every request per upstream
// credential, named in the request's context with tenant.WithCredential:
//
//   - A circuit breaker (sony/gobreaker). Config.Failures consecutive
//     failures (a timeout, a connection refused or cut, a 5xx answer) open
//     it; while open, calls fail at once, without being sent, with an
//     apperr.Unavailable (a 503 problem) carrying Retry-After and ErrOpen in
//     its chain. After Config.OpenFor it is half-open: Config.Probes calls go
//     through (the others still fail at once), and as many successes close
//     it, a failure opens it again. Any other answer (2xx, 3xx, 4xx) is a
//     success: the upstream works. A call its caller cancelled counts as
//     neither. Breakers live in each replica.
//   - Pacing to the credential's rate (requests a second), shared by every
//     replica through Redis: each request takes a send time in one script
//     call, at least (one second + Config.Margin) / Rate after the previous
//     one, so at most Rate requests leave in any window of one second plus
//     the margin, evenly spaced (a burst does not open a burst of new
//     connections, and the margin absorbs the variation in the time requests
//     take to reach the upstream). The first request to an idle credential
//     goes at once. A request waits in line for its send time up to
//     Config.MaxWait; when its turn would come later, it fails at once with
//     an apperr.QuotaExceeded (a 429 problem of the credential's rate family)
//     carrying Retry-After and ErrPaced. A request that wakes up more than
//     half the margin after its turn (the process stalled) takes a new one
//     rather than leave in a bunch with the other late ones: so at most Rate
//     requests leave in any second, and the other half of the margin is left
//     for the way to the upstream. While Redis does not answer (a call
//     waits for it at most MaxWait), each replica paces the credential alone
//     to its whole rate: the upstream is still protected, if less tightly
//     with several replicas, and calls still flow.
//   - Retries of upstream 429s, for the upstreams whose 429 means "over the
//     rate" (Config.RetryTooManyRequests): after a short backoff the request
//     is sent again, in line like any other, while the credential's retry
//     budget has a token. The budget refills at Config.RetryShare × Rate
//     tokens a second (at least one token; the same number at most) and is
//     shared by every replica, so a burst of N calls sends about N requests
//     however the upstream answers. A retry never waits past MaxWait in line,
//     a call retries at most MaxRetries times, and when the budget is spent
//     the upstream's 429 is the answer.
//
// Check reports an open breaker without any Redis call, so that callers
// refuse a call before reserving quota for it; Breakers lists every
// breaker's state (for /readyz). Requests without a credential in their
// context, or with one the guard was not built with, pass through unguarded.
//
// Redis keys, under the credential's hash tag (the quota engine's):
//
//	{cred:C}:guard:pace    the last send time given (µs, Redis time)
//	{cred:C}:guard:retry   hash: the retry budget's tokens and when they were counted
package upstreamguard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// ErrOpen is in the chain of the error of a call refused by an open (or
// busy half-open) circuit breaker: nothing was sent.
var ErrOpen = errors.New("upstreamguard: circuit breaker open")

// ErrPaced is in the chain of the error of a call whose turn under the
// credential's rate would come after the longest wait: nothing was sent.
var ErrPaced = errors.New("upstreamguard: over the credential's rate")

// Credential is one upstream credential to guard.
type Credential struct {
	Upstream string // the upstream's name, as the contract lists it
	Title    string // the upstream's name in problem details; "": Upstream
	Name     string // the configured name, as tenant.WithCredential gives it
	Rate     int    // requests a second; 0: not paced
}

// Config configures a Guard. Zero values take the defaults in brackets.
type Config struct {
	Credentials []Credential
	// RetryTooManyRequests lists the upstreams whose 429 says the request
	// went over the per-second rate: those are sent again within the
	// credential's retry budget. Other upstreams' 429s are answers.
	RetryTooManyRequests []string
	Failures             int           // consecutive failures that open a breaker [5]
	OpenFor              time.Duration // how long an open breaker refuses calls before probing [30s]
	Probes               int           // calls a half-open breaker lets through; as many successes close it [1]
	MaxWait              time.Duration // longest wait in line for a send time [2s]
	Margin               time.Duration // added to the one-second window of a rate [250ms]
	RetryShare           float64       // share of a credential's rate its 429 retries may use [0.1]
	MaxRetries           int           // retries of one call [3]
	RedisTimeout         time.Duration // a pacing call may take twice this [250ms]
	Log                  *slog.Logger  // breaker state changes; nil: none
}

// Guard guards the upstream calls of a fixed set of credentials. It is safe
// for concurrent use.
type Guard struct {
	creds    atomic.Pointer[map[string]*guarded] // by credential name; SetCredentials swaps it
	retry429 map[string]bool
	pace     *pacer
	cfg      Config
	m        *metrics
	sleep    func(ctx context.Context, d time.Duration) bool // waits d unless ctx ends first
}

// guarded is one credential's breaker and rate.
type guarded struct {
	Credential
	cb      *gobreaker.TwoStepCircuitBreaker[struct{}]
	openFor time.Duration
	opened  *openedAt
	local   localPace // the pace while Redis does not answer
}

// New returns a guard for cfg.Credentials, pacing them through rdb (nil:
// each replica alone, and no 429 is retried), with its metrics registered
// on reg when not nil.
func New(rdb redis.UniversalClient, cfg Config, reg prometheus.Registerer) (*Guard, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if cfg.Failures <= 0 {
		cfg.Failures = 5
	}
	if cfg.Probes <= 0 {
		cfg.Probes = 1
	}
	if cfg.RetryShare <= 0 {
		cfg.RetryShare = 0.1
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 3
	}
	def(&cfg.OpenFor, 30*time.Second)
	def(&cfg.MaxWait, 2*time.Second)
	def(&cfg.Margin, 250*time.Millisecond)
	def(&cfg.RedisTimeout, 250*time.Millisecond)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	g := &Guard{retry429: map[string]bool{}, cfg: cfg, sleep: sleep}
	for _, u := range cfg.RetryTooManyRequests {
		g.retry429[u] = true
	}
	g.pace = newPacer(rdb, cfg)
	g.creds.Store(&map[string]*guarded{})
	if err := g.SetCredentials(cfg.Credentials); err != nil {
		return nil, err
	}
	var err error
	if g.m, err = newMetrics(g, reg); err != nil {
		return nil, err
	}
	for _, c := range cfg.Credentials {
		g.m.add(c, g.retry429[c.Upstream])
	}
	return g, nil
}

// SetCredentials replaces the guarded credentials (a configuration reload).
// A credential kept with the same upstream and rate keeps its breaker; a new
// one, or one whose upstream or rate changed, starts closed.
func (g *Guard) SetCredentials(creds []Credential) error {
	old := *g.creds.Load()
	next := make(map[string]*guarded, len(creds))
	for _, c := range creds {
		switch {
		case c.Name == "" || c.Upstream == "":
			return fmt.Errorf("upstreamguard: credential %+v: name and upstream are required", c)
		case strings.ContainsAny(c.Name, "{}"):
			return fmt.Errorf("upstreamguard: credential %q: braces would break its Redis hash tag", c.Name)
		case next[c.Name] != nil:
			return fmt.Errorf("upstreamguard: credential %q listed twice", c.Name)
		case c.Rate < 0:
			return fmt.Errorf("upstreamguard: credential %q: negative rate %d", c.Name, c.Rate)
		}
		if o := old[c.Name]; o != nil && o.Credential == c {
			next[c.Name] = o
			continue
		}
		next[c.Name] = g.newGuarded(c)
		if g.m != nil { // nil while New sets the first credentials: it adds their series
			g.m.add(c, g.retry429[c.Upstream])
		}
	}
	g.creds.Store(&next)
	return nil
}

// lookup returns the guarded credential name of upstream, or nil.
func (g *Guard) lookup(upstream, name string) *guarded {
	if g == nil {
		return nil
	}
	if c := (*g.creds.Load())[name]; c != nil && c.Upstream == upstream {
		return c
	}
	return nil
}

// Check returns the error a call of upstream with credential would get
// right now because its breaker is open, or nil. It makes no Redis call:
// callers use it to refuse a call before reserving quota for it.
func (g *Guard) Check(upstream, credential string) error {
	c := g.lookup(upstream, credential)
	if c == nil || c.cb.State() != gobreaker.StateOpen {
		return nil
	}
	g.m.refused(c)
	return c.openErr(gobreaker.ErrOpenState)
}

// Breaker is the state of one credential's circuit breaker.
type Breaker struct {
	Upstream, Credential string
	State                string // Closed, HalfOpen or Open
}

// The states of a Breaker.
const (
	Closed   = "closed"    // calls go through
	HalfOpen = "half-open" // probe calls test whether the upstream recovered
	Open     = "open"      // calls fail at once
)

func stateName(s gobreaker.State) string {
	switch s {
	case gobreaker.StateOpen:
		return Open
	case gobreaker.StateHalfOpen:
		return HalfOpen
	}
	return Closed
}

// Breakers lists every breaker's state, by upstream and credential.
func (g *Guard) Breakers() []Breaker {
	if g == nil {
		return nil
	}
	creds := *g.creds.Load()
	out := make([]Breaker, 0, len(creds))
	for _, c := range creds {
		out = append(out, Breaker{Upstream: c.Upstream, Credential: c.Name, State: stateName(c.cb.State())})
	}
	slices.SortFunc(out, func(a, b Breaker) int {
		if a.Upstream != b.Upstream {
			return strings.Compare(a.Upstream, b.Upstream)
		}
		return strings.Compare(a.Credential, b.Credential)
	})
	return out
}

// title is the credential's upstream's name in problem details.
func (c *guarded) title() string {
	if c.Title != "" {
		return c.Title
	}
	return c.Upstream
}
