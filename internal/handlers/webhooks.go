package handlers

import (
	"context"
	"time"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/webhooks"
)

// webhookHandlers answers the tenant's webhook delivery log and
// redeliveries (internal/webhooks). A nil dispatcher answers 501.
type webhookHandlers struct {
	hooks *webhooks.Dispatcher
}

// ListWebhookDeliveries answers the tenant's own recent deliveries.
func (h webhookHandlers) ListWebhookDeliveries(ctx context.Context, req api.ListWebhookDeliveriesRequestObject) (api.ListWebhookDeliveriesResponseObject, error) {
	if h.hooks == nil {
		return nil, notBuilt("listWebhookDeliveries")
	}
	t, err := tenantFrom(ctx)
	if err != nil {
		return nil, err
	}
	limit := 100
	if req.Params.Limit != nil {
		limit = *req.Params.Limit
	}
	list, err := h.hooks.List(ctx, t.ID, limit)
	if err != nil {
		return nil, err
	}
	out := api.ListWebhookDeliveries200JSONResponse{Deliveries: make([]api.WebhookDelivery, len(list))}
	for i, d := range list {
		out.Deliveries[i] = webhookDelivery(d)
	}
	return out, nil
}

// RedeliverWebhook queues one of the tenant's deliveries again.
func (h webhookHandlers) RedeliverWebhook(ctx context.Context, req api.RedeliverWebhookRequestObject) (api.RedeliverWebhookResponseObject, error) {
	if h.hooks == nil {
		return nil, notBuilt("redeliverWebhook")
	}
	t, err := tenantFrom(ctx)
	if err != nil {
		return nil, err
	}
	d, err := h.hooks.Redeliver(ctx, t.ID, req.DeliveryId)
	if err != nil {
		return nil, err
	}
	return api.RedeliverWebhook202JSONResponse(webhookDelivery(*d)), nil
}

func webhookDelivery(d webhooks.Delivery) api.WebhookDelivery {
	timeOrNil := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	out := api.WebhookDelivery{Id: d.ID, Type: d.Type, Url: d.URL, Status: api.WebhookDeliveryStatus(d.Status),
		Attempts: d.Attempts, CreatedAt: d.CreatedAt, LastAttemptAt: timeOrNil(d.LastAttemptAt), NextAttemptAt: timeOrNil(d.NextAttemptAt)}
	if d.LastStatusCode != 0 {
		out.LastStatusCode = &d.LastStatusCode
	}
	if d.LastError != "" {
		out.LastError = &d.LastError
	}
	return out
}
