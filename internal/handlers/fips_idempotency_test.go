package handlers_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/api"
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
// FIPS is still creating; its retry waits (409) and then gets the first
// answer, and FIPS holds one application, not two.
func TestFIPSIdempotentRetryAfterDroppedConnection(t *testing.T) {
	sim, g := startFIPS(t)
	create := map[string]any{"type": "UsefulModel", "category": fipsLegalCat, "title": "Полезная модель"}
	g.call(t, fipsKeyAlpha, "GET", "/v1/fips/dictionaries/applicant-categories", nil, "").want(t, "warm the dictionary", 200)
	sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/api/v1/applications", Latency: simkit.Duration(700 * time.Millisecond), Remaining: 1})

	raw, _ := json.Marshal(create)
	req, _ := http.NewRequest("POST", g.URL+fipsApps, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+fipsKeyAlpha)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "dropped-1")
	impatient := &http.Client{Timeout: 200 * time.Millisecond}
	if res, err := impatient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("first create answered %d within 200ms, want the caller to give up", res.StatusCode)
	}
	p := g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "dropped-1").problem(t, "retry while in flight", 409)
	if !strings.Contains(p.Detail, "still running") {
		t.Errorf("in-flight problem = %+v", p)
	}
	var replay fipsAnswer
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		replay = g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "dropped-1")
		if replay.status != http.StatusConflict || time.Now().After(deadline) {
			break
		}
	}
	replay.want(t, "retry after the first finished", 201)
	if replay.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry headers = %v, want a replay", replay.header)
	}
	if n := sim.Kit.Calls.Get("POST /api/v1/applications"); n != 1 {
		t.Errorf(`calls "POST /api/v1/applications" = %d, want 1`, n)
	}
	var list api.FIPSApplicationList
	g.call(t, fipsKeyAlpha, "GET", fipsApps, nil, "").want(t, "list", 200).decode(t, &list)
	n := 0
	for _, a := range list.Applications {
		if a.Type == "UsefulModel" && a.Title != nil && *a.Title == "Полезная модель" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("FIPS holds %d such applications, want 1", n)
	}
}
