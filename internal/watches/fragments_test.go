package watches_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/watches"
	"github.com/legalgate/legalgate/internal/webhooks/webhookstest"
)

// articles are the article entries (numbers under 100,000) of topic.
func articles(e *env, topic int) []int {
	var out []int
	for _, n := range e.sim.Entries(topic) {
		if n < 100000 {
			out = append(out, n)
		}
	}
	return out
}

func link(topic, entry int) string {
	return fmt.Sprintf("https://internet.garant.ru/#/document/%d/entry/%d", topic, entry)
}

// usedLinksControl is the credential's links_control use this month.
func usedLinksControl(t *testing.T, m *watches.Manager, e *env) int64 {
	t.Helper()
	rows, err := m.Garant.Quota.Usage(context.Background(), "alpha", map[string]string{"garant": e.cred.Name})
	must(t, err)
	for _, u := range rows {
		if u.Family == quota.FamilyLinksControl && u.Scope == quota.ScopeCredential && u.Period == quota.PeriodMonth {
			return u.Used
		}
	}
	t.Fatal("no links_control row in the usage")
	return 0
}

type delivery struct {
	Type string                 `json:"type"`
	Data watches.FragmentChange `json:"data"`
}

// TestFragmentWatches: three tenants' fragment watches (150 distinct links,
// the same link written two ways counted once) cost 2 block-on-control
// calls a round, beside the find-modified call of their documents, spent
// once from links_control; a changed fragment purges the cached answers of
// its document and tells each of its watchers once with a signed
// garant.fragment.changed; the watcher of a sibling fragment is not told;
// a later change elsewhere in the document tells nobody again.
func TestFragmentWatches(t *testing.T) {
	e := newEnv(t)
	m := e.manager(t)
	ctx := context.Background()
	labour := articles(e, garantsim.TopicLabourCode)
	civil := articles(e, garantsim.TopicCivilCode)
	if len(labour) < 100 || len(civil) < 50 {
		t.Fatalf("articles: labour %d, civil %d, want 100 and 50", len(labour), len(civil))
	}
	var all []string
	for _, n := range labour[:100] {
		all = append(all, link(garantsim.TopicLabourCode, n))
	}
	for _, n := range civil[:50] {
		all = append(all, link(garantsim.TopicCivilCode, n))
	}
	changed, sibling := labour[0], labour[1]
	// alpha: the changed article and 49 others; beta: the same article
	// written another way and 50 others; gamma: the sibling and the rest.
	alpha, err := m.Create(ctx, e.tenants["alpha"], watches.Request{Fragments: all[:50], CallbackURL: e.recv.URL + "/alpha", Interval: time.Hour})
	must(t, err)
	other := strings.Replace(link(garantsim.TopicLabourCode, changed), "https://", "http://", 1) + "/"
	beta, err := m.Create(ctx, e.tenants["beta"], watches.Request{Fragments: append([]string{other}, all[50:100]...),
		Topics: []int{garantsim.TopicTaxCode}, CallbackURL: e.recv.URL + "/beta", Interval: time.Hour})
	must(t, err)
	if beta.Fragments[0] != link(garantsim.TopicLabourCode, changed) {
		t.Errorf("stored fragment = %s, want the canonical %s", beta.Fragments[0], link(garantsim.TopicLabourCode, changed))
	}
	_, err = m.Create(ctx, e.tenants["gamma"], watches.Request{Fragments: append([]string{link(garantsim.TopicLabourCode, sibling)}, all[100:]...),
		CallbackURL: e.recv.URL + "/gamma", Interval: time.Hour})
	must(t, err)

	topicInfo(t, m, e.tenants["alpha"], e.cred, garantsim.TopicLabourCode)
	must(t, e.sim.ChangeFragment(garantsim.TopicLabourCode, changed, time.Now()))
	e.clock.Set(time.Now())
	if n := m.Round(ctx); n != 1 {
		t.Fatalf("Round checked %d credentials, want 1", n)
	}
	if got := e.sim.Kit.Calls.Get("POST /v2/block-on-control/changed"); got != 2 {
		t.Errorf("block-on-control calls in a round = %d, want 2 (150 distinct links)", got)
	}
	if got := e.sim.Kit.Calls.Get("POST /v2/find-modified"); got != 1 {
		t.Errorf("find-modified calls in a round = %d, want 1", got)
	}
	if got := usedLinksControl(t, m, e); got != 3 {
		t.Errorf("links_control used = %d, want 3", got)
	}
	want := map[string]string{"alpha": alpha.ID, "beta": beta.ID}
	for range 2 {
		r := e.recv.Next(t)
		tn := r.Path[1:]
		if err := webhookstest.Verify(secrets[tn], r.Header, r.Body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("delivery to %s: %v", tn, err)
		}
		var d delivery
		must(t, json.Unmarshal(r.Body, &d))
		if d.Type != watches.EventFragmentChanged || d.Data.Watch != want[tn] || d.Data.URL != link(garantsim.TopicLabourCode, changed) ||
			d.Data.Topic != garantsim.TopicLabourCode || d.Data.Entry != changed || d.Data.Changed != time.Now().In(moscow(t)).Format(time.DateOnly) {
			t.Errorf("delivery to %s = %s, want %s of entry %d for its watch %s, changed today", tn, r.Body, watches.EventFragmentChanged, changed, want[tn])
		}
		delete(want, tn)
	}
	if len(want) != 0 {
		t.Errorf("not told: %v", want)
	}
	topicInfo(t, e.manager(t), e.tenants["alpha"], e.cred, garantsim.TopicLabourCode)
	if got := e.sim.Kit.Calls.Get("GET /v2/topic/{topic}"); got != 2 {
		t.Errorf("topic info calls after the change = %d, want 2 (the document's cached answer purged)", got)
	}

	// The next round, the next day's (whose window still covers the
	// change), and one two days later after another part of the document
	// changed: nobody is told again.
	for i, at := range []time.Time{time.Now().Add(time.Hour), time.Now().Add(25 * time.Hour), time.Now().Add(73 * time.Hour)} {
		e.sim.Kit.Clock.Set(at)
		if i == 2 {
			must(t, e.sim.Change(garantsim.TopicLabourCode, at, 2))
		}
		e.clock.Set(at)
		must(t, e.rdb.Del(ctx, "{cred:garant-test}:watches:lock").Err())
		m.Round(ctx)
	}
	if got := e.sim.Kit.Calls.Get("POST /v2/block-on-control/changed"); got != 8 {
		t.Errorf("block-on-control calls after four rounds = %d, want 8", got)
	}
	for id, want := range map[string]int{"alpha": 1, "beta": 1, "gamma": 0} {
		list, err := e.hooks.List(ctx, id, 100)
		must(t, err)
		if len(list) != want {
			t.Errorf("%s deliveries = %d, want %d", id, len(list), want)
		}
	}
}

