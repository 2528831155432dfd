package handlers

import (
	"context"
	"time"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/watches"
)

// watchHandlers answers the tenants' watches of Garant documents
// (internal/watches). A nil manager answers 501.
type watchHandlers struct {
	watches *watches.Manager
}

// CreateGarantWatch stores a watch; it spends nothing.
func (h watchHandlers) CreateGarantWatch(ctx context.Context, req api.CreateGarantWatchRequestObject) (api.CreateGarantWatchResponseObject, error) {
	if h.watches == nil {
		return nil, notBuilt("createGarantWatch")
	}
	t, err := tenantFrom(ctx)
	if err != nil {
		return nil, err
	}
	r := watches.Request{CallbackURL: req.Body.CallbackUrl}
	if req.Body.Topics != nil {
		r.Topics = *req.Body.Topics
	}
	if req.Body.Fragments != nil {
		r.Fragments = *req.Body.Fragments
	}
	if req.Body.IntervalSeconds != nil {
		r.Interval = time.Duration(*req.Body.IntervalSeconds) * time.Second
	}
	w, err := h.watches.Create(ctx, t, r)
	if err != nil {
		return nil, err
	}
	return api.CreateGarantWatch201JSONResponse(garantWatch(*w)), nil
}

// ListGarantWatches answers the tenant's own watches.
func (h watchHandlers) ListGarantWatches(ctx context.Context, _ api.ListGarantWatchesRequestObject) (api.ListGarantWatchesResponseObject, error) {
	if h.watches == nil {
		return nil, notBuilt("listGarantWatches")
	}
	t, err := tenantFrom(ctx)
	if err != nil {
		return nil, err
	}
	list, err := h.watches.List(ctx, t)
	if err != nil {
		return nil, err
	}
	out := api.ListGarantWatches200JSONResponse{Watches: make([]api.GarantWatch, len(list))}
	for i, w := range list {
		out.Watches[i] = garantWatch(w)
	}
	return out, nil
}

// DeleteGarantWatch deletes one of the tenant's watches.
func (h watchHandlers) DeleteGarantWatch(ctx context.Context, req api.DeleteGarantWatchRequestObject) (api.DeleteGarantWatchResponseObject, error) {
	if h.watches == nil {
		return nil, notBuilt("deleteGarantWatch")
	}
	t, err := tenantFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.watches.Delete(ctx, t, req.WatchId); err != nil {
		return nil, err
	}
	return api.DeleteGarantWatch204Response{}, nil
}

func garantWatch(w watches.Watch) api.GarantWatch {
	topics, fragments := w.Topics, w.Fragments
	if topics == nil {
		topics = []int{}
	}
	if fragments == nil {
		fragments = []string{}
	}
	return api.GarantWatch{Id: w.ID, Topics: topics, Fragments: fragments, CallbackUrl: w.CallbackURL,
		IntervalSeconds: int(w.Interval / time.Second), CreatedAt: w.Created}
}
