package watches_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/watches"
)

// fields are the field names of one of the credential's state hashes.
func fields(t *testing.T, e *env, suffix string) []string {
	t.Helper()
	got, err := e.rdb.HKeys(context.Background(), "{cred:garant-test}:watches:"+suffix).Result()
	must(t, err)
	return got
}

// TestStateBounded: the checked, told and purged hashes hold only fields of
// watches that exist and documents a watch names. Deleting a watch removes
// its fields (a document another watch names stays purged); a field left
// by a watch deleted while a round told it is swept by the next round.
func TestStateBounded(t *testing.T) {
	e := newEnv(t)
	m := e.manager(t)
	ctx := context.Background()
	shared, own := garantsim.TopicLabourCode, garantsim.TopicTaxCode
	entry := articles(e, garantsim.TopicCivilCode)[0]
	a, err := m.Create(ctx, e.tenants["alpha"], watches.Request{Topics: []int{shared, own},
		Fragments: []string{link(garantsim.TopicCivilCode, entry)}, CallbackURL: e.recv.URL + "/alpha", Interval: time.Hour})
	must(t, err)
	b, err := m.Create(ctx, e.tenants["beta"], watches.Request{Topics: []int{shared}, CallbackURL: e.recv.URL + "/beta", Interval: time.Hour})
	must(t, err)
	for _, tp := range []int{shared, own} {
		must(t, e.sim.Change(tp, time.Now(), 2))
	}
	must(t, e.sim.ChangeFragment(garantsim.TopicCivilCode, entry, time.Now()))
	e.clock.Set(time.Now())
	m.Round(ctx)
	for range 4 {
		e.recv.Next(t)
	}
	sorted := cmpopts.SortSlices(func(x, y string) bool { return x < y })
	civil := strconv.Itoa(garantsim.TopicCivilCode)
	want := map[string][]string{
		"checked": {a.ID, b.ID},
		"told": {a.ID + ":" + strconv.Itoa(shared), a.ID + ":" + strconv.Itoa(own), a.ID + ":" + civil + ":" + strconv.Itoa(entry),
			b.ID + ":" + strconv.Itoa(shared)},
		"purged": {strconv.Itoa(shared), strconv.Itoa(own), civil},
	}
	for k, w := range want {
		if diff := cmp.Diff(w, fields(t, e, k), sorted); diff != "" {
			t.Errorf("%s after a round (-want +got):\n%s", k, diff)
		}
	}

	must(t, m.Delete(ctx, e.tenants["alpha"], a.ID))
	want = map[string][]string{
		"checked": {b.ID},
		"told":    {b.ID + ":" + strconv.Itoa(shared)},
		"purged":  {strconv.Itoa(shared)},
	}
	for k, w := range want {
		if diff := cmp.Diff(w, fields(t, e, k), sorted); diff != "" {
			t.Errorf("%s after deleting alpha's watch (-want +got):\n%s", k, diff)
		}
	}

	// A round telling a watch as it is deleted may write after Delete.
	must(t, e.rdb.HSet(ctx, "{cred:garant-test}:watches:told", a.ID+":"+strconv.Itoa(own), "2026-01-01").Err())
	must(t, e.rdb.HSet(ctx, "{cred:garant-test}:watches:checked", a.ID, 1).Err())
	must(t, e.rdb.HSet(ctx, "{cred:garant-test}:watches:purged", own, "2026-01-01").Err())
	must(t, e.rdb.Del(ctx, "{cred:garant-test}:watches:lock").Err())
	m.Round(ctx) // nothing is due: the sweep alone
	for k, w := range want {
		if diff := cmp.Diff(w, fields(t, e, k), sorted); diff != "" {
			t.Errorf("%s after the next round (-want +got):\n%s", k, diff)
		}
	}
	must(t, m.Delete(ctx, e.tenants["beta"], b.ID))
	n, err := e.rdb.Exists(ctx, "{cred:garant-test}:watches", "{cred:garant-test}:watches:checked",
		"{cred:garant-test}:watches:told", "{cred:garant-test}:watches:purged").Result()
	must(t, err)
	if n != 0 {
		t.Errorf("keys left after every watch was deleted = %d, want 0", n)
	}
}

// TestOneSchedulePerInterval: watches of one interval created at different
// times fall due in the same round (the next multiple of the interval), so
// two tenants watching the same document cost one call a round.
func TestOneSchedulePerInterval(t *testing.T) {
	e := newEnv(t)
	m := e.manager(t)
	ctx := context.Background()
	hour := time.Now().Truncate(time.Hour).Add(-24 * time.Hour)
	for i, tn := range []string{"alpha", "beta"} {
		e.clock.Set(hour.Add(time.Duration(5+35*i) * time.Minute)) // 00:05 and 00:40
		_, err := m.Create(ctx, e.tenants[tn], watches.Request{Topics: []int{garantsim.TopicLabourCode}, CallbackURL: e.recv.URL + "/" + tn, Interval: time.Hour})
		must(t, err)
	}
	for minute := 41; minute <= 180; minute++ { // a round a minute until 03:00
		e.clock.Set(hour.Add(time.Duration(minute)*time.Minute + 30*time.Second))
		must(t, e.rdb.Del(ctx, "{cred:garant-test}:watches:lock").Err())
		m.Round(ctx)
	}
	if got := e.sim.Kit.Calls.Get("POST /v2/find-modified"); got != 3 {
		t.Errorf("find-modified calls from 00:41 to 03:00 = %d, want 3 (01:00, 02:00, 03:00)", got)
	}
}
