// Package webhooks delivers signed webhooks to tenants' callback URLs, at
// least once, durably in Redis.
//
// Messages are signed per the Standard Webhooks specification
// (https://www.standardwebhooks.com): headers webhook-id (the delivery's id,
// the same on every attempt), webhook-timestamp (the attempt's Unix
// seconds) and webhook-signature ("v1," + base64 HMAC-SHA256 of
// "id.timestamp.body" under each of the tenant's keys, space-separated, so
// two keys can be valid during a rotation). The body is
// {"type", "timestamp", "data"}, encoded once at Enqueue and sent unchanged
// on every attempt.
//
// A callback URL must match one of the tenant's allow-list rules (Rule:
// scheme, host and port, and a path prefix); Check refuses others before
// the caller does anything. An attempt follows no redirect, resolves the
// host once and connects only to an address that is not link-local,
// multicast or unspecified, and not loopback or private unless the tenant
// allows them; it has a deadline (Timeout) and reads at most MaxResponse
// bytes of the answer. A 2xx answer delivers; anything else is a failed
// attempt, retried after an exponential back-off with jitter (BackoffBase
// doubling up to BackoffMax, each wait drawn from [d/2, d]) for RetryFor
// (24 h) after the delivery was queued; a delivery failing past that is
// dead. Every replica shares the work:
//
//	{webhooks}:stream          stream of {id}: deliveries due now; consumer group "deliver"
//	{webhooks}:retry           sorted set of delivery ids by next attempt (Unix ms)
//	{webhooks}:d:ID            hash: tenant, url, type, payload, created, window, attempts, status, next, last, code, error
//	{webhooks}:log:TENANT      sorted set of the tenant's delivery ids by creation (the LogSize newest)
//
// Each replica reads the stream in the group (XREADGROUP) with up to
// Workers attempts at once and acknowledges an entry in the same script that
// records the attempt's outcome (and schedules the retry), so an entry is
// never lost: one a killed replica held stays pending in the group, and
// another replica claims it (XAUTOCLAIM) once it has been idle ClaimIdle,
// longer than any attempt takes. The receiver may then see the message
// twice, always under the same webhook-id. Retries due are moved from the
// sorted set back to the stream (one script per delivery, so one replica
// moves each). All keys share the hash tag {webhooks}.
//
// Statuses: pending (queued or being attempted), retrying (waiting for its
// next attempt), delivered, dead. Deliveries and the log are kept
// Retention (7 days) after their last change.
package webhooks

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
)

// Tenant is one tenant's webhook settings.
type Tenant struct {
	Keys         []Key  // signing keys: each signs every message (two during a rotation)
	Allow        []Rule // callback URLs must match one
	AllowPrivate bool   // callbacks may connect to loopback and private addresses
}

