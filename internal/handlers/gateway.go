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

// GetReadyz answers 200 only while Redis answers, with the upstream
// credentials' circuit breakers counted by state per upstream (credential
// names stay in the metrics: this probe needs no key).
func (h gatewayHandlers) GetReadyz(ctx context.Context, _ api.GetReadyzRequestObject) (api.GetReadyzResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := h.deps.Redis.Ping(ctx).Err(); err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, "redis is not reachable", err)
	}
	out := api.GetReadyz200JSONResponse{Status: api.ReadyStatusOK, Upstreams: []api.UpstreamBreakers{}}
	if h.deps.Breakers == nil {
		return out, nil
	}
	for _, b := range h.deps.Breakers.Breakers() {
		i := slices.IndexFunc(out.Upstreams, func(u api.UpstreamBreakers) bool { return string(u.Upstream) == b.Upstream })
		if i < 0 {
			out.Upstreams = append(out.Upstreams, api.UpstreamBreakers{Upstream: api.UpstreamBreakersUpstream(b.Upstream)})
			i = len(out.Upstreams) - 1
		}
		switch u := &out.Upstreams[i]; b.State {
		case upstreamguard.Open:
			u.Open++
		case upstreamguard.HalfOpen:
			u.HalfOpen++
		default:
			u.Closed++
		}
	}
	return out, nil
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

// GetQuotas lists the caller's quotas for every upstream it uses.
func (h gatewayHandlers) GetQuotas(ctx context.Context, _ api.GetQuotasRequestObject) (api.GetQuotasResponseObject, error) {
	t, err := tenantFrom(ctx)
	if err != nil {
		return nil, err
	}
	usage, err := h.deps.Quota.Usage(ctx, t.ID, t.CredentialNames())
	if err != nil {
		if _, ok := apperr.As(err); !ok {
			err = apperr.Wrap(apperr.Unavailable, "the quota store is unavailable", err)
		}
		return nil, err
	}
	out := api.GetQuotas200JSONResponse{Quotas: make([]api.Quota, 0, len(usage))}
	for _, u := range usage {
		out.Quotas = append(out.Quotas, quotaOf(u))
	}
	return out, nil
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
