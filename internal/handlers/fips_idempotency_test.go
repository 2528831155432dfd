package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

func TestFIPSIdempotency(t *testing.T) {
	sim, g := startFIPS(t)
	create := map[string]any{"type": "TMApplication", "category": fipsLegalCat, "title": "Раз"}
	first := g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "k-1").want(t, "create", 201)
	again := g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "k-1").want(t, "create again", 201)
	if !bytes.Equal(first.body, again.body) || first.header.Get("Location") != again.header.Get("Location") || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay = %s %v, want the first answer %s", again.body, again.header, first.body)
	}
	// The same JSON with members in another order and spacing is the same request.
	g.call(t, fipsKeyAlpha, "POST", fipsApps, strings.NewReader(` {"title":"Раз", "category":`+mustJSON(fipsLegalCat)+`,"type":"TMApplication"}`),
		"application/json", "Idempotency-Key", "k-1").want(t, "create reordered", 201)
	g.call(t, fipsKeyAlpha, "POST", fipsApps, map[string]any{"type": "TMApplication", "category": fipsLegalCat, "title": "Два"}, "",
		"Idempotency-Key", "k-1").problem(t, "create with another body", 422)
	// Keys are per tenant: beta's k-1 is its own.
	g.call(t, fipsKeyBeta, "POST", fipsApps, create, "", "Idempotency-Key", "k-1").want(t, "create as beta", 201)
	if n := sim.Kit.Calls.Get("POST /api/v1/applications"); n != 2 {
		t.Errorf("calls POST applications = %d, want 2 (alpha once, beta once)", n)
	}
	// A FIPS refusal creates nothing: the key is free for a corrected retry.
	sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/api/v1/applications", Status: 503, Body: `{"message":"Технические работы"}`, Remaining: 1})
	g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "k-2").problem(t, "create during maintenance", 503)
	g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "k-2").want(t, "create after maintenance", 201)
}

// TestFIPSIdempotentRetryAfterDroppedConnection: the caller gives up while
// FIPS is still creating; its retry is refused (409, Retry-After) while the
// create runs, then gets the first answer, and FIPS holds one application.
func TestFIPSIdempotentRetryAfterDroppedConnection(t *testing.T) {
	reached, release := make(chan struct{}), make(chan struct{})
	var gated atomic.Bool
	gated.Store(true)
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(open)
	sim, g := startFIPSWith(t, fipsOptions{wrapSim: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "POST" && r.URL.Path == "/api/v1/applications" && gated.CompareAndSwap(true, false) {
				close(reached) // the create reached FIPS; hold it there
				<-release
			}
			next.ServeHTTP(w, r)
		})
	}})
	const firstID = "dropped-first-request"
	firstServed := make(chan struct{})
	onServed := func(r *http.Request) {
		if r.Header.Get("X-Request-ID") == firstID {
			close(firstServed)
		}
	}
	g.served.Store(&onServed)

	create := map[string]any{"type": "UsefulModel", "category": fipsLegalCat, "title": "Полезная модель"}
	raw, _ := json.Marshal(create)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", g.URL+fipsApps, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+fipsKeyAlpha)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "dropped-1")
	req.Header.Set("X-Request-ID", firstID)
	gaveUp := make(chan error, 1)
	go func() {
		res, err := g.Client().Do(req)
		if err == nil {
			res.Body.Close()
		}
		gaveUp <- err
	}()
	<-reached
	cancel() // the caller drops the connection while FIPS works
	if err := <-gaveUp; err == nil {
		t.Fatalf("first create answered although its caller gave up")
	}

	held := g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "dropped-1")
	if p := held.problem(t, "retry while in flight", 409); !strings.Contains(p.Detail, "still running") || held.header.Get("Retry-After") == "" {
		t.Errorf("in-flight problem = %+v, Retry-After %q; want still running with Retry-After", p, held.header.Get("Retry-After"))
	}
	open()
	<-firstServed // the first request finished (its answer recorded) although its caller left
	replay := g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "dropped-1").want(t, "retry after the first finished", 201)
	if replay.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry headers = %v, want a replay", replay.header)
	}
	if n := sim.Kit.Calls.Get("POST /api/v1/applications"); n != 1 {
		t.Errorf(`calls "POST /api/v1/applications" = %d, want 1`, n)
	}
	if n := fipsCountApplications(t, g, "Полезная модель"); n != 1 {
		t.Errorf("FIPS holds %d such applications, want 1", n)
	}
}

