package webhooks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Run delivers until ctx ends, then waits for the attempts under way (an
// attempt cut short by ctx records nothing: its entry stays pending for
// another replica). It reads the stream in the consumer group, moves due
// retries back to it and claims the entries of dead replicas.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.ensureGroup(ctx)
	var wg sync.WaitGroup
	slots := make(chan struct{}, d.cfg.Workers)
	wg.Go(func() { d.moveLoop(ctx) })
	wg.Go(func() { d.claimLoop(ctx, &wg, slots) })
	d.readLoop(ctx, &wg, slots)
	wg.Wait()
	return nil
}

func (d *Dispatcher) ensureGroup(ctx context.Context) {
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, d.cfg.RedisTimeout)
		err := d.rdb.XGroupCreateMkStream(rctx, streamKey, group, "0").Err()
		cancel()
		if err == nil || strings.Contains(err.Error(), "BUSYGROUP") {
			return
		}
		d.log.WarnContext(ctx, "webhook consumer group not created", slog.String("error", err.Error()))
		sleep(ctx, d.cfg.Poll)
	}
}

// take blocks for one free slot, then takes every other free one.
func take(ctx context.Context, slots chan struct{}) int {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	n := 1
	for n < cap(slots) {
		select {
		case slots <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

func (d *Dispatcher) readLoop(ctx context.Context, wg *sync.WaitGroup, slots chan struct{}) {
	for {
		n := take(ctx, slots)
		if n == 0 {
			return
		}
		res, err := d.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: group, Consumer: d.consumer, Streams: []string{streamKey, ">"}, Count: int64(n), Block: time.Second,
		}).Result()
		var msgs []redis.XMessage
		for _, s := range res {
			msgs = append(msgs, s.Messages...)
		}
		d.start(ctx, wg, slots, msgs, n)
		if err != nil && !errors.Is(err, redis.Nil) && ctx.Err() == nil {
			if strings.Contains(err.Error(), "NOGROUP") {
				d.ensureGroup(ctx)
				continue
			}
			d.log.WarnContext(ctx, "webhook stream read failed", slog.String("error", err.Error()))
			sleep(ctx, d.cfg.Poll)
		}
	}
}

// start attempts msgs in the n slots taken and frees the ones left over.
func (d *Dispatcher) start(ctx context.Context, wg *sync.WaitGroup, slots chan struct{}, msgs []redis.XMessage, n int) {
	for _, m := range msgs[:min(len(msgs), n)] {
		wg.Go(func() {
			defer func() { <-slots }()
			d.attempt(ctx, m)
		})
	}
	for range n - min(len(msgs), n) {
		<-slots
	}
}

// claimLoop takes over the entries other consumers left idle for ClaimIdle.
func (d *Dispatcher) claimLoop(ctx context.Context, wg *sync.WaitGroup, slots chan struct{}) {
	t := time.NewTicker(d.cfg.ClaimEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cursor := "0-0"
		for ctx.Err() == nil {
			n := take(ctx, slots)
			if n == 0 {
				return
			}
			rctx, cancel := context.WithTimeout(ctx, d.cfg.RedisTimeout)
			msgs, next, err := d.rdb.XAutoClaim(rctx, &redis.XAutoClaimArgs{
				Stream: streamKey, Group: group, Consumer: d.consumer, MinIdle: d.cfg.ClaimIdle, Start: cursor, Count: int64(n),
			}).Result()
			cancel()
			d.start(ctx, wg, slots, msgs, n)
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, redis.Nil) {
					d.log.WarnContext(ctx, "webhook claim failed", slog.String("error", err.Error()))
				}
				break
			}
			if len(msgs) > 0 {
				d.m.claimed.Add(float64(len(msgs)))
			}
			if next == "0-0" {
				break
			}
			cursor = next
		}
	}
}

// moveLoop queues the retries that are due.
func (d *Dispatcher) moveLoop(ctx context.Context) {
	t := time.NewTicker(d.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, d.cfg.RedisTimeout)
		ids, err := d.rdb.ZRangeByScore(rctx, retryKey, &redis.ZRangeBy{
			Min: "-inf", Max: strconv.FormatInt(d.cfg.Now().UnixMilli(), 10), Count: 100,
		}).Result()
		cancel()
		for _, id := range ids {
			if err != nil {
				break
			}
			rctx, cancel := context.WithTimeout(ctx, d.cfg.RedisTimeout)
			err = moveScript.Run(rctx, d.rdb, []string{retryKey, streamKey, deliveryKey(id)}, id).Err()
			cancel()
		}
		if err != nil && ctx.Err() == nil {
			d.log.WarnContext(ctx, "webhook retries not moved", slog.String("error", err.Error()))
		}
	}
}