func moscow(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Moscow")
	must(t, err)
	return loc
}

// TestFragmentRefusals: a link that names no fragment, and more than 100,
// are refused naming the field; nothing is stored.
func TestFragmentRefusals(t *testing.T) {
	e := newEnv(t)
	m := e.manager(t)
	ctx := context.Background()
	many := make([]string, 101)
	for i := range many {
		many[i] = link(garantsim.TopicLabourCode, i+1)
	}
	for _, c := range []struct {
		fragments []string
		field     string
	}{
		{[]string{link(garantsim.TopicLabourCode, 1), "https://internet.garant.ru/#/document/12125270"}, "body.fragments[1]"},
		{[]string{"ftp://internet.garant.ru/#/document/1/entry/2"}, "body.fragments[0]"},
		{[]string{"https://internet.garant.ru/document/1/entry/2"}, "body.fragments[0]"},
		{[]string{"https://internet.garant.ru/?q=1#/document/1/entry/2"}, "body.fragments[0]"},
		{many, "body.fragments"},
	} {
		_, err := m.Create(ctx, e.tenants["alpha"], watches.Request{Fragments: c.fragments, CallbackURL: e.recv.URL + "/"})
		ae, ok := apperr.As(err)
		if !ok || ae.Kind != apperr.Invalid || len(ae.Fields) == 0 || ae.Fields[0].Field != c.field {
			t.Errorf("Create(fragments %.60q) = %v, want Invalid naming %s", c.fragments, err, c.field)
		}
	}
	list, err := m.List(ctx, e.tenants["alpha"])
	must(t, err)
	if len(list) != 0 {
		t.Errorf("List after refusals = %d watches, want 0", len(list))
	}
}