// fipsCountApplications counts alpha's applications with title.
func fipsCountApplications(t *testing.T, g *fipsGateway, title string) int {
	t.Helper()
	var list api.FIPSApplicationList
	g.call(t, fipsKeyAlpha, "GET", fipsApps, nil, "").want(t, "list", 200).decode(t, &list)
	n := 0
	for _, a := range list.Applications {
		if a.Title != nil && *a.Title == title {
			n++
		}
	}
	return n
}

// TestFIPSIdempotentCreateOutcomeUnknown: FIPS creates the application but
// the answer is lost (the connection is cut after it), or the connection is
// reset before: either way the gateway cannot know, so the key is not run
// again; the retry is told to check, and FIPS never holds a duplicate.
func TestFIPSIdempotentCreateOutcomeUnknown(t *testing.T) {
	var loseAnswer atomic.Bool
	sim, g := startFIPSWith(t, fipsOptions{wrapSim: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "POST" && r.URL.Path == "/api/v1/applications" && loseAnswer.CompareAndSwap(true, false) {
				next.ServeHTTP(httptest.NewRecorder(), r) // created upstream…
				panic(http.ErrAbortHandler)               // …and the answer lost
			}
			next.ServeHTTP(w, r)
		})
	}})
	for _, tc := range []struct {
		name, title string
		arm         func()
		created     int
	}{
		{"answer lost", "Изобретение 1", func() { loseAnswer.Store(true) }, 1},
		{"reset", "Изобретение 2", func() {
			sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/api/v1/applications", Reset: true, Remaining: 1})
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			create := map[string]any{"type": "Invention", "category": fipsLegalCat, "title": tc.title}
			g.call(t, fipsKeyAlpha, "GET", "/v1/fips/dictionaries/applicant-categories", nil, "").want(t, "warm the dictionary", 200)
			tc.arm()
			p := g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", tc.name).problem(t, "create", 502)
			if !strings.Contains(p.Detail, "may have carried out") {
				t.Errorf("create problem = %+v, want it to say FIPS may have created it", p)
			}
			retry := g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", tc.name)
			p = retry.problem(t, "retry", 409)
			if p.Type != handlers.ProblemTypeBase+"idempotency-outcome-unknown" || !strings.Contains(p.Detail, "check") || retry.header.Get("Retry-After") != "" {
				t.Errorf("retry problem = %+v (Retry-After %q), want idempotency-outcome-unknown telling the client to check", p, retry.header.Get("Retry-After"))
			}
			if n := fipsCountApplications(t, g, tc.title); n != tc.created {
				t.Errorf("FIPS holds %d applications titled %q, want %d", n, tc.title, tc.created)
			}
		})
	}
}

// TestFIPSIdempotentAnswerNotRecordable: FIPS creates the application, then
// Redis refuses every write (out of memory), so neither the answer nor an
// unknown outcome can be recorded. The client gets its 201; a retry with
// the same key is refused (409) while the claim is in flight and after it,
// and FIPS never sees a second create.
func TestFIPSIdempotentAnswerNotRecordable(t *testing.T) {
	const lockTTL = 2 * time.Second
	var g *fipsGateway
	sim, g := startFIPSWith(t, fipsOptions{idemLock: lockTTL, wrapSim: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if r.Method == "POST" && r.URL.Path == "/api/v1/applications" {
				must(t, g.rdb.ConfigSet(r.Context(), "maxmemory", "1").Err())
			}
		})
	}})
	create := map[string]any{"type": "TMApplication", "category": fipsLegalCat, "title": "Не записано"}
	claimed := time.Now()
	g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "unrecorded").want(t, "create", 201)
	must(t, g.rdb.ConfigSet(context.Background(), "maxmemory", "0").Err())
	p := g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "unrecorded").problem(t, "retry in flight", 409)
	if time.Since(claimed) < lockTTL-200*time.Millisecond && !strings.HasSuffix(p.Type, "idempotency-key-in-flight") {
		t.Errorf("retry within LockTTL = %+v, want in flight", p)
	}
	time.Sleep(time.Until(claimed.Add(lockTTL + 100*time.Millisecond))) // LockTTL passes
	if p := g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "unrecorded").problem(t, "retry after LockTTL", 409); !strings.HasSuffix(p.Type, "idempotency-outcome-unknown") {
		t.Errorf("retry after LockTTL = %+v, want outcome unknown", p)
	}
	if n := sim.Kit.Calls.Get("POST /api/v1/applications"); n != 1 {
		t.Errorf("calls POST applications = %d, want 1 (never a duplicate)", n)
	}
}
