package handlers_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/api"
)

func TestFIPSOwnershipAndErrors(t *testing.T) {
	sim, g := startFIPS(t)
	var app api.FIPSApplication
	g.call(t, fipsKeyAlpha, "POST", fipsApps, map[string]any{"type": "Invention", "category": fipsLegalCat}, "").want(t, "create", 201).decode(t, &app)
	// Another account's application answers exactly as a missing one.
	for _, path := range []string{"", "/documents", "/package"} {
		p := g.call(t, fipsKeyBeta, "GET", fipsApps+"/"+app.ID+path, nil, "").problem(t, "GET as another account "+path, 404)
		if p.Upstream != "fips" || strings.Contains(p.Detail, "trustee") {
			t.Errorf("GET %s as beta = %+v, want a FIPS 404 that does not say the application exists", path, p)
		}
	}
	body, ct := fipsMultipart(t, "x.pdf", "application/pdf", []byte("x"))
	g.call(t, fipsKeyBeta, "PUT", fipsApps+"/"+app.ID+"/documents/1/file", body, ct).problem(t, "PUT file as another account", 404)
	g.call(t, fipsKeyAlpha, "GET", fipsApps+"/424242", nil, "").problem(t, "GET unknown application", 404)
	g.call(t, fipsKeyAlpha, "GET", fipsApps+"/"+app.ID+"/documents/424242", nil, "").problem(t, "GET unknown document", 404)

	// 401 from FIPS: the tenant's key expired or was revoked.
	p := g.call(t, fipsKeyRevoked, "GET", fipsApps, nil, "").problem(t, "list with a revoked key", 502)
	if p.Upstream != "fips" || !strings.Contains(p.Detail, "expired or was revoked") || strings.Contains(p.Detail, "revoked-key") {
		t.Errorf("revoked key problem = %+v", p)
	}
	if got := fipsCounter(t, g.reg, "gateway_credential_rejected_total", map[string]string{"upstream": "fips", "credential": "fips-revoked"}); got != 1 {
		t.Errorf("gateway_credential_rejected_total{fips,fips-revoked} = %v, want 1", got)
	}
	// The credential's expiry metric shows it expired: now, not in the future.
	expiry := fipsGauge(t, g.reg, "gateway_credential_expiry_timestamp_seconds", map[string]string{"upstream": "fips", "credential": "fips-revoked"})
	if now := float64(time.Now().Unix()); expiry <= 0 || expiry > now {
		t.Errorf("gateway_credential_expiry_timestamp_seconds{fips,fips-revoked} = %v, want the moment of the rejection (≤ %v)", expiry, now)
	}

	// Exactly one of type and typeTitle; unknown ones never reach FIPS.
	docs := fipsApps + "/" + app.ID + "/documents"
	g.call(t, fipsKeyAlpha, "POST", docs, map[string]any{"type": "Invention", "typeTitle": "Заявление на ИЗ"}, "").problem(t, "document with both", 400)
	g.call(t, fipsKeyAlpha, "POST", docs, map[string]any{"name": "x"}, "").problem(t, "document with neither", 400)
	p = g.call(t, fipsKeyAlpha, "POST", docs, map[string]any{"type": "Patent"}, "").problem(t, "document with unknown type", 400)
	p2 := g.call(t, fipsKeyAlpha, "POST", docs, map[string]any{"typeTitle": "Справка"}, "").problem(t, "document with unknown title", 400)
	if p.Errors[0]["field"] != "body.type" || p2.Errors[0]["field"] != "body.typeTitle" {
		t.Errorf("unknown document type problems = %+v / %+v", p, p2)
	}
	if n := sim.Kit.Calls.Get("POST /api/v1/applications/{id}/documents"); n != 0 {
		t.Errorf("calls POST documents = %d, want 0", n)
	}
	// Dot segments are refused, never sent.
	g.call(t, fipsKeyAlpha, "GET", fipsApps+"/..", nil, "").want(t, "GET ..", 400)
}

