package watches

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant"
	"github.com/legalgate/legalgate/internal/webhooks"
)

// perCall is how many documents one find-modified call checks, and how
// many fragment links one block-on-control/changed call checks (Garant's
// document: "no more than 100 documents per call" for monitoring).
const perCall = 100

// Change is the data of a garant.document.changed webhook.
type Change struct {
	Watch   string `json:"watch_id"`
	Topic   int    `json:"topic"`
	Changed string `json:"changed"` // the change's date, YYYY-MM-DD
}

// FragmentChange is the data of a garant.fragment.changed webhook.
type FragmentChange struct {
	Watch   string `json:"watch_id"`
	URL     string `json:"url"` // the fragment's link, as the watch lists it
	Topic   int    `json:"topic"`
	Entry   int    `json:"entry"`
	Changed string `json:"changed"` // the change's date, YYYY-MM-DD
}

// isDue reports whether a multiple of w's interval since the Unix epoch
// lies in (last, now]: watches of one interval share one schedule.
func isDue(w Watch, last, now time.Time) bool {
	iv := max(w.Interval.Milliseconds(), 1)
	return now.UnixMilli()/iv > last.UnixMilli()/iv
}

// due is the watches of all whose slot has come since their last check (or
// since they were created), and each one's last check or creation.
func (m *Manager) due(ctx context.Context, cred string, all []Watch, now time.Time) ([]Watch, map[string]time.Time, error) {
	rctx, cancel := m.redisCtx(ctx)
	defer cancel()
	checked, err := m.Redis.HGetAll(rctx, key(cred, "checked")).Result()
	if err != nil {
		return nil, nil, unavailable(err)
	}
	last := map[string]time.Time{}
	for _, w := range all {
		last[w.ID] = w.Created
		if ms, err := strconv.ParseInt(checked[w.ID], 10, 64); err == nil {
			last[w.ID] = time.UnixMilli(ms)
		}
	}
	return slices.DeleteFunc(slices.Clone(all), func(w Watch) bool { return !isDue(w, last[w.ID], now) }), last, nil
}

// loc is the time zone of change dates (the quota engine's).
func (m *Manager) loc() *time.Location {
	if m.Garant != nil && m.Garant.Quota != nil {
		return m.Garant.Quota.Location()
	}
	return time.UTC
}

// day is t's date in loc, not before 2018-01-01 (Garant's floor).
func (m *Manager) day(t time.Time) string {
	return max(t.In(m.loc()).Format(time.DateOnly), "2018-01-01")
}

// state is what a round reads of the told and purged hashes.
type state struct {
	told, purged map[string]string
}

