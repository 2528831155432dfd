package fssptasks_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

func TestSearchKinds(t *testing.T) {
	v := newEnv(t, simConfig(), nil)
	tests := []struct {
		kind     string
		queries  []fssptasks.Query
		minFirst int // records of the first result, at least
		route    string
	}{
		{fssptasks.KindPhysical, []fssptasks.Query{physical(77, fsspsim.ManySurname, "ИВАН")}, fsspsim.ManyRecords, "GET /search/physical"},
		{fssptasks.KindLegal, []fssptasks.Query{legal(-1, fsspsim.ManyLegalName, ptr("МОСКВА"))}, fsspsim.ManyRecords, "GET /search/legal"},
		{fssptasks.KindIP, []fssptasks.Query{ip("12345/21/77001-ИП")}, 1, "GET /search/ip"},
		{fssptasks.KindGroup, []fssptasks.Query{ip("12345/21/77/01"), physical(150, fsspsim.NoDebtSurname, "ПЁТР")}, 1, "POST /search/group"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			task := submit(t, v.e, submission(tenantA, tt.kind, tt.queries...))
			if task.Status != fssptasks.Queued || task.Progress != (fssptasks.Progress{Total: len(tt.queries)}) {
				t.Errorf("Submit(%s) = %s %+v, want queued 0 of %d", tt.kind, task.Status, task.Progress, len(tt.queries))
			}
			got := waitFinal(t, v.e, tenantA, task.ID)
			if got.Status != fssptasks.Succeeded || got.FinishedAt == nil || got.Progress.Done != len(tt.queries) {
				t.Fatalf("Wait(%s) = %s %+v, want succeeded and done", tt.kind, got.Status, got.Progress)
			}
			if len(got.Results) != len(tt.queries) {
				t.Fatalf("Wait(%s) results = %d, want %d", tt.kind, len(got.Results), len(tt.queries))
			}
			for i, r := range got.Results {
				if r.Index != i || r.Status != fssptasks.Succeeded || r.Error != nil || !cmp.Equal(r.Query, tt.queries[i]) {
					t.Errorf("Wait(%s).Results[%d] = index %d %s %v query %+v, want index %d succeeded", tt.kind, i, r.Index, r.Status, r.Error, r.Query, i)
				}
			}
			if n := len(got.Results[0].Records); n < tt.minFirst {
				t.Errorf("Wait(%s) first result has %d records, want at least %d", tt.kind, n, tt.minFirst)
			}
			if rec := got.Results[0].Records[0]; rec.Proceeding.Number == "" || rec.Raw.ExeProduction == "" {
				t.Errorf("Wait(%s) record = %+v, want a parsed proceeding and raw strings", tt.kind, rec)
			}
			if n := v.sim.Kit.Calls.Get(tt.route); n != 1 {
				t.Errorf("calls to %s = %d, want 1", tt.route, n)
			}
		})
	}
}

func TestValidationSendsNothing(t *testing.T) {
	v := newEnv(t, simConfig(), nil)
	tests := []struct {
		name  string
		s     fssptasks.Submission
		field string
	}{
		{"unknown region", submission(tenantA, fssptasks.KindPhysical, physical(0, "И", "И")), "body.region"},
		{"region 100", submission(tenantA, fssptasks.KindLegal, legal(100, "Р", nil)), "body.region"},
		{"missing lastname", submission(tenantA, fssptasks.KindPhysical, physical(77, " ", "И")), "body.lastname"},
		{"unreal birth date", func() fssptasks.Submission {
			q := physical(77, "И", "И")
			q.Params.Birthdate = ptr("31.02.1990")
			return submission(tenantA, fssptasks.KindPhysical, q)
		}(), "body.birthdate"},
		{"bad number", submission(tenantA, fssptasks.KindIP, ip("12345/21/7700-ИП")), "body.number"},
		{"field of another kind", func() fssptasks.Submission {
			q := ip("1/21/77001-ИП")
			q.Params.Region = ptr(77)
			return submission(tenantA, fssptasks.KindIP, q)
		}(), "body.region"},
		{"empty group", submission(tenantA, fssptasks.KindGroup), "body.requests"},
		{"bad item in a group", submission(tenantA, fssptasks.KindGroup, ip("1/21/77001-ИП"), ip("1/21/77001-ИП"), ip("1/21/77001-ИП"), physical(77, "", "И")), "body.requests.3.params.lastname"},
		{"bad type in a group", submission(tenantA, fssptasks.KindGroup, fssptasks.Query{Type: "company"}), "body.requests.0.type"},
		{"group too large", submission(tenantA, fssptasks.KindGroup, make([]fssptasks.Query, 501)...), "body.requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.e.Submit(context.Background(), tt.s)
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != tt.field {
				t.Fatalf("Submit(%s) = %v, want invalid %s", tt.name, err, tt.field)
			}
		})
	}
	if n := v.sim.Kit.Calls.Total(); n != 0 {
		t.Errorf("simulator calls = %v, want none", v.sim.Kit.Calls.Snapshot())
	}
}