// Config tunes a Dispatcher. Zero values take the defaults in brackets.
type Config struct {
	Tenants      map[string]Tenant
	BackoffBase  time.Duration // first retry's wait [5 s]
	BackoffMax   time.Duration // longest wait between attempts [1 h]
	RetryFor     time.Duration // attempts go on this long after queuing (or a redelivery) [24 h]
	Timeout      time.Duration // one attempt, connection included [10 s]
	MaxResponse  int64         // bytes of a receiver's answer read [64 KiB]
	Workers      int           // attempts at once per replica [16]
	Poll         time.Duration // how often due retries are moved to the stream [1 s]
	ClaimIdle    time.Duration // a pending entry idle this long belonged to a dead replica [2 × Timeout + 10 s]
	ClaimEvery   time.Duration // how often a replica looks for them [ClaimIdle / 2]
	Retention    time.Duration // deliveries and logs kept after their last change [7 days]
	LogSize      int           // deliveries listed per tenant [1000]
	RedisTimeout time.Duration // one Redis call [2 s]
	Resolver     Resolver      // [a net.Resolver]
	Now          func() time.Time
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.BackoffBase, 5*time.Second)
	def(&c.BackoffMax, time.Hour)
	def(&c.RetryFor, 24*time.Hour)
	def(&c.Timeout, 10*time.Second)
	def(&c.Poll, time.Second)
	def(&c.ClaimIdle, 2*c.Timeout+10*time.Second)
	def(&c.ClaimEvery, c.ClaimIdle/2)
	def(&c.Retention, 7*24*time.Hour)
	def(&c.RedisTimeout, 2*time.Second)
	if c.MaxResponse <= 0 {
		c.MaxResponse = 64 << 10
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.LogSize <= 0 {
		c.LogSize = 1000
	}
	if c.Resolver == nil {
		c.Resolver = &net.Resolver{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Dispatcher queues, sends and lists deliveries. Safe for concurrent use.
type Dispatcher struct {
	rdb      redis.UniversalClient
	cfg      Config
	log      *slog.Logger
	m        *dispatchMetrics
	tenants  atomic.Pointer[tenantSet] // swapped whole by SetTenants
	consumer string
}

// tenantSet is the tenants' webhook settings in force, with an HTTP client
// per tenant (its address policy, its connections). Never changed once built.
type tenantSet struct {
	cfg     map[string]Tenant
	clients map[string]*http.Client
}

// SetTenants puts the tenants' webhook settings (secrets, allow-lists) in
// force, for the checks and deliveries that start from now on; a tenant whose
// address policy is unchanged keeps its client and connections.
func (d *Dispatcher) SetTenants(tenants map[string]Tenant) {
	old := d.tenants.Load()
	next := &tenantSet{cfg: tenants, clients: make(map[string]*http.Client, len(tenants))}
	for id, t := range tenants {
		if old != nil && old.clients[id] != nil && old.cfg[id].AllowPrivate == t.AllowPrivate {
			next.clients[id] = old.clients[id]
			continue
		}
		next.clients[id] = newClient(d.cfg.Resolver, t.AllowPrivate, d.cfg.Timeout)
	}
	d.tenants.Store(next)
}

// New returns a Dispatcher; call Run to deliver.
func New(rdb redis.UniversalClient, cfg Config, reg prometheus.Registerer, log *slog.Logger) *Dispatcher {
	cfg = cfg.withDefaults()
	var b [8]byte
	_, _ = rand.Read(b[:])
	d := &Dispatcher{rdb: rdb, cfg: cfg, log: log, m: newMetrics(reg), consumer: hex.EncodeToString(b[:])}
	d.SetTenants(cfg.Tenants)
	return d
}

// Check validates a callback URL of tenantID: Invalid naming field when it
// is malformed, has no webhook settings or matches no allow-list rule.
func (d *Dispatcher) Check(tenantID, field, callback string) error {
	u, err := parseCallback(callback)
	if err != nil {
		return apperr.InvalidField(field, err.Error())
	}
	t, ok := d.tenants.Load().cfg[tenantID]
	if !ok || len(t.Keys) == 0 {
		return apperr.InvalidField(field, "webhooks are not configured for this tenant")
	}
	for _, r := range t.Allow {
		if r.matches(u) {
			return nil
		}
	}
	return apperr.InvalidField(field, "the URL matches none of the tenant's allowed callback prefixes")
}

// Message is one event for a tenant's callback.
type Message struct {
	Tenant string
	URL    string // checked with Check beforehand
	Type   string // e.g. "fssp.task.finished"
	Data   any    // the payload's data member
	// Key names the event, for idempotence: a message with the Tenant and
	// Key of one already queued (within Retention) is not queued again.
	// Empty: every call queues a new delivery.
	Key string
}

// Enqueue queues a delivery of m and returns its id (its webhook-id).
func (d *Dispatcher) Enqueue(ctx context.Context, m Message) (string, error) {
	if err := d.Check(m.Tenant, "callback_url", m.URL); err != nil {
		return "", err
	}
	now := d.cfg.Now()
	body, err := json.Marshal(struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      any       `json:"data"`
	}{m.Type, now.UTC(), m.Data})
	if err != nil {
		return "", fmt.Errorf("webhooks: encode %s: %w", m.Type, err)
	}
	id := newID(m.Tenant, m.Key)
	ctx, cancel := context.WithTimeout(ctx, d.cfg.RedisTimeout)
	defer cancel()
	err = enqueueScript.Run(ctx, d.rdb, []string{deliveryKey(id), streamKey, logKey(m.Tenant)},
		id, m.Tenant, m.URL, m.Type, body, now.UnixMilli(), int64(d.cfg.Retention/time.Second), d.cfg.LogSize).Err()
	if err != nil {
		return "", apperr.Wrap(apperr.Unavailable, "the webhook could not be queued", fmt.Errorf("webhooks: enqueue: %w", err))
	}
	return id, nil
}

// newID is a webhook-id: "msg_" and 26 hex digits, derived from the tenant
// and key when there is a key, random otherwise. It never contains a ".".
func newID(tenantID, key string) string {
	if key == "" {
		var b [13]byte
		_, _ = rand.Read(b[:])
		return "msg_" + hex.EncodeToString(b[:])
	}
	sum := sha256.Sum256([]byte(tenantID + "\x00" + key))
	return "msg_" + hex.EncodeToString(sum[:13])
}
