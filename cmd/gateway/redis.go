package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/config"
)

// openRedis connects to the configured Redis (one node or a cluster) or, when
// none is configured, starts an embedded in-process Redis-protocol server so
// that every code path is the same as in production. The returned close
// function releases both.
func openRedis(ctx context.Context, cfg config.Redis, log *slog.Logger) (redis.UniversalClient, func(), error) {
	opts := &redis.UniversalOptions{
		// RESP2: pub/sub, Lua and the cluster paths all work on it, and it
		// skips go-redis's RESP3 push-notification check on every call.
		Protocol:     2,
		DialTimeout:  cfg.Timeout * 4,
		ReadTimeout:  cfg.Timeout,
		WriteTimeout: cfg.Timeout,
		PoolSize:     64,
		MinIdleConns: 4,
	}
	var stop func()
	switch {
	case cfg.Embedded():
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("start embedded redis: %w", err)
		}
		log.Warn("using an EMBEDDED in-process Redis: quotas, cache and FSSP tasks are not durable and not shared with other replicas; set redis.url or redis.addrs for production",
			"addr", mr.Addr())
		opts.Addrs = []string{mr.Addr()}
		stop = mr.Close
	case cfg.URL != "":
		o, err := redis.ParseURL(cfg.URL)
		if err != nil {
			// config.Validate names the problem; the URL may carry a password.
			return nil, nil, errors.New("config: redis.url: not a valid Redis URL")
		}
		opts.Addrs = []string{o.Addr}
		opts.DB, opts.Username, opts.Password, opts.TLSConfig = o.DB, o.Username, o.Password, o.TLSConfig
	default:
		opts.Addrs = cfg.Addrs
		opts.IsClusterMode = true
	}
	rdb := redis.NewUniversalClient(opts)
	closeAll := func() {
		_ = rdb.Close()
		if stop != nil {
			stop()
		}
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		// Not fatal: /readyz reports it and metered calls fail closed until it is back.
		log.Error("redis is not reachable at start-up", "error", err.Error())
	}
	return rdb, closeAll, nil
}
