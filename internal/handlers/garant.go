package handlers

import (
	"context"
	"sync"
	"time"

	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// Garant is what the Garant operations need, built by cmd/gateway.
type Garant struct {
	Client *garant.Client
	Cache  *cache.Store // nil: nothing is cached

	// TTL overrides DefaultGarantTTL per operation id; 0 turns caching off.
	TTL map[string]time.Duration
	// ShareAcrossCredentials lets tenants of different Garant credentials
	// share cache entries (by default entries never cross credentials).
	ShareAcrossCredentials bool
	// DocumentBase resolves the relative document links of search results;
	// "" is https://internet.garant.ru.
	DocumentBase string
	// Guard fails a call fast, before any quota is reserved, while the
	// credential's circuit breaker is open (upstreamguard.Guard.Check);
	// nil: no check (the client's transport may still refuse the call).
	// Pacing and retries of 429s are the client transport's.
	Guard interface {
		Check(upstream, credential string) error
	}
	// ProbeTTL is how long the answer of a /v2/limits probe (does the
	// credential work at all?) is remembered; 0: 5 minutes.
	ProbeTTL time.Duration

	probeMu sync.Mutex
	probes  map[string]probe // credential name → last probe
}

// Close waits, up to ctx, for the cache entries still being written to
// Redis behind their answers, and makes later ones be written before their
// answers. Call it after the HTTP server drained, before Redis closes.
func (g *Garant) Close(ctx context.Context) error {
	if g == nil || g.Cache == nil {
		return nil
	}
	return g.Cache.Close(ctx)
}

type probe struct {
	ok bool
	at time.Time
}

// DefaultGarantTTL is how long each Garant operation's answers are cached.
// Exports, images and formulas do not change; monitoring and limits are not
// cached.
func DefaultGarantTTL() map[string]time.Duration {
	const day = 24 * time.Hour
	return map[string]time.Duration{
		"garantSearch":           15 * time.Minute,
		"garantSnippets":         30 * time.Minute,
		"garantGetTopic":         2 * time.Hour,
		"garantGetTopicEditions": 6 * time.Hour,
		"garantGetTopicHTML":     day,
		"garantGetEntryHTML":     day,
		"garantExportTopic":      7 * day,
		"garantGetImage":         30 * day,
		"garantGetFormula":       30 * day,
		"garantPrimeCategories":  day,
		"garantPrimeNews":        15 * time.Minute,
		"garantFindHyperlinks":   day,
		"garantCourtPractice":    day,
	}
}

// defaultGarantTTL is DefaultGarantTTL built once: ttl runs on every request.
var defaultGarantTTL = DefaultGarantTTL()

func (g *Garant) ttl(op string) time.Duration {
	if d, ok := g.TTL[op]; ok {
		return d
	}
	return defaultGarantTTL[op]
}

// gatewayPrefix is where the gateway serves Garant's images and formulas.
const gatewayPrefix = "/v1/garant"

// garantHandlers implements the Garant Connect operations of the contract.
type garantHandlers struct {
	deps *Deps
}

// begin starts a call of op: the Garant dependencies, the tenant and its
// Garant credential.
func (h garantHandlers) begin(ctx context.Context, op string) (*garantCall, error) {
	g := h.deps.Garant
	if g == nil || g.Client == nil {
		return nil, notBuilt(op)
	}
	t, c, err := credentialFor(ctx, garant.Upstream)
	if err != nil {
		return nil, err
	}
	return &garantCall{g: g, q: h.deps.Quota, op: op, tenant: t, cred: c}, nil
}
