package handlers

import (
	"context"
	"sync"
	"time"

	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// Garant is what the Garant operations need, built by cmd/gateway.
type Garant struct {
	Client *garant.Client
	Cache  *cache.Store // nil: nothing is cached

	// TTL overrides the contract's cache TTL per operation id; 0 turns caching off.
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
	// OnRejected is told the name of a credential Garant rejected (a 401
	// on /v2/limits: not a method missing from the tariff), once per
	// request or limits sync; cmd/gateway passes
	// metrics.Upstream.CredentialRejectedNow. Nil: nobody is told.
	OnRejected func(credential string)
	// Metrics counts Garant's 403s in the credential metrics and the values
	// of its answers passed on raw; nil: not counted.
	Metrics *metrics.Upstream

	probeMu sync.Mutex
	probes  map[string]probe // credential name → last probe
}

func (g *Garant) rejected(credential string) {
	if g.OnRejected != nil {
		g.OnRejected(credential)
	}
}

type probe struct {
	ok bool
	at time.Time
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
	rules, _ := h.deps.Ops.Get(op)
	return &garantCall{g: g, q: h.deps.Quota, op: op, rules: rules, tenant: t, cred: c}, nil
}
