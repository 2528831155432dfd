// Package watches keeps the tenants' shared watches of Garant documents and
// of fragments of documents, and checks them: every round, one replica per
// Garant credential (a Redis lock) merges the due watches of every tenant of
// that credential into the fewest find-modified calls (documents) and
// block-on-control/changed calls (fragment links), 100 a call, spends the
// monitoring family once for everyone through garantsvc (reserved and
// refunded like any call), and for each changed document (for a fragment:
// the document containing it) purges the cached answers about it, then
// queues one signed webhook per watcher (garant.document.changed,
// garant.fragment.changed), idempotent per watch, item and change date.
//
// Watches with the same interval share one schedule: a watch falls due in
// the first round after a multiple of its interval since the Unix epoch
// has passed since its last check (or its creation), so every watch of an
// interval is checked in the same round whoever created it and when.
//
// Redis keys, all under the credential's hash tag {cred:NAME}:
//
//	{cred:NAME}:watches          hash  watch id → the watch (JSON)
//	{cred:NAME}:watches:checked  hash  watch id → last round that checked it (Unix ms)
//	{cred:NAME}:watches:told     hash  "id:topic" or "id:topic:entry" → latest change date told to the watch
//	{cred:NAME}:watches:purged   hash  topic → latest change date whose answers were purged
//	{cred:NAME}:watches:lock     string  the round's lock
//
// The last three are bounded by the first: a field names a watch that
// exists (checked, told) or a document that a watch names (purged). Delete
// removes the fields of the watch it deletes, and every round removes any
// other field that names no watch or no watched document (a watch deleted
// while a round was telling it).
package watches

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/garantsvc"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/webhooks"
)

// Types of the webhooks sent when a watched document or fragment changed.
const (
	EventChanged         = "garant.document.changed"
	EventFragmentChanged = "garant.fragment.changed"
)

// The contract's operations whose rules (quota family, split) a round's
// calls follow.
const (
	OpFindModified  = "garantFindModified"
	OpBlocksChanged = "garantBlocksChanged"
)

// Limits of one watch and of a tenant.
const (
	MaxTopics    = 100  // documents per watch
	MaxFragments = 100  // fragments per watch
	MaxPerTenant = 1000 // watches per tenant
)

// Watch is one tenant's watch of Garant documents and fragments.
type Watch struct {
	ID          string        `json:"id"`
	Tenant      string        `json:"tenant"`
	Topics      []int         `json:"topics"`
	Fragments   []string      `json:"fragments,omitempty"` // links in canonical form (Fragment.Link)
	CallbackURL string        `json:"callback_url"`
	Interval    time.Duration `json:"interval"` // how often its documents are checked
	Created     time.Time     `json:"created"`
}

// Hooks queues the deliveries (webhooks.Dispatcher).
type Hooks interface {
	Check(tenantID, field, url string) error
	Enqueue(ctx context.Context, m webhooks.Message) (string, error)
}

// Manager creates, lists and deletes watches and runs their rounds.
type Manager struct {
	Redis  redis.UniversalClient
	Garant *garantsvc.Service
	Hooks  Hooks
	// Tenants is the configuration in force (a reload changes it).
	Tenants func() *tenant.Registry
	Log     *slog.Logger // nil: no logging

	// Tick is the time between rounds; 0: 1 minute. A watch is checked in
	// the first round after its Interval has passed since its last check.
	Tick time.Duration
	// MinInterval is the shortest interval a watch may ask for; 0: 1 hour.
	// DefaultInterval is a watch's interval when it asks for none; 0: 1 day.
	MinInterval, DefaultInterval time.Duration
	// RedisTimeout bounds one Redis call; 0: 2 s. CallTimeout bounds one
	// Garant call; 0: 30 s.
	RedisTimeout, CallTimeout time.Duration
	// DocumentBase is the Garant front end whose fragment links Garant
	// reads (the links sent are DocumentBase + "/#/document/T/entry/E");
	// "": garant.DefaultDocumentBase.
	DocumentBase string
	Now          func() time.Time // nil: time.Now
}

