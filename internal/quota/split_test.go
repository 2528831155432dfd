package quota

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/redistest"
)

// linksRules: every credential has 3 links_control units a month; alpha's
// allocation is 5 of them (across the three methods).
func linksRules() []Rule {
	return []Rule{
		credRule("garant", FamilyLinksControl, PeriodMonth, 3),
		tenantRule("alpha", "garant", FamilyLinksControl, PeriodMonth, 5),
	}
}

func linksReq(tenant, op string) Request {
	return Request{Tenant: tenant, Credential: "main", Upstream: "garant", Operation: op}
}

const (
	opHyperlinks = "garantFindHyperlinks"
	opModified   = "garantFindModified"
	opBlocks     = "garantBlocksChanged"
)

// usageRow is the part of a Usage row the split tests compare.
type usageRow struct {
	Family    string
	Scope     Scope
	Used      int64
	Remaining int64
	Source    string
}

func usageRows(t *testing.T, e *Engine, tenant string) []usageRow {
	t.Helper()
	got, err := e.Usage(ctxT(t), tenant, map[string]string{"garant": "main"})
	if err != nil {
		t.Fatalf("Usage(%s) = %v, want nil", tenant, err)
	}
	var rows []usageRow
	for _, u := range got {
		rows = append(rows, usageRow{u.Family, u.Scope, u.Used, u.Remaining, u.Source})
	}
	return rows
}

func policyOf(t *testing.T, op string, err error) (policy, family string) {
	t.Helper()
	ae := rejected(t, op, err)
	return ae.Extensions["violated-policies"].([]string)[0], ae.Extensions["family"].(string)
}

func TestSplit(t *testing.T) {
	srv := redistest.Start(t)
	cfg := Config{Rules: linksRules(), Now: newClock(feb1()).Now, Jitter: -1}
	e := newEngine(t, srv.Client(t), cfg)

	// Combined (no split recorded): the three methods share the credential's 3.
	mustReserve(t, e, linksReq("alpha", opHyperlinks), 2)
	mustReserve(t, e, linksReq("alpha", opModified), 1)
	_, err := e.Reserve(ctxT(t), linksReq("alpha", opBlocks))
	if p, f := policyOf(t, "Reserve(blocks, combined)", err); p != "garant.links_control.month.credential" || f != FamilyLinksControl {
		t.Errorf("Reserve(blocks, combined) = policy %s family %s, want garant.links_control.month.credential, links_control", p, f)
	}
	want := []usageRow{
		{FamilyLinksControl, ScopeCredential, 3, 0, SourceConfig},
		{FamilyLinksControl, ScopeTenant, 3, 2, SourceConfig},
	}
	if diff := cmp.Diff(want, usageRows(t, e, "alpha")); diff != "" {
		t.Errorf("Usage(alpha, combined) mismatch (-want +got):\n%s", diff)
	}

	// Split: each method has its own 3 (inherited); alpha's 5 still covers
	// the three methods together (3 used already).
	for _, want := range []bool{true, false} {
		if changed, err := e.SetSplit(ctxT(t), "main", "garant", FamilyLinksControl, true); err != nil || changed != want {
			t.Fatalf("SetSplit(true) = %v, %v; want %v, nil", changed, err, want)
		}
	}
	mustReserve(t, e, linksReq("alpha", opHyperlinks), 1)
	res := mustReserve(t, e, linksReq("alpha", opModified), 1)
	if got, want := res[0].Headers().Get("RateLimit-Policy"), `"garant.links_control.month.tenant";q=5;w=2419200`; got != want {
		t.Errorf("Reserve(modified, split).Headers() RateLimit-Policy = %s, want %s", got, want)
	}
	_, err = e.Reserve(ctxT(t), linksReq("alpha", opBlocks))
	if p, f := policyOf(t, "Reserve(alpha blocks, split)", err); p != "garant.links_control.month.tenant" || f != FamilyBlocksChanged {
		t.Errorf("Reserve(alpha blocks, split) = policy %s family %s, want garant.links_control.month.tenant, %s", p, f, FamilyBlocksChanged)
	}
	mustReserve(t, e, linksReq("beta", opBlocks), 3) // beta has no allocation
	_, err = e.Reserve(ctxT(t), linksReq("beta", opBlocks))
	if p, _ := policyOf(t, "Reserve(beta blocks #4, split)", err); p != "garant.links_control_blocks_changed.month.credential" {
		t.Errorf("Reserve(beta blocks #4, split) = policy %s, want garant.links_control_blocks_changed.month.credential", p)
	}
	wantSplit := []usageRow{
		{FamilyLinksControl, ScopeTenant, 5, 0, SourceConfig},
		{FamilyBlocksChanged, ScopeCredential, 3, 0, SourceConfig},
		{FamilyFindHyperlinks, ScopeCredential, 1, 2, SourceConfig},
		{FamilyFindModified, ScopeCredential, 1, 2, SourceConfig},
	}
	if diff := cmp.Diff(wantSplit, usageRows(t, e, "alpha")); diff != "" {
		t.Errorf("Usage(alpha, split) mismatch (-want +got):\n%s", diff)
	}
	// The choice is in Redis: a restarted (or another) engine sees it.
	restarted := newEngine(t, srv.Client(t), cfg)
	if diff := cmp.Diff(wantSplit, usageRows(t, restarted, "alpha")); diff != "" {
		t.Errorf("Usage(alpha, split, restarted engine) mismatch (-want +got):\n%s", diff)
	}
	mustReserve(t, restarted, linksReq("beta", opHyperlinks), 2)
	if _, err := restarted.Reserve(ctxT(t), linksReq("beta", opHyperlinks)); err == nil {
		t.Errorf("Reserve(beta hyperlinks #4 on the restarted engine) = nil, want a rejection")
	}

	// Back to combined: the combined count is what it was.
	if changed, err := e.SetSplit(ctxT(t), "main", "garant", FamilyLinksControl, false); err != nil || !changed {
		t.Fatalf("SetSplit(false) = %v, %v; want true, nil", changed, err)
	}
	if diff := cmp.Diff(want[:1], usageRows(t, e, "beta")); diff != "" {
		t.Errorf("Usage(beta, combined again) mismatch (-want +got):\n%s", diff)
	}
	if _, err := e.Reserve(ctxT(t), linksReq("beta", opHyperlinks)); err == nil {
		t.Errorf("Reserve(beta hyperlinks, combined again) = nil, want a rejection (the combined 3 are spent)")
	}
}