// TestForecastCountsFragments: fragment checks spend the same family, so a
// schedule whose documents fit is refused once its fragments do not.
func TestForecastCountsFragments(t *testing.T) {
	e := newEnv(t)
	m := e.manager(t)
	loc := moscow(t)
	now := time.Now().In(loc)
	reset := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, loc)
	limit := int64(time.Until(reset).Hours()*1.5) + 1 // one call an hour lasts, two do not
	q, err := quota.New(e.rdb, quota.Config{Rules: []quota.Rule{{Scope: quota.ScopeCredential, Upstream: "garant",
		Family: quota.FamilyLinksControl, Period: quota.PeriodMonth, Limit: limit}}}, prometheus.NewRegistry())
	must(t, err)
	m.Garant.Quota = q
	ctx := context.Background()
	e.clock.Set(time.Now())
	_, err = m.Create(ctx, e.tenants["alpha"], watches.Request{Topics: e.sim.Topics()[:100], CallbackURL: e.recv.URL + "/", Interval: time.Hour})
	must(t, err)
	_, err = m.Create(ctx, e.tenants["beta"], watches.Request{Fragments: []string{link(garantsim.TopicLabourCode, 1)}, CallbackURL: e.recv.URL + "/", Interval: time.Hour})
	if ae, ok := apperr.As(err); !ok || ae.Kind != apperr.Unprocessable || ae.Extensions["family"] != quota.FamilyLinksControl {
		t.Fatalf("Create(an hourly fragment beside 100 hourly documents) = %v, want Unprocessable naming links_control", err)
	}
	if _, err := m.Create(ctx, e.tenants["beta"], watches.Request{Fragments: []string{link(garantsim.TopicLabourCode, 1)},
		CallbackURL: e.recv.URL + "/", Interval: 24 * time.Hour}); err != nil {
		t.Errorf("Create(a daily fragment) = %v, want it stored", err)
	}
	// A family far larger than the schedule needs (its run-out time past
	// what a time.Duration holds) is no refusal.
	big, err := quota.New(e.rdb, quota.Config{Rules: []quota.Rule{{Scope: quota.ScopeCredential, Upstream: "garant",
		Family: quota.FamilyLinksControl, Period: quota.PeriodMonth, Limit: 100_000_000}}}, prometheus.NewRegistry())
	must(t, err)
	m.Garant.Quota = big
	if _, err := m.Create(ctx, e.tenants["gamma"], watches.Request{Fragments: []string{link(garantsim.TopicLabourCode, 2)},
		CallbackURL: e.recv.URL + "/", Interval: time.Hour}); err != nil {
		t.Errorf("Create(an hourly fragment, 100,000,000 units left) = %v, want it stored", err)
	}
	docs, frags := watches.CallsPerHour([]watches.Watch{
		{Topics: []int{1, 2}, Fragments: []string{"a", "b"}, Interval: time.Hour},
		{Topics: []int{2}, Fragments: []string{"b", "c"}, Interval: time.Hour},
		{Fragments: []string{"a"}, Interval: 2 * time.Hour},
	})
	if docs != 1 || frags != 1.5 {
		t.Errorf("CallsPerHour = %v documents, %v fragments, want 1 and 1.5", docs, frags)
	}
}