// check runs one round of cred: the due watches' documents and fragments,
// merged and checked 100 a call, then purges and deliveries for what
// changed; the state of deleted watches is swept first.
func (m *Manager) check(ctx context.Context, reg *tenant.Registry, cred *tenant.Credential) error {
	now := m.now()
	all, err := m.all(ctx, cred.Name)
	if err != nil {
		return err
	}
	if err := m.sweep(ctx, cred.Name, all); err != nil {
		return err
	}
	due, last, err := m.due(ctx, cred.Name, all, now)
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
	st, err := m.readState(ctx, cred.Name)
	if err != nil {
		return err
	}
	docs, err := m.checkDocuments(ctx, payer, cred, due)
	if err != nil {
		return err
	}
	frags, err := m.checkFragments(ctx, payer, cred, due, last)
	if err != nil {
		return err
	}
	if err := m.tell(ctx, payer, cred, due, docs, frags, st); err != nil {
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

func (m *Manager) readState(ctx context.Context, cred string) (state, error) {
	rctx, cancel := m.redisCtx(ctx)
	defer cancel()
	pipe := m.Redis.Pipeline()
	told := pipe.HGetAll(rctx, key(cred, "told"))
	purged := pipe.HGetAll(rctx, key(cred, "purged"))
	if _, err := pipe.Exec(rctx); err != nil {
		return state{}, unavailable(err)
	}
	return state{told: told.Val(), purged: purged.Val()}, nil
}

// checkDocuments asks find-modified about the due watches' documents, 100 a
// call, each since the earliest creation of its due watchers, and returns
// topic → latest change date.
func (m *Manager) checkDocuments(ctx context.Context, payer *tenant.Tenant, cred *tenant.Credential, due []Watch) (map[int]string, error) {
	since := map[int]string{}
	for _, w := range due {
		created := m.day(w.Created)
		for _, tp := range w.Topics {
			if s, ok := since[tp]; !ok || created < s {
				since[tp] = created
			}
		}
	}
	topics := make([]int, 0, len(since))
	for tp := range since {
		topics = append(topics, tp)
	}
	slices.Sort(topics)
	changed := map[int]string{}
	for chunk := range slices.Chunk(topics, perCall) {
		from := since[chunk[0]]
		for _, tp := range chunk {
			from = min(from, since[tp])
		}
		if err := m.findModified(ctx, payer, cred, chunk, from, changed); err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// metered runs one call of op through garantsvc (payer's quota, refunds,
// the 423 and 401 rules; a scheduled call, which takes no fair share)
// within the call timeout.
func metered[T any](ctx context.Context, m *Manager, op string, payer *tenant.Tenant, cred *tenant.Credential, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, orDuration(m.CallTimeout, 30*time.Second))
	defer cancel()
	var res T
	err := m.Garant.Begin(op, payer, cred).Scheduled().Do(ctx, func(ctx context.Context) error {
		var err error
		res, err = call(ctx)
		return err
	})
	return res, err
}

// findModified asks Garant which of topics changed since the day from,
// metered through garantsvc, and adds topic → latest change date to out.
func (m *Manager) findModified(ctx context.Context, payer *tenant.Tenant, cred *tenant.Credential, topics []int, from string, out map[int]string) error {
	req := garant.FindModifiedRequest{Topics: topics, ModDate: from, NeedEvents: true}
	res, err := metered(ctx, m, OpFindModified, payer, cred, func(ctx context.Context) (*garant.ModifiedTopics, error) {
		return m.Garant.Client.FindModified(ctx, cred.Secret, req)
	})
	if err != nil {
		return fmt.Errorf("find-modified of %d documents: %w", len(topics), err)
	}
	today := m.day(m.now())
	for _, t := range res.Topics {
		if t.ModStatus != 1 { // 2: no such document; not a change
			continue
		}
		d := latest(t.Events, "")
		if d == "" {
			d = today
		}
		out[t.Topic] = d
	}
	return nil
}

// latest is the latest date of events on or after from, "" for none.
// Dates are read as Garant's documents write them (2006-01-02) and in the
// other forms an answer may carry (a timestamp, 02.01.2006); a date in no
// known form is skipped (it cannot be ordered, and taking it as today would
// tell the same change again every round).
func latest(events []garant.Event, from string) string {
	d := ""
	for _, e := range events {
		date, ok := eventDay(e.Date)
		if ok && date >= from && date > d {
			d = date
		}
	}
	return d
}

// eventDay reads a change event's date as YYYY-MM-DD.
func eventDay(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 10 {
		if t, err := time.Parse(time.DateOnly, s[:10]); err == nil {
			return t.Format(time.DateOnly), true
		}
		if t, err := time.Parse("02.01.2006", s[:10]); err == nil {
			return t.Format(time.DateOnly), true
		}
	}
	return "", false
}

// fragmentSince is the first day of a change watch w is to be told of
// about fragment f: its creation day, or the day after the last change it
// was told of.
func (m *Manager) fragmentSince(w Watch, f Fragment, st state) string {
	s := m.day(w.Created)
	if d, err := time.Parse(time.DateOnly, st.told[toldField(w.ID, f)]); err == nil {
		s = max(s, d.AddDate(0, 0, 1).Format(time.DateOnly))
	}
	return s
}

// blockChange is a fragment Garant reported changed: the dates of its
// document's events in the call's window (none when Garant sent none).
type blockChange struct {
	events []garant.Event
	from   string // the call's fromDate
}

// checkFragments asks block-on-control/changed about the due watches'
// fragments, 100 links a call, and returns the changed fragments. Garant
// answers whether a fragment changed since a day, so each link is asked
// about since the day its due watchers were last checked (or created):
// watches of one interval share that day, hence their calls.
func (m *Manager) checkFragments(ctx context.Context, payer *tenant.Tenant, cred *tenant.Credential, due []Watch, last map[string]time.Time) (map[Fragment]blockChange, error) {
	since := map[string]string{} // link → day
	for _, w := range due {
		s := max(m.day(w.Created), m.day(last[w.ID]))
		for _, f := range w.fragments() {
			link := f.Link(m.DocumentBase)
			if cur, ok := since[link]; !ok || s < cur {
				since[link] = s
			}
		}
	}
	links := make([]string, 0, len(since))
	for l := range since {
		links = append(links, l)
	}
	slices.Sort(links)
	changed := map[Fragment]blockChange{}
	today := m.day(m.now())
	for chunk := range slices.Chunk(links, perCall) {
		from := today
		for _, l := range chunk {
			from = min(from, since[l])
		}
		if err := m.blocksChanged(ctx, payer, cred, chunk, from, changed); err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// blocksChanged asks Garant which of links changed since the day from,
// metered through garantsvc, and adds the changed ones to out.
func (m *Manager) blocksChanged(ctx context.Context, payer *tenant.Tenant, cred *tenant.Credential, links []string, from string, out map[Fragment]blockChange) error {
	req := garant.BlocksRequest{FromDate: from, URLArray: links, NeedEvents: true}
	res, err := metered(ctx, m, OpBlocksChanged, payer, cred, func(ctx context.Context) (*garant.ModifiedBlocks, error) {
		return m.Garant.Client.BlocksChanged(ctx, cred.Secret, req)
	})
	if err != nil {
		return fmt.Errorf("block-on-control of %d fragments: %w", len(links), err)
	}
	for _, b := range res.URLArray {
		if b.ModStatus != 1 { // 2: no such fragment; not a change
			continue
		}
		link := b.URL
		if link == "" && len(links) == 1 { // the document's example omits url
			link = links[0]
		}
		f, err := ParseFragment(link)
		if err != nil || !slices.Contains(links, f.Link(m.DocumentBase)) {
			m.log().Warn("garant watches: block-on-control answered a link not asked about", "upstream", "garant", "credential", cred.Name)
			continue
		}
		out[f] = blockChange{events: b.Events, from: from}
	}
	return nil
}

// fragmentDate is the date of fragment f's change for watch w: the latest
// of its document's events from fragmentSince on (Garant names no date of
// the fragment's own change), "" when there is none (a change w was told
// of, reported again while the call's window still covers its day).
// Without events, today, unless w was told of a change on a day the
// call's window covers (then "").
func (m *Manager) fragmentDate(w Watch, f Fragment, c blockChange, st state) string {
	if len(c.events) == 0 {
		if st.told[toldField(w.ID, f)] >= c.from {
			return ""
		}
		return m.day(m.now())
	}
	return latest(c.events, m.fragmentSince(w, f, st))
}

// tell purges the cached answers of each changed document (once per
// change) and queues one delivery per watcher (once per watch and change).
func (m *Manager) tell(ctx context.Context, payer *tenant.Tenant, cred *tenant.Credential, due []Watch,
	docs map[int]string, frags map[Fragment]blockChange, st state) error {
	if len(docs) == 0 && len(frags) == 0 {
		return nil
	}
	// What each due watch is told, and the documents to purge first.
	type note struct {
		w     Watch
		field string
		typ   string
		data  any
		date  string
	}
	var notes []note
	purge := map[int]string{}
	for tp, d := range docs {
		purge[tp] = d
	}
	for _, w := range due {
		created := m.day(w.Created)
		for _, tp := range w.Topics {
			d, ok := docs[tp]
			if !ok || d < created {
				continue
			}
			notes = append(notes, note{w, toldField(w.ID, topic(tp)), EventChanged, Change{Watch: w.ID, Topic: tp, Changed: d}, d})
		}
		for _, f := range w.fragments() {
			c, ok := frags[f]
			if !ok {
				continue
			}
			d := m.fragmentDate(w, f, c, st)
			if d == "" || d < created {
				continue
			}
			purge[f.Topic] = max(purge[f.Topic], d)
			notes = append(notes, note{w, toldField(w.ID, f), EventFragmentChanged,
				FragmentChange{Watch: w.ID, URL: f.Link(m.DocumentBase), Topic: f.Topic, Entry: f.Entry, Changed: d}, d})
		}
	}
	call := m.Garant.Begin(OpFindModified, payer, cred)
	for tp, d := range purge {
		if st.purged[strconv.Itoa(tp)] >= d {
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
	for _, n := range notes {
		if st.told[n.field] >= n.date {
			continue
		}
		_, err := m.Hooks.Enqueue(ctx, webhooks.Message{Tenant: n.w.Tenant, URL: n.w.CallbackURL, Type: n.typ,
			Data: n.data, Key: n.typ + ":" + n.field + ":" + n.date})
		if err != nil {
			m.log().Warn("garant watches: delivery not queued", "tenant", n.w.Tenant, "watch", n.w.ID, "error", err.Error())
			continue
		}
		rctx, cancel := m.redisCtx(ctx)
		err = m.Redis.HSet(rctx, key(cred.Name, "told"), n.field, n.date).Err()
		cancel()
		if err != nil {
			return unavailable(err)
		}
	}
	return nil
}