func TestPartialAndFailed(t *testing.T) {
	cfg := simConfig()
	cfg.AddressQuirk = true // legal searches without address fail upstream
	v := newEnv(t, cfg, nil)
	task := submit(t, v.e, submission(tenantA, fssptasks.KindGroup,
		physical(77, fsspsim.ManySurname, "ИВАН"), legal(77, "РОГА", nil), ip("0123/21/77/77")))
	got := waitFinal(t, v.e, tenantA, task.ID)
	if got.Status != fssptasks.Partial || got.Error != nil {
		t.Fatalf("Wait(partial group) = %s %+v, want partial without a task error", got.Status, got.Error)
	}
	wantStatus := []fssptasks.Status{fssptasks.Succeeded, fssptasks.Failed, fssptasks.Succeeded}
	for i, r := range got.Results {
		if r.Status != wantStatus[i] {
			t.Errorf("Results[%d].Status = %s, want %s", i, r.Status, wantStatus[i])
		}
	}
	if e := got.Results[1].Error; e == nil || e.Err().Kind != apperr.UpstreamFailed || e.Detail == "" {
		t.Errorf("Results[1].Error = %+v, want an upstream_failed problem", e)
	}
	if n := len(got.Results[2].Records); n != 0 {
		t.Errorf("Results[2] (not found number) has %d records, want 0", n)
	}

	// A single search that fails upstream fails the task.
	task = submit(t, v.e, submission(tenantA, fssptasks.KindLegal, legal(77, "РОГА", nil)))
	got = waitFinal(t, v.e, tenantA, task.ID)
	if got.Status != fssptasks.Failed || got.Error == nil || len(got.Results) != 1 || got.Results[0].Error == nil {
		t.Errorf("Wait(failing legal search) = %s %+v %+v, want failed with task and result errors", got.Status, got.Error, got.Results)
	}
}

func TestTenantIsolation(t *testing.T) {
	v := newEnv(t, simConfig(), nil)
	task := submit(t, v.e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП")))
	for name, call := range map[string]func() error{
		"Get":  func() error { _, err := v.e.Get(context.Background(), tenantB, task.ID); return err },
		"Wait": func() error { _, err := v.e.Wait(context.Background(), tenantB, task.ID, time.Second); return err },
	} {
		if err := call(); apperr.KindOf(err) != apperr.NotFound {
			t.Errorf("%s(other tenant) = %v, want not_found", name, err)
		}
	}
	if _, err := v.e.Get(context.Background(), tenantA, "NOSUCHTASK"); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("Get(unknown) = %v, want not_found", err)
	}
}