// TestSplitSyncAndMark: the sync lowers each method's own family, a 423 on
// one method spends only its own family while split, and the combined one
// while combined.
func TestSplitSyncAndMark(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	e := newEngine(t, rdb, Config{Rules: linksRules(), Now: newClock(feb1()).Now, Jitter: -1})

	// Combined: a 423 on find-modified spends links_control.
	if fam, err := e.MarkExhausted(ctxT(t), linksReq("beta", opModified)); err != nil || fam != FamilyLinksControl {
		t.Fatalf("MarkExhausted(modified, combined) = %q, %v; want %q, nil", fam, err, FamilyLinksControl)
	}
	if _, err := e.Reserve(ctxT(t), linksReq("beta", opHyperlinks)); err == nil {
		t.Errorf("Reserve(hyperlinks after a combined 423) = nil, want a rejection")
	}

	// Split: the sync's own counts apply; the combined mark does not.
	if _, err := e.SetSplit(ctxT(t), "main", "garant", FamilyLinksControl, true); err != nil {
		t.Fatalf("SetSplit(true) = %v, want nil", err)
	}
	for fam, left := range map[string]int64{FamilyFindHyperlinks: 2, FamilyFindModified: Unlimited, FamilyBlocksChanged: 0} {
		if err := e.SyncRemaining(ctxT(t), "main", "garant", fam, left); err != nil {
			t.Fatalf("SyncRemaining(%s, %d) = %v, want nil", fam, left, err)
		}
	}
	want := []usageRow{
		{FamilyBlocksChanged, ScopeCredential, 3, 0, SourceUpstream},
		{FamilyFindHyperlinks, ScopeCredential, 1, 2, SourceUpstream},
		{FamilyFindModified, ScopeCredential, 0, 3, SourceConfig},
	}
	if diff := cmp.Diff(want, usageRows(t, e, "beta")); diff != "" {
		t.Errorf("Usage(beta, split after sync) mismatch (-want +got):\n%s", diff)
	}
	mustReserve(t, e, linksReq("beta", opHyperlinks), 2)
	mustReserve(t, e, linksReq("beta", opModified), 1)
	if _, err := e.Reserve(ctxT(t), linksReq("beta", opBlocks)); err == nil {
		t.Errorf("Reserve(blocks, synced 0 left) = nil, want a rejection")
	}

	// A 423 on find-modified now spends only find-modified.
	if fam, err := e.MarkExhausted(ctxT(t), linksReq("beta", opModified)); err != nil || fam != FamilyFindModified {
		t.Fatalf("MarkExhausted(modified, split) = %q, %v; want %q, nil", fam, err, FamilyFindModified)
	}
	_, err := e.Reserve(ctxT(t), linksReq("beta", opModified))
	if p, f := policyOf(t, "Reserve(modified after its 423)", err); p != "garant.links_control_find_modified.month.credential" || f != FamilyFindModified {
		t.Errorf("Reserve(modified after its 423) = policy %s family %s, want garant.links_control_find_modified.month.credential, %s", p, f, FamilyFindModified)
	}
	other := newEngine(t, rdb, Config{Rules: linksRules(), Now: newClock(feb1()).Now}) // no local knowledge
	if _, err := other.Reserve(ctxT(t), linksReq("beta", opModified)); err == nil {
		t.Errorf("Reserve(modified after its 423, another engine) = nil, want a rejection")
	}
}

