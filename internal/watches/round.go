package watches

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant"
	"github.com/legalgate/legalgate/internal/webhooks"
)

// perCall is how many documents one find-modified call checks.
const perCall = 100

// Change is the data of a garant.document.changed webhook.
type Change struct {
	Watch   string `json:"watch_id"`
	Topic   int    `json:"topic"`
	Changed string `json:"changed"` // the change's date, YYYY-MM-DD
}

// due is the watches of cred whose interval has passed since their last
// check (or since they were created).
func (m *Manager) due(ctx context.Context, cred string, now time.Time) ([]Watch, error) {
	all, err := m.all(ctx, cred)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	rctx, cancel := m.redisCtx(ctx)
	defer cancel()
	checked, err := m.Redis.HGetAll(rctx, key(cred, "checked")).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	// A watch is due a little early rather than a tick late.
	slack := m.tick() / 2
	return slices.DeleteFunc(all, func(w Watch) bool {
		last := w.Created
		if ms, err := strconv.ParseInt(checked[w.ID], 10, 64); err == nil {
			last = time.UnixMilli(ms)
		}
		return now.Before(last.Add(w.Interval - slack))
	}), nil
}

// check runs one round of cred: the due watches' documents, merged and
// checked 100 a call, then purges and deliveries for what changed.
func (m *Manager) check(ctx context.Context, reg *tenant.Registry, cred *tenant.Credential) error {
	now := m.now()
	due, err := m.due(ctx, cred.Name, now)
	if err != nil || len(due) == 0 {
		return err
	}
	// The round's calls are charged to the credential's family once; the
	// ledger names the tenant of the oldest due watch that is still
	// configured with this credential.
	byID := map[string]*tenant.Tenant{}
	for _, t := range reg.Tenants() {
		byID[t.ID] = t
	}
	var payer *tenant.Tenant
	for _, w := range due {
		if t, ok := byID[w.Tenant]; ok {
			if c, ok := t.Credential(garant.Upstream); ok && c.Name == cred.Name {
				payer = t
				break
			}
		}
	}
	if payer == nil {
		return nil
	}
	// Each document is checked since the earliest creation of its due watchers.
	since := map[int]time.Time{}
	for _, w := range due {
		for _, tp := range w.Topics {
			if s, ok := since[tp]; !ok || w.Created.Before(s) {
				since[tp] = w.Created
			}
		}
	}
	topics := make([]int, 0, len(since))
	for tp := range since {
		topics = append(topics, tp)
	}
	slices.Sort(topics)
	changed := map[int]string{} // topic → latest change date
	for chunk := range slices.Chunk(topics, perCall) {
		from := since[chunk[0]]
		for _, tp := range chunk {
			from = minTime(from, since[tp])
		}
		got, err := m.findModified(ctx, payer, cred, chunk, from)
		if err != nil {
			return err
		}
		for tp, d := range got {
			changed[tp] = d
		}
	}
	if err := m.tell(ctx, payer, cred, due, changed); err != nil {
		return err
	}
	rctx, cancel := m.redisCtx(ctx)
	defer cancel()
	vals := make([]any, 0, 2*len(due))
	for _, w := range due {
		vals = append(vals, w.ID, now.UnixMilli())
	}
	if err := m.Redis.HSet(rctx, key(cred.Name, "checked"), vals...).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// findModified asks Garant which of topics changed since the day of from,
// metered through garantsvc, and returns topic → latest change date.
func (m *Manager) findModified(ctx context.Context, payer *tenant.Tenant, cred *tenant.Credential, topics []int, from time.Time) (map[int]string, error) {
	loc := time.UTC
	if m.Garant.Quota != nil {
		loc = m.Garant.Quota.Location()
	}
	day := from.In(loc)
	if floor := time.Date(2018, 1, 1, 0, 0, 0, 0, loc); day.Before(floor) {
		day = floor
	}
	req := garant.FindModifiedRequest{Topics: topics, ModDate: day.Format(time.DateOnly), NeedEvents: true}
	cctx, cancel := context.WithTimeout(ctx, orDuration(m.CallTimeout, 30*time.Second))
	defer cancel()
	var res *garant.ModifiedTopics
	err := m.Garant.Begin(OpFindModified, payer, cred).Do(cctx, func(ctx context.Context) error {
		var err error
		res, err = m.Garant.Client.FindModified(ctx, cred.Secret, req)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find-modified of %d documents: %w", len(topics), err)
	}
	out := map[int]string{}
	today := m.now().In(loc).Format(time.DateOnly)
	for _, t := range res.Topics {
		if t.ModStatus != 1 { // 2: no such document; not a change
			continue
		}
		d := ""
		for _, e := range t.Events {
			if _, err := time.Parse(time.DateOnly, e.Date); err == nil && e.Date > d {
				d = e.Date
			}
		}
		if d == "" {
			d = today
		}
		out[t.Topic] = d
	}
	return out, nil
}

// tell purges the cached answers of each changed document (once per
// change) and queues one delivery per watcher (once per watch and change).
func (m *Manager) tell(ctx context.Context, payer *tenant.Tenant, cred *tenant.Credential, due []Watch, changed map[int]string) error {
	if len(changed) == 0 {
		return nil
	}
	rctx, cancel := m.redisCtx(ctx)
	purged, err := m.Redis.HGetAll(rctx, key(cred.Name, "purged")).Result()
	cancel()
	if err != nil {
		return unavailable(err)
	}
	call := m.Garant.Begin(OpFindModified, payer, cred)
	for tp, d := range changed {
		if purged[strconv.Itoa(tp)] >= d {
			continue
		}
		if _, err := call.Purge(ctx, "", tp); err != nil {
			return fmt.Errorf("purge of document %d: %w", tp, err)
		}
		rctx, cancel := m.redisCtx(ctx)
		err := m.Redis.HSet(rctx, key(cred.Name, "purged"), tp, d).Err()
		cancel()
		if err != nil {
			return unavailable(err)
		}
	}
	rctx, cancel = m.redisCtx(ctx)
	told, err := m.Redis.HGetAll(rctx, key(cred.Name, "told")).Result()
	cancel()
	if err != nil {
		return unavailable(err)
	}
	for _, w := range due {
		created := w.Created.Format(time.DateOnly)
		for _, tp := range w.Topics {
			d, ok := changed[tp]
			f := w.ID + ":" + strconv.Itoa(tp)
			if !ok || d < created || told[f] >= d {
				continue
			}
			_, err := m.Hooks.Enqueue(ctx, webhooks.Message{Tenant: w.Tenant, URL: w.CallbackURL, Type: EventChanged,
				Data: Change{Watch: w.ID, Topic: tp, Changed: d}, Key: EventChanged + ":" + f + ":" + d})
			if err != nil {
				m.log().Warn("garant watches: delivery not queued", "tenant", w.Tenant, "watch", w.ID, "error", err.Error())
				continue
			}
			rctx, cancel := m.redisCtx(ctx)
			err = m.Redis.HSet(rctx, key(cred.Name, "told"), f, d).Err()
			cancel()
			if err != nil {
				return unavailable(err)
			}
		}
	}
	return nil
}
