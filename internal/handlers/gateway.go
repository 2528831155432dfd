package handlers

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/upstreamguard"
)

// gatewayHandlers implements the gateway's own operations: probes, the
// contract, Swagger UI and the caller's quotas. Metrics are on the admin
// listener (NewAdmin), not here.
type gatewayHandlers struct {
	deps     *Deps
	specJSON []byte
	docs     http.Handler
}

func newGatewayHandlers(d *Deps, specJSON []byte) gatewayHandlers {
	return gatewayHandlers{
		deps:     d,
		specJSON: specJSON,
		docs:     newDocsHandler(),
	}
}

// GetHealthz answers as long as the process serves requests.
func (h gatewayHandlers) GetHealthz(ctx context.Context, _ api.GetHealthzRequestObject) (api.GetHealthzResponseObject, error) {
	return api.GetHealthz200JSONResponse{Status: "ok"}, nil
}

// GetReadyz tells whether this replica can serve traffic and why not: Redis
// answers a ping (else 503, a not-ready problem listing every check), and
// each upstream's credentials' circuit breakers, counted by state (an open
// one degrades only its upstream's operations: the replica stays ready).
// Credential names stay in the metrics: this probe needs no key.
func (h gatewayHandlers) GetReadyz(ctx context.Context, _ api.GetReadyzRequestObject) (api.GetReadyzResponseObject, error) {
	generation := int64(h.deps.Tenants.Load().Generation)
	checks := []api.ReadyCheck{{Name: "redis", Status: api.ReadyCheckOK, Detail: new("answered a ping")}}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	err := h.deps.Redis.Ping(pctx).Err()
	cancel()
	if err != nil {
		checks[0].Status, checks[0].Detail = api.ReadyCheckFailing, new("no answer to a ping within 1s")
	}
	upstreams := breakerCounts(h.deps.Breakers)
	for _, u := range upstreams {
		c := api.ReadyCheck{Name: string(u.Upstream), Status: api.ReadyCheckOK}
		all := u.Closed + u.HalfOpen + u.Open
		if u.Closed < all {
			c.Status = api.ReadyCheckDegraded
		}
		c.Detail = new(fmt.Sprintf("%d of %d circuit breakers closed, %d half-open, %d open", u.Closed, all, u.HalfOpen, u.Open))
		checks = append(checks, c)
	}
	if err != nil {
		return nil, &apperr.Error{Kind: apperr.Unavailable, Type: "not-ready", Title: "Not ready",
			Detail:     "not ready: redis: no answer to a ping within 1s",
			Extensions: map[string]any{"checks": checks, "config_generation": generation},
			Err:        fmt.Errorf("readyz: redis: %w", err)}
	}
	return api.GetReadyz200JSONResponse{Status: api.ReadyStatusOK, ConfigGeneration: generation,
		Checks: checks, Upstreams: upstreams}, nil
}

// breakerCounts counts the circuit breakers of each upstream by state.
func breakerCounts(b interface {
	Breakers() []upstreamguard.Breaker
}) []api.UpstreamBreakers {
	out := []api.UpstreamBreakers{}
	if b == nil {
		return out
	}
	for _, b := range b.Breakers() {
		i := slices.IndexFunc(out, func(u api.UpstreamBreakers) bool { return string(u.Upstream) == b.Upstream })
		if i < 0 {
			out = append(out, api.UpstreamBreakers{Upstream: api.UpstreamBreakersUpstream(b.Upstream)})
			i = len(out) - 1
		}
		switch u := &out[i]; b.State {
		case upstreamguard.Open:
			u.Open++
		case upstreamguard.HalfOpen:
			u.HalfOpen++
		default:
			u.Closed++
		}
	}
	return out
}

// GetDocs serves the Swagger UI page (its assets are under /docs/).
func (h gatewayHandlers) GetDocs(ctx context.Context, _ api.GetDocsRequestObject) (api.GetDocsResponseObject, error) {
	r := exchangeFrom(ctx).r.Clone(ctx)
	r.URL.Path = "/docs/"
	return handlerResponse{h: h.docs, r: r}, nil
}

// GetOpenAPIJSON serves the contract as JSON.
func (h gatewayHandlers) GetOpenAPIJSON(ctx context.Context, _ api.GetOpenAPIJSONRequestObject) (api.GetOpenAPIJSONResponseObject, error) {
	return bytesResponse{contentType: "application/json", body: h.specJSON}, nil
}

// GetOpenAPIYAML serves the contract as written.
func (h gatewayHandlers) GetOpenAPIYAML(ctx context.Context, _ api.GetOpenAPIYAMLRequestObject) (api.GetOpenAPIYAMLResponseObject, error) {
	return bytesResponse{contentType: "application/yaml", body: h.deps.SpecYAML}, nil
}

// handlerResponse lets a plain http.Handler answer a strict operation.
type handlerResponse struct {
	h http.Handler
	r *http.Request
}

func (x handlerResponse) serve(w http.ResponseWriter) error { x.h.ServeHTTP(w, x.r); return nil }

func (x handlerResponse) VisitGetDocsResponse(w http.ResponseWriter) error { return x.serve(w) }

// bytesResponse writes prepared bytes.
type bytesResponse struct {
	contentType string
	body        []byte
}

func (x bytesResponse) write(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", x.contentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(x.body)))
	_, err := bytes.NewReader(x.body).WriteTo(w)
	return err
}

func (x bytesResponse) VisitGetOpenAPIJSONResponse(w http.ResponseWriter) error { return x.write(w) }
func (x bytesResponse) VisitGetOpenAPIYAMLResponse(w http.ResponseWriter) error { return x.write(w) }
