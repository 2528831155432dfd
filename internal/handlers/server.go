// Package handlers implements the gateway's HTTP API: the strict server
// generated from api/openapi.yaml, its middleware, and the one place where
// errors become RFC 9457 problems. routes.go lists every route; each upstream's
// operations live in their own file (garant.go, fssp.go, fips.go).
package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/fairshare"
	"github.com/legalgate/legalgate/internal/fipssvc"
	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/garantsvc"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/ops"
	"github.com/legalgate/legalgate/internal/park"
	"github.com/legalgate/legalgate/internal/telemetry"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstreamguard"
	"github.com/legalgate/legalgate/internal/usage"
	"github.com/legalgate/legalgate/internal/watches"
	"github.com/legalgate/legalgate/internal/webhooks"
)

// Deps is everything the handlers use, built by cmd/gateway.
type Deps struct {
	Log      *slog.Logger
	Tenants  tenant.Source         // the tenants in force (a *tenant.Registry, or a *tenant.Live that reloads swap)
	Redis    redis.UniversalClient // readiness
	Registry *prometheus.Registry  // the gateway's metrics; served by NewAdmin on the admin listener, never by NewServer
	HTTP     *metrics.HTTP
	Quotas   *usage.Reports // the quota operations (GetQuotas, GetQuotaUsage)
	SpecYAML []byte         // api/openapi.yaml as written
	Ops      *ops.Table     // the contract's operations and their rules; nil: ops.Contract()

	// Upstream operations (nil: the operations answer 501).
	FIPS   *fipssvc.Service
	Garant *garantsvc.Service
	FSSP   *fssptasks.Engine
	// Webhooks serves the tenants' delivery logs and redeliveries (nil:
	// those operations answer 501).
	Webhooks *webhooks.Dispatcher
	// Watches keeps the tenants' watches of Garant documents (nil: those
	// operations answer 501).
	Watches *watches.Manager

	// Conns takes back the connections of parked long polls once answered
	// (internal/park). Nil: such connections close once answered.
	Conns park.Resumer
	// MaxParked caps the long polls parked at once (0: park.DefaultMax;
	// negative: none is parked); the others wait the usual way.
	MaxParked int
	// Fair admits upstream calls and long polls to each tenant's fair share
	// (caps and rates). Nil: no caps, no rates.
	Fair *fairshare.Limiter
	// Breakers reports the upstream credentials' circuit breakers, counted
	// by state in /readyz (an *upstreamguard.Guard); nil: none.
	Breakers interface {
		Breakers() []upstreamguard.Breaker
	}
	// Telemetry traces requests (a server span each, tracing.go); nil: off,
	// and no tracing middleware is installed.
	Telemetry *telemetry.Telemetry
	// Limits bound request bodies and how long a request may take (zero
	// fields: the defaults).
	Limits Limits
}

// Server implements api.StrictServerInterface by embedding one handler set
// per upstream plus the gateway's own operations.
type Server struct {
	gatewayHandlers
	garantHandlers
	fsspHandlers
	fipsHandlers
	webhookHandlers
	watchHandlers
}

var _ api.StrictServerInterface = (*Server)(nil)

func newServer(d *Deps, specJSON []byte) *Server {
	return &Server{
		gatewayHandlers: newGatewayHandlers(d, specJSON),
		garantHandlers:  garantHandlers{deps: d},
		fsspHandlers:    fsspHandlers{deps: d, tasks: d.FSSP, bodies: newFSSPBodyCache(), lot: park.New(d.Conns, d.MaxParked)},
		fipsHandlers:    fipsHandlers{deps: d},
		webhookHandlers: webhookHandlers{hooks: d.Webhooks},
		watchHandlers:   watchHandlers{watches: d.Watches},
	}
}

// notBuilt answers operations of the contract that are not built yet.
func notBuilt(op string) error {
	return apperr.Errorf(apperr.NotImplemented, "%s is in the contract but not built yet", op)
}

// exchange is the raw request and response writer of a strict operation, for
// the few operations that must set headers or stream.
type exchange struct {
	w http.ResponseWriter
	r *http.Request
}

// withExchange is a strict middleware that makes the raw exchange available.
// It also refuses any operation the route guard did not see: an operation
// never runs without the guard's authentication and validation.
func withExchange(f api.StrictHandlerFunc, operationID string) api.StrictHandlerFunc {
	op := ops.ID(operationID)
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, req any) (any, error) {
		if infoFrom(ctx).operation != op {
			return nil, apperr.Wrap(apperr.NotFound, "no such route", fmt.Errorf("route guard saw %q, router ran %q", infoFrom(ctx).operation, op))
		}
		infoFrom(ctx).x = exchange{w: w, r: r}
		return f(ctx, w, r, req)
	}
}

// exchangeFrom returns the writer and request of the request in ctx, as the
// strict handler got them (zero outside one).
func exchangeFrom(ctx context.Context) exchange {
	return infoFrom(ctx).x
}

// ResponseHeader returns the response header map of the request in ctx, so a
// handler can add headers (RateLimit, Cache-Status) before its typed response
// is written.
func ResponseHeader(ctx context.Context) http.Header {
	if x := exchangeFrom(ctx); x.w != nil {
		return x.w.Header()
	}
	return http.Header{}
}

// tenantFrom returns the authenticated tenant; the route guard guarantees one
// on every authenticated operation.
func tenantFrom(ctx context.Context) (*tenant.Tenant, error) {
	t, ok := tenant.FromContext(ctx)
	if !ok {
		return nil, apperr.New(apperr.Unauthenticated, "no tenant key")
	}
	return t, nil
}

// credentialFor returns the tenant's credential for an upstream, or a 403
// problem naming the upstream.
func credentialFor(ctx context.Context, upstream string) (*tenant.Tenant, *tenant.Credential, error) {
	t, err := tenantFrom(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, ok := t.Credential(upstream)
	if !ok {
		return t, nil, &apperr.Error{Kind: apperr.Forbidden, Upstream: upstream,
			Detail: "tenant " + t.ID + " has no credential for upstream " + upstream}
	}
	return t, c, nil
}