// TestSplitConfiguredRules: credential rules configured for a method's own
// family replace the inherited ones; explicit splits are validated.
func TestSplitConfiguredRules(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	rules := append(linksRules(), credRule("garant", FamilyFindModified, PeriodDay, 1),
		tenantRule("beta", "garant", FamilyFindHyperlinks, PeriodMonth, 1))
	e := newEngine(t, rdb, Config{Rules: rules, Now: newClock(feb1()).Now})
	if _, err := e.SetSplit(ctxT(t), "main", "garant", FamilyLinksControl, true); err != nil {
		t.Fatalf("SetSplit(true) = %v, want nil", err)
	}
	mustReserve(t, e, linksReq("alpha", opModified), 1)
	_, err := e.Reserve(ctxT(t), linksReq("alpha", opModified))
	if p, _ := policyOf(t, "Reserve(modified #2)", err); p != "garant.links_control_find_modified.day.credential" {
		t.Errorf("Reserve(modified #2) = policy %s, want the configured daily rule", p)
	}
	mustReserve(t, e, linksReq("beta", opHyperlinks), 1)
	_, err = e.Reserve(ctxT(t), linksReq("beta", opHyperlinks))
	if p, _ := policyOf(t, "Reserve(beta hyperlinks #2)", err); p != "garant.links_control_find_hyperlinks.month.tenant" {
		t.Errorf("Reserve(beta hyperlinks #2) = policy %s, want beta's own hyperlinks allocation", p)
	}

	bad := []Split{{Upstream: "garant", Family: FamilyLinksControl, Operations: map[string]string{"garantGetTopic": "x"}}}
	if _, err := New(rdb, Config{Splits: bad}, nil); err == nil {
		t.Errorf("New(split of an operation outside the family) = nil error, want one")
	}
	if _, err := New(rdb, Config{Splits: []Split{}}, nil); err != nil {
		t.Errorf("New(no splits) = %v, want nil", err)
	}
	if _, err := e.SetSplit(ctxT(t), "main", "garant", FamilyExport, true); err == nil {
		t.Errorf("SetSplit(export) = nil error, want one (not a split family)")
	}
}

// TestSplitCluster: the split key shares the credential's slot, so the
// reserve script runs on a Redis Cluster.
func TestSplitCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	var rdb redis.UniversalClient = c.Client(t)
	e := newEngine(t, rdb, Config{Rules: linksRules(), Now: newClock(feb1()).Now})
	if _, err := e.SetSplit(ctxT(t), "main", "garant", FamilyLinksControl, true); err != nil {
		t.Fatalf("SetSplit(true) = %v, want nil", err)
	}
	mustReserve(t, e, linksReq("beta", opModified), 3)
	mustReserve(t, e, linksReq("beta", opHyperlinks), 3)
	if _, err := e.MarkExhausted(ctxT(t), linksReq("beta", opBlocks)); err != nil {
		t.Fatalf("MarkExhausted() = %v, want nil", err)
	}
}
