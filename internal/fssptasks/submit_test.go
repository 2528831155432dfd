package fssptasks_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/quota"
)

// nthGroup is a wrapper in front of the simulator that hands the n-th
// upstream group call (1-based) to fn instead, with the simulator.
func nthGroup(n int64, fn func(w http.ResponseWriter, r *http.Request, sim http.Handler)) func(http.Handler) http.Handler {
	var calls atomic.Int64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/search/group" && calls.Add(1) == n {
				fn(w, r, next)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func ips(n int) []fssptasks.Query {
	qs := make([]fssptasks.Query, n)
	for i := range qs {
		qs[i] = ip(fmt.Sprintf("%d/21/77001-ИП", 1000+i))
	}
	return qs
}

// TestGroupFailsPartway fails the second of three upstream group calls: the
// first part was accepted, so the submission succeeds with a task whose
// other parts are failed results; it ends partial, the two parts FSSP did
// not run are refunded, and a retry under the Idempotency-Key replays the
// task instead of sending the first part again.
func TestGroupFailsPartway(t *testing.T) {
	v := newEnv(t, simConfig(), nthGroup(2, func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>502 Bad Gateway</html>"))
	}))
	q, err := quota.New(v.rdb, quota.Config{Rules: []quota.Rule{
		{Scope: quota.ScopeCredential, Upstream: "fssp", Family: quota.FamilyGroup, Period: quota.PeriodSlidingDay, Limit: 10},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := v.engine(fastConfig(v.clock), q.Reserve)
	s := submission(tenantA, fssptasks.KindGroup, ips(120)...)
	s.IdempotencyKey = "partway"
	sub, err := e.Submit(context.Background(), s)
	if err != nil {
		t.Fatalf("Submit(120 searches, 2nd group call fails) = %v, want the task", err)
	}
	got := waitFinal(t, e, tenantA, sub.Task.ID)
	if got.Status != fssptasks.Partial || len(got.Results) != 120 || got.Progress != (fssptasks.Progress{Done: 120, Total: 120}) {
		t.Fatalf("Wait = %s, %d results, %+v; want partial, 120 results, 120 of 120", got.Status, len(got.Results), got.Progress)
	}
	for i, r := range got.Results {
		want := fssptasks.Succeeded
		if i >= 50 {
			want = fssptasks.Failed
		}
		if r.Index != i || r.Status != want || (want == fssptasks.Failed) != (r.Error != nil) {
			t.Fatalf("Results[%d] = index %d %s %+v, want %s", i, r.Index, r.Status, r.Error, want)
		}
	}
	if e := got.Results[50].Error.Err(); e.Kind != apperr.UpstreamFailed || e.Upstream != "fssp" {
		t.Errorf("Results[50].Error = %+v, want an upstream_failed problem of fssp", e)
	}
	if n := v.sim.Kit.Calls.Get("POST /search/group"); n != 1 {
		t.Errorf("group tasks the simulator ran = %d, want 1 (the 2nd call failed, the 3rd was not sent)", n)
	}
	if used := groupUsed(t, q); used != 1 {
		t.Errorf("group units used = %d, want 1 (the failed and the unsent part refunded)", used)
	}
	again, err := e.Submit(context.Background(), s)
	if err != nil || !again.Replayed || again.Task.ID != sub.Task.ID {
		t.Errorf("Submit(retry, same key) = %+v, %v; want a replay of %s", again, err, sub.Task.ID)
	}
	if n := v.sim.Kit.Calls.Get("POST /search/group"); n != 1 {
		t.Errorf("group tasks after the retry = %d, want still 1", n)
	}
}

// TestGroupFirstPartFails: nothing was accepted, so the submission fails,
// refunds everything and frees its Idempotency-Key.
func TestGroupFirstPartFails(t *testing.T) {
	v := newEnv(t, simConfig(), nthGroup(1, func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	s := submission(tenantA, fssptasks.KindGroup, ips(120)...)
	s.IdempotencyKey = "first-fails"
	if _, err := v.e.Submit(context.Background(), s); apperr.KindOf(err) != apperr.UpstreamFailed {
		t.Fatalf("Submit(1st group call fails) = %v, want upstream_failed", err)
	}
	if n := v.sim.Kit.Calls.Get("POST /search/group"); n != 0 {
		t.Errorf("group tasks the simulator ran = %d, want 0", n)
	}
	sub, err := v.e.Submit(context.Background(), s)
	if err != nil || sub.Replayed {
		t.Fatalf("Submit(retry) = %+v, %v; want a new submission", sub, err)
	}
	if got := waitFinal(t, v.e, tenantA, sub.Task.ID); got.Status != fssptasks.Succeeded {
		t.Errorf("Wait(retry) = %s, want succeeded", got.Status)
	}
}

// TestGroupClientHangsUp cancels the request while its second group call is
// in flight: the submission goes on to the end and stores the task, so a
// retry under the Idempotency-Key gets it and nothing is sent twice.
func TestGroupClientHangsUp(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	v := newEnv(t, simConfig(), nthGroup(2, func(w http.ResponseWriter, r *http.Request, sim http.Handler) {
		close(entered)
		<-release
		sim.ServeHTTP(w, r)
	}))
	s := submission(tenantA, fssptasks.KindGroup, ips(120)...)
	s.IdempotencyKey = "hang-up"
	ctx, cancel := context.WithCancel(context.Background())
	var sub *fssptasks.Submitted
	var subErr error
	var wg sync.WaitGroup
	wg.Go(func() { sub, subErr = v.e.Submit(ctx, s) })
	<-entered
	cancel()
	close(release)
	wg.Wait()
	if subErr != nil {
		t.Fatalf("Submit(client gone mid-group) = %v, want the task all the same", subErr)
	}
	again, err := v.e.Submit(context.Background(), s)
	if err != nil || !again.Replayed || again.Task.ID != sub.Task.ID {
		t.Fatalf("Submit(retry) = %+v, %v; want a replay of %s", again, err, sub.Task.ID)
	}
	got := waitFinal(t, v.e, tenantA, sub.Task.ID)
	if got.Status != fssptasks.Succeeded || len(got.Results) != 120 {
		t.Errorf("Wait = %s with %d results, want succeeded with 120", got.Status, len(got.Results))
	}
	if n := v.sim.Kit.Calls.Get("POST /search/group"); n != 3 {
		t.Errorf("group tasks the simulator ran = %d, want 3", n)
	}
}

// groupUsed is the units of the group family q has counted for cred.
func groupUsed(t *testing.T, q *quota.Engine) int64 {
	t.Helper()
	rows, err := q.Usage(context.Background(), tenantA, map[string]string{"fssp": cred})
	if err != nil {
		t.Fatalf("Usage() = %v", err)
	}
	var n int64
	for _, r := range rows {
		if r.Family == quota.FamilyGroup {
			n += r.Used
		}
	}
	return n
}