func TestExpiry(t *testing.T) {
	v := newEnv(t, simConfig(), nil)
	task := submit(t, v.e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП")))
	waitFinal(t, v.e, tenantA, task.ID)
	v.clock.Advance(24*time.Hour - time.Minute)
	if _, err := v.e.Get(context.Background(), tenantA, task.ID); err != nil {
		t.Fatalf("Get(23h59m later) = %v, want the task", err)
	}
	v.clock.Advance(2 * time.Minute)
	for name, call := range map[string]func() error{
		"Get":  func() error { _, err := v.e.Get(context.Background(), tenantA, task.ID); return err },
		"Wait": func() error { _, err := v.e.Wait(context.Background(), tenantA, task.ID, time.Second); return err },
	} {
		e, ok := apperr.As(call())
		if !ok || e.Kind != apperr.Gone || e.Type != "expired" {
			t.Errorf("%s(24h later) = %v, want gone/expired", name, e)
		}
	}
}

func TestDeadline(t *testing.T) {
	cfg := simConfig()
	cfg.QueueFor = time.Hour // never finishes in this test
	v := newEnv(t, cfg, nil)
	task := submit(t, v.e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП")))
	time.Sleep(50 * time.Millisecond)
	if got, err := v.e.Get(context.Background(), tenantA, task.ID); err != nil || got.Status != fssptasks.Queued {
		t.Fatalf("Get(before the deadline) = %+v, %v; want queued", got, err)
	}
	v.clock.Advance(10*time.Minute + time.Second)
	got := waitFinal(t, v.e, tenantA, task.ID)
	if got.Status != fssptasks.Failed || got.Error == nil || got.Error.Err().Kind != apperr.UpstreamTimeout ||
		got.Error.Type != "upstream-timeout" || got.FinishedAt == nil {
		t.Errorf("Wait(after the deadline) = %s %+v, want failed with an upstream-timeout problem", got.Status, got.Error)
	}
	if n := v.sim.Kit.Calls.Get("GET /result"); n != 0 {
		t.Errorf("result calls = %d, want 0", n)
	}
	// Its retention runs from then on, as for any finished task.
	v.clock.Advance(24*time.Hour + time.Minute)
	if _, err := v.e.Get(context.Background(), tenantA, task.ID); apperr.KindOf(err) != apperr.Gone {
		t.Errorf("Get(24h after the deadline) = %v, want gone", err)
	}
}

func TestGroupSplitAndMerge(t *testing.T) {
	v := newEnv(t, simConfig(), nil)
	qs := make([]fssptasks.Query, 120)
	for i := range qs {
		qs[i] = ip(fmt.Sprintf("%d/21/77001-ИП", 1000+i))
	}
	task := submit(t, v.e, submission(tenantA, fssptasks.KindGroup, qs...))
	got := waitFinal(t, v.e, tenantA, task.ID)
	if got.Status != fssptasks.Succeeded || len(got.Results) != 120 || got.Progress != (fssptasks.Progress{Done: 120, Total: 120}) {
		t.Fatalf("Wait(120 group) = %s, %d results, %+v; want succeeded, 120, 120 of 120", got.Status, len(got.Results), got.Progress)
	}
	for i, r := range got.Results {
		want := fmt.Sprintf("%d/21/77001-ИП", 1000+i)
		if r.Index != i || *r.Query.Params.Number != want || len(r.Records) != 1 || r.Records[0].Proceeding.Number != want {
			t.Fatalf("Results[%d] = index %d query %s records %d, want index %d, %s and its record", i, r.Index, *r.Query.Params.Number, len(r.Records), i, want)
		}
	}
	if n := v.sim.Kit.Calls.Get("POST /search/group"); n != 3 {
		t.Errorf("group calls = %d, want 3 (50+50+20)", n)
	}
}

func TestUpstreamFailures(t *testing.T) {
	v := newEnv(t, simConfig(), nil)
	// Garbage on every status poll fails the task with a 502 problem.
	task := submit(t, v.e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП")))
	v.sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/status", Status: 200, Body: "<html>maintenance</html>"})
	got := waitFinal(t, v.e, tenantA, task.ID)
	if got.Status != fssptasks.Failed || got.Error == nil || got.Error.Err().Kind != apperr.UpstreamFailed {
		t.Errorf("Wait(html on status) = %s %+v, want failed with upstream_failed", got.Status, got.Error)
	}
	v.sim.Kit.SetFault(nil)

	// One glitch is retried.
	task = submit(t, v.e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП")))
	v.sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/status", Reset: true, Remaining: 1})
	if got := waitFinal(t, v.e, tenantA, task.ID); got.Status != fssptasks.Succeeded {
		t.Errorf("Wait(one reset) = %s %+v, want succeeded", got.Status, got.Error)
	}
}

func TestQuota(t *testing.T) {
	v := newEnv(t, simConfig(), nil)
	q, err := quota.New(v.rdb, quota.Config{Rules: []quota.Rule{
		{Scope: quota.ScopeCredential, Upstream: "fssp", Family: quota.FamilySingle, Period: quota.PeriodSlidingHour, Limit: 2},
		{Scope: quota.ScopeCredential, Upstream: "fssp", Family: quota.FamilyGroup, Period: quota.PeriodSlidingDay, Limit: 2},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := v.engine(fastConfig(v.clock), q.Reserve)
	s := submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП"))

	// An upstream 429 refunds and rejects.
	v.sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/search/", Status: 429, Body: `{"status":"error","code":429,"exception":"limit","response":[]}`, Remaining: 1})
	if _, err := e.Submit(context.Background(), s); apperr.KindOf(err) != apperr.QuotaExceeded {
		t.Fatalf("Submit(upstream 429) = %v, want quota_exceeded", err)
	}
	for i := range 2 {
		if sub, err := e.Submit(context.Background(), s); err != nil {
			t.Fatalf("Submit(#%d within the limit) = %v", i+1, err)
		} else if len(sub.Header) == 0 {
			t.Errorf("Submit(#%d).Header is empty, want RateLimit headers", i+1)
		}
	}
	if _, err := e.Submit(context.Background(), s); apperr.KindOf(err) != apperr.QuotaExceeded {
		t.Errorf("Submit(over the limit) = %v, want quota_exceeded", err)
	}
	// A 120-search group needs 3 group units; with 2 it sends nothing.
	before := v.sim.Kit.Calls.Get("POST /search/group")
	qs := make([]fssptasks.Query, 120)
	for i := range qs {
		qs[i] = ip("1/21/77001-ИП")
	}
	if _, err := e.Submit(context.Background(), submission(tenantA, fssptasks.KindGroup, qs...)); apperr.KindOf(err) != apperr.QuotaExceeded {
		t.Errorf("Submit(group over the limit) = %v, want quota_exceeded", err)
	}
	if n := v.sim.Kit.Calls.Get("POST /search/group"); n != before {
		t.Errorf("group calls = %d, want %d", n, before)
	}
	if _, err := e.Submit(context.Background(), submission(tenantA, fssptasks.KindGroup, qs[:100]...)); err != nil {
		t.Errorf("Submit(group of 100 with 2 units; refunds returned the 3rd reservation's units) = %v", err)
	}
}

func TestSubmitUnreachable(t *testing.T) {
	v := newEnv(t, simConfig(), nil)
	v.sim.Kit.SetFault(&simkit.Fault{Reset: true})
	_, err := v.e.Submit(context.Background(), submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП")))
	if apperr.KindOf(err) != apperr.UpstreamFailed || errors.Is(err, context.Canceled) {
		t.Errorf("Submit(unreachable) = %v, want upstream_failed", err)
	}
}