// Request is a new watch.
type Request struct {
	Topics      []int
	Fragments   []string // fragment links
	CallbackURL string
	Interval    time.Duration // 0: DefaultInterval
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) log() *slog.Logger {
	if m.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Log
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (m *Manager) redisCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, orDuration(m.RedisTimeout, 2*time.Second))
}

func key(credential, suffix string) string {
	k := "{cred:" + credential + "}:watches"
	if suffix != "" {
		k += ":" + suffix
	}
	return k
}

// credential is t's Garant credential, or a 403 when it has none.
func credential(t *tenant.Tenant) (*tenant.Credential, error) {
	c, ok := t.Credential("garant")
	if !ok {
		return nil, &apperr.Error{Kind: apperr.Forbidden, Detail: "this tenant has no Garant credential"}
	}
	return c, nil
}

// Create validates r and stores a new watch of t. Nothing is spent. A watch
// under whose merged schedule the monitoring family would run out before
// its reset is refused (Unprocessable, saying when).
func (m *Manager) Create(ctx context.Context, t *tenant.Tenant, r Request) (*Watch, error) {
	cred, err := credential(t)
	if err != nil {
		return nil, err
	}
	if len(r.Topics) == 0 && len(r.Fragments) == 0 {
		return nil, apperr.InvalidField("body.topics", "watch at least one document (topics) or fragment (fragments)")
	}
	if len(r.Topics) > MaxTopics {
		return nil, apperr.InvalidField("body.topics", fmt.Sprintf("at most %d documents", MaxTopics))
	}
	if len(r.Fragments) > MaxFragments {
		return nil, apperr.InvalidField("body.fragments", fmt.Sprintf("at most %d fragments", MaxFragments))
	}
	topics := slices.Clone(r.Topics)
	slices.Sort(topics)
	topics = slices.Compact(topics)
	for _, tp := range topics {
		if tp <= 0 {
			return nil, apperr.InvalidField("body.topics", "document ids are positive")
		}
	}
	fragments := make([]string, 0, len(r.Fragments))
	for i, link := range r.Fragments {
		f, err := ParseFragment(link)
		if err != nil {
			return nil, apperr.InvalidField(fmt.Sprintf("body.fragments[%d]", i), err.Error())
		}
		fragments = append(fragments, f.Link(m.DocumentBase))
	}
	slices.Sort(fragments)
	fragments = slices.Compact(fragments)
	if err := m.Hooks.Check(t.ID, "body.callback_url", r.CallbackURL); err != nil {
		return nil, err
	}
	minI := orDuration(m.MinInterval, time.Hour)
	interval := orDuration(r.Interval, max(orDuration(m.DefaultInterval, 24*time.Hour), minI))
	if interval < minI {
		return nil, apperr.InvalidField("body.interval_seconds", fmt.Sprintf("at least %d", int64(minI/time.Second)))
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	w := &Watch{ID: "wch_" + hex.EncodeToString(b[:]), Tenant: t.ID, Topics: topics, Fragments: fragments,
		CallbackURL: r.CallbackURL, Interval: interval, Created: m.now().UTC()}
	all, err := m.all(ctx, cred.Name)
	if err != nil {
		return nil, err
	}
	own := 0
	for _, o := range all {
		if o.Tenant == t.ID {
			own++
		}
	}
	if own >= MaxPerTenant {
		return nil, &apperr.Error{Kind: apperr.Conflict, Detail: fmt.Sprintf("a tenant keeps at most %d watches; delete one first", MaxPerTenant)}
	}
	if err := m.checkForecast(ctx, t, cred, append(all, *w)); err != nil {
		return nil, err
	}
	body, err := json.Marshal(w)
	if err != nil {
		return nil, apperr.Wrap(apperr.Internal, "", err)
	}
	rctx, cancel := m.redisCtx(ctx)
	defer cancel()
	if err := m.Redis.HSet(rctx, key(cred.Name, ""), w.ID, body).Err(); err != nil {
		return nil, unavailable(err)
	}
	return w, nil
}

func unavailable(err error) error {
	return &apperr.Error{Kind: apperr.Unavailable, Detail: "the watch store is unavailable", Err: fmt.Errorf("watches: %w", err)}
}

// all is every watch of a credential.
func (m *Manager) all(ctx context.Context, credential string) ([]Watch, error) {
	rctx, cancel := m.redisCtx(ctx)
	defer cancel()
	raw, err := m.Redis.HGetAll(rctx, key(credential, "")).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]Watch, 0, len(raw))
	for id, v := range raw {
		var w Watch
		if err := json.Unmarshal([]byte(v), &w); err != nil {
			m.log().Warn("watches: unreadable watch", "id", id, "error", err.Error())
			continue
		}
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b Watch) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// List is t's own watches, oldest first.
func (m *Manager) List(ctx context.Context, t *tenant.Tenant) ([]Watch, error) {
	cred, err := credential(t)
	if err != nil {
		return nil, err
	}
	all, err := m.all(ctx, cred.Name)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(w Watch) bool { return w.Tenant != t.ID }), nil
}