// attempt sends one stream entry's delivery and records the outcome.
func (d *Dispatcher) attempt(ctx context.Context, m redis.XMessage) {
	id, _ := m.Values["id"].(string)
	rctx, cancel := context.WithTimeout(ctx, d.cfg.RedisTimeout)
	h, err := d.rdb.HGetAll(rctx, deliveryKey(id)).Result()
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			d.log.WarnContext(ctx, "webhook delivery not read", slog.String("error", err.Error()))
		}
		return // stays pending: claimed again after ClaimIdle
	}
	if h["status"] != StatusPending {
		d.finish(ctx, m.ID, id, h, "", 0, "") // a stale entry: acknowledged, nothing recorded
		return
	}
	tenantID := h["tenant"]
	set := d.tenants.Load()
	t, ok := set.cfg[tenantID]
	var code int
	var reason string
	start := time.Now()
	if err := d.Check(tenantID, "callback_url", h["url"]); !ok || err != nil {
		reason = "the callback URL is no longer allowed for this tenant"
	} else {
		code, reason = d.send(ctx, set.clients[tenantID], t.Keys, id, h["url"], []byte(h["payload"]))
	}
	if ctx.Err() != nil {
		return // stopping: leave the entry pending for another replica
	}
	d.m.duration.Observe(time.Since(start).Seconds())
	d.finish(ctx, m.ID, id, h, reason, code, tenantID)
}

// send posts one signed attempt: (status code, "") on a 2xx answer, else
// the code (0 without an answer) and why it failed.
func (d *Dispatcher) send(ctx context.Context, c *http.Client, keys []Key, id, callback string, body []byte) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, callback, bytes.NewReader(body))
	if err != nil {
		return 0, "the callback URL is invalid"
	}
	now := d.cfg.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "legalgate-webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(keys, id, now, body))
	resp, err := c.Do(req)
	if err != nil {
		return 0, describe(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, d.cfg.MaxResponse))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return resp.StatusCode, ""
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return resp.StatusCode, "the receiver answered a redirect, which is not followed"
	}
	return resp.StatusCode, "the receiver answered " + strconv.Itoa(resp.StatusCode)
}

// describe says why an attempt got no answer, without the URL or address.
func describe(err error) string {
	var ne net.Error
	var dns *net.DNSError
	switch {
	case errors.Is(err, errAddressNotAllowed):
		return "the callback host resolves to an address that is not allowed"
	case errors.As(err, &dns):
		return "the callback host could not be resolved"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "the receiver did not answer in time"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the receiver refused the connection"
	}
	var ue *url.Error
	if errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "tls") {
		return "the TLS handshake with the receiver failed"
	}
	return "the connection to the receiver failed"
}

// finish records an attempt (reason "" and a 2xx code: delivered) and
// acknowledges the entry; h is the delivery as read before the attempt.
// tenantID "" only acknowledges.
func (d *Dispatcher) finish(ctx context.Context, entry, id string, h map[string]string, reason string, code int, tenantID string) {
	now := d.cfg.Now()
	status, next := StatusDelivered, int64(0)
	if tenantID != "" && reason != "" {
		attempts, _ := strconv.Atoi(h["attempts"])
		window, _ := strconv.ParseInt(h["window"], 10, 64)
		if now.Sub(time.UnixMilli(window)) >= d.cfg.RetryFor {
			status = StatusDead
		} else {
			status, next = StatusRetrying, now.Add(d.backoff(attempts+1)).UnixMilli()
		}
	}
	attempts := h["attempts"]
	if tenantID == "" {
		attempts = "-1" // matches no delivery: acknowledge only
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.RedisTimeout)
	defer cancel()
	n, err := finishScript.Run(rctx, d.rdb, []string{deliveryKey(id), streamKey, retryKey},
		group, entry, attempts, id, status, now.UnixMilli(), next, code, reason, int64(d.cfg.Retention/time.Second)).Int()
	if err != nil {
		d.log.WarnContext(ctx, "webhook attempt not recorded", slog.String("error", err.Error()))
		return
	}
	if n == 1 {
		d.m.result(status)
		if status == StatusDead {
			d.log.WarnContext(ctx, "webhook delivery dead", slog.String("tenant", tenantID), slog.String("delivery", id),
				slog.String("reason", reason))
		}
	}
}

// backoff is the wait before attempt n+1 after n failed ones: BackoffBase ×
// 2^(n-1), at most BackoffMax, drawn from [d/2, d].
func (d *Dispatcher) backoff(n int) time.Duration {
	w := d.cfg.BackoffMax
	if n-1 < 40 {
		w = min(d.cfg.BackoffBase<<(n-1), d.cfg.BackoffMax)
	}
	if w <= 0 {
		w = d.cfg.BackoffMax
	}
	return w/2 + time.Duration(rand.Int64N(int64(w/2)+1))
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