// TestFIPSBadCategoryOrTypeNeverSent checks that a category outside the
// dictionary and an unknown application type are refused before FIPS sees
// a create.
func TestFIPSBadCategoryOrTypeNeverSent(t *testing.T) {
	sim, g := startFIPS(t)
	p := g.call(t, fipsKeyAlpha, "POST", fipsApps, map[string]any{"type": "TMApplication", "category": "Коммерческая организация"}, "").problem(t, "short category", 400)
	if len(p.Errors) != 1 || p.Errors[0]["field"] != "body.category" || !strings.Contains(p.Errors[0]["message"], fipsLegalCat) {
		t.Errorf("short category problem = %+v, want body.category suggesting the full path", p)
	}
	g.call(t, fipsKeyAlpha, "PUT", fipsApps+"/1", map[string]any{"category": "Юридическое лицо"}, "").problem(t, "update with a bad category", 400)
	sim.Kit.Calls.Reset()
	g.call(t, fipsKeyAlpha, "POST", fipsApps, map[string]any{"type": "Patent", "category": fipsLegalCat}, "").problem(t, "bad type", 400)
	g.call(t, fipsKeyAlpha, "POST", fipsApps, map[string]any{"type": "TMApplication", "category": "Никто"}, "").problem(t, "bad category", 400)
	if n := sim.Kit.Calls.Get("POST /api/v1/applications"); n != 0 {
		t.Errorf(`calls "POST /api/v1/applications" = %d, want 0`, n)
	}
	if n := sim.Kit.Calls.Total(); n != 0 {
		t.Errorf("upstream calls = %v, want none (the dictionary is cached)", sim.Kit.Calls.Snapshot())
	}
}

// TestFIPSOtherAccountsIDsLookMissing: FIPS ids are sequential, so a tenant
// could walk them; an application or document of another FIPS account must
// answer exactly as an id that does not exist: the same status, headers and
// problem document (but for the request id and instance), for every kind of
// call.
func TestFIPSOtherAccountsIDsLookMissing(t *testing.T) {
	_, g := startFIPS(t)
	var app api.FIPSApplication
	g.call(t, fipsKeyAlpha, "POST", fipsApps, map[string]any{"type": "TMApplication", "category": fipsLegalCat}, "").want(t, "create", 201).decode(t, &app)
	doc := g.call(t, fipsKeyAlpha, "POST", fipsApps+"/"+app.ID+"/documents", map[string]any{"type": "PowerOfAttorney"}, "").want(t, "create document", 201)
	docPath := doc.header.Get("Location") // /v1/fips/applications/{app}/documents/{doc}
	docID := docPath[strings.LastIndex(docPath, "/")+1:]
	const missing = "987654321"
	calls := []struct {
		method, suffix string
		body           func() (any, string)
	}{
		{"GET", "", nil},
		{"PUT", "", func() (any, string) { return map[string]any{"category": fipsLegalCat}, "" }},
		{"DELETE", "", nil},
		{"GET", "/package", nil},
		{"GET", "/documents", nil},
		{"POST", "/documents", func() (any, string) { return map[string]any{"type": "PowerOfAttorney"}, "" }},
		{"GET", "/documents/" + docID, nil},
		{"DELETE", "/documents/" + docID, nil},
		{"GET", "/documents/" + docID + "/file", nil},
		{"PUT", "/documents/" + docID + "/file", func() (any, string) { return fipsMultipart(t, "x.pdf", "application/pdf", []byte("x")) }},
		{"GET", "/documents/" + docID + "/signatures", nil},
	}
	for _, c := range calls {
		send := func(app string) fipsAnswer {
			var body any
			var ct string
			if c.body != nil {
				body, ct = c.body()
			}
			return g.call(t, fipsKeyBeta, c.method, fipsApps+"/"+app+c.suffix, body, ct)
		}
		other, none := send(app.ID), send(missing)
		op := c.method + " " + c.suffix
		if other.status != 404 || none.status != 404 {
			t.Errorf("%s as another account = %d, on a missing id = %d; want 404 both (%s / %s)", op, other.status, none.status, other.body, none.body)
			continue
		}
		if got, want := headerNames(other.header), headerNames(none.header); got != want || other.header.Get("Content-Type") != none.header.Get("Content-Type") {
			t.Errorf("%s headers: another account's %s, a missing id's %s", op, got, want)
		}
		if got, want := problemShape(t, other.body), problemShape(t, none.body); got != want {
			t.Errorf("%s problem: another account's\n%s\na missing id's\n%s", op, got, want)
		}
	}
	// The owner still sees its application.
	g.call(t, fipsKeyAlpha, "GET", fipsApps+"/"+app.ID, nil, "").want(t, "GET as the owner", 200)
}

// headerNames lists the names of h but for the per-request ones.
func headerNames(h http.Header) string {
	var names []string
	for k := range h {
		if k != "Date" && k != "X-Request-Id" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// problemShape is a problem document without its request id and instance.
func problemShape(t *testing.T, b []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("problem %s: %v", b, err)
	}
	delete(m, "request_id")
	delete(m, "instance")
	out, _ := json.Marshal(m)
	return string(out)
}