// ErrNotFound is the kind of answer to a watch of another tenant, or none.
var errNotFound = &apperr.Error{Kind: apperr.NotFound, Detail: "no such watch"}

// Delete deletes t's watch id; another tenant's watch is not found.
func (m *Manager) Delete(ctx context.Context, t *tenant.Tenant, id string) error {
	cred, err := credential(t)
	if err != nil {
		return err
	}
	rctx, cancel := m.redisCtx(ctx)
	defer cancel()
	v, err := m.Redis.HGet(rctx, key(cred.Name, ""), id).Result()
	if errors.Is(err, redis.Nil) {
		return errNotFound
	}
	if err != nil {
		return unavailable(err)
	}
	var w Watch
	if json.Unmarshal([]byte(v), &w) != nil || w.Tenant != t.ID {
		return errNotFound
	}
	if err := m.Redis.HDel(rctx, key(cred.Name, ""), id).Err(); err != nil {
		return unavailable(err)
	}
	// Its state goes with it; what fails here goes in the next round's sweep.
	m.Redis.HDel(rctx, key(cred.Name, "checked"), id)
	if told := toldFields(w); len(told) > 0 {
		m.Redis.HDel(rctx, key(cred.Name, "told"), told...)
	}
	if rest, err := m.all(ctx, cred.Name); err == nil {
		watched := watchedTopics(rest)
		var gone []string
		for tp := range watchedTopics([]Watch{w}) {
			if !watched[tp] {
				gone = append(gone, strconv.Itoa(tp))
			}
		}
		if len(gone) > 0 {
			m.Redis.HDel(rctx, key(cred.Name, "purged"), gone...)
		}
	}
	return nil
}

func (m *Manager) tick() time.Duration { return orDuration(m.Tick, time.Minute) }

// Run runs a round every Tick until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.tick())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		m.Round(ctx)
	}
}

// Round checks the due watches of every Garant credential whose lock this
// replica takes, and returns how many credentials it checked. Failures are
// logged: the next round tries again.
func (m *Manager) Round(ctx context.Context) int {
	reg := m.Tenants()
	n := 0
	for _, cred := range reg.Credentials() {
		if cred.Upstream != "garant" || ctx.Err() != nil {
			continue
		}
		if !m.lock(ctx, cred.Name) {
			continue
		}
		if err := m.check(ctx, reg, cred); err != nil {
			if ctx.Err() == nil {
				m.log().Warn("garant watches: round failed", "upstream", "garant", "credential", cred.Name, "error", err.Error())
			}
			continue
		}
		n++
	}
	return n
}

// lock takes the round's lock on a credential; it expires a little before
// the next round.
func (m *Manager) lock(ctx context.Context, credential string) bool {
	rctx, cancel := m.redisCtx(ctx)
	defer cancel()
	ok, err := m.Redis.SetNX(rctx, key(credential, "lock"), strconv.FormatInt(m.now().UnixMilli(), 10), m.tick()*8/10).Result()
	return err == nil && ok
}
