package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/webhooks"
)

// wireWebhooks builds the webhook dispatcher of every tenant's callbacks.
func wireWebhooks(cfg *config.Config, rdb redis.UniversalClient, reg prometheus.Registerer, log *slog.Logger) *webhooks.Dispatcher {
	w := cfg.Webhooks
	return webhooks.New(rdb, webhooks.Config{
		Tenants: cfg.WebhooksConfig(), BackoffBase: w.BackoffBase, BackoffMax: w.BackoffMax, RetryFor: w.RetryFor,
		Timeout: w.Timeout, Workers: w.Workers, RedisTimeout: 2 * cfg.Redis.Timeout,
	}, reg, log)
}

// fsspCallbacks sends FSSP tasks' webhooks through the dispatcher.
type fsspCallbacks struct{ d *webhooks.Dispatcher }

func (c fsspCallbacks) Check(tenantID, field, url string) error {
	return c.d.Check(tenantID, field, url)
}

func (c fsspCallbacks) Finished(ctx context.Context, tenantID, url string, s fssptasks.Summary) error {
	_, err := c.d.Enqueue(ctx, webhooks.Message{Tenant: tenantID, URL: url, Type: fssptasks.EventFinished, Data: s,
		Key: fssptasks.EventFinished + ":" + s.ID})
	return err
}
