package handlers_test

import (
	"bytes"
	"testing"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
)

// TestFIPSIdempotentCreates: every creating POST besides the application
// (document, signature with its 201 and its 207, submission) replays its
// first answer for the same key and body without calling FIPS again, and
// refuses another body under the key with 422.
func TestFIPSIdempotentCreates(t *testing.T) {
	sim, g := startFIPS(t)
	a := fipsKeyAlpha
	newApp := func() string {
		var app api.FIPSApplication
		g.call(t, a, "POST", fipsApps, map[string]any{"type": "TMApplication", "category": fipsLegalCat}, "").want(t, "create application", 201).decode(t, &app)
		return fipsApps + "/" + app.ID
	}
	// An application ready to submit: a statement that passed ФЛК and a
	// power of attorney with content to sign.
	appPath := newApp()
	st := g.call(t, a, "POST", appPath+"/documents", map[string]any{"type": "TradeMark"}, "").want(t, "create statement", 201).header.Get("Location")
	body, ct := fipsMultipart(t, "statement.xml", "application/xml", fipssim.SampleStatement("TradeMark", "ООО «Ромашка»", "ПОВТОР"))
	g.call(t, a, "PUT", st+"/statement", body, ct).want(t, "put statement", 200)
	poa := g.call(t, a, "POST", appPath+"/documents", map[string]any{"type": "PowerOfAttorney"}, "").want(t, "create power of attorney", 201).header.Get("Location")
	body, ct = fipsMultipart(t, "poa.pdf", "application/pdf", []byte("%PDF scan"))
	g.call(t, a, "PUT", poa+"/file", body, ct).want(t, "put file", 200)

	sig := func(alg, value string) map[string]any {
		return map[string]any{"algorithm": alg, "value": []byte(value)}
	}
	for _, tc := range []struct {
		name, path, route string
		body, other       any
		status            int
	}{
		{"document", newApp() + "/documents", "POST /api/v1/applications/{id}/documents",
			map[string]any{"typeTitle": "Письмо"}, map[string]any{"typeTitle": "Письмо", "name": "Другое письмо"}, 201},
		{"signature", poa + "/signatures", "POST /api/v1/applications/{id}/documents/{docId}/signatures",
			map[string]any{"signatures": []any{sig("GOST R 34.10-2012-256", "cms-1")}},
			map[string]any{"signatures": []any{sig("GOST R 34.10-2012-256", "cms-other")}}, 201},
		{"signature batch (207)", poa + "/signatures", "POST /api/v1/applications/{id}/documents/{docId}/signatures",
			map[string]any{"signatures": []any{sig("GOST R 34.10-2001", "cms-2"), sig("GOST R 34.10-2012-512", "")}},
			map[string]any{"signatures": []any{sig("GOST R 34.10-2001", "cms-3"), sig("GOST R 34.10-2012-512", "")}}, 207},
		{"submission", appPath + "/submission", "POST /api/v1/applications/{id}/package/signature",
			map[string]any{"algorithm": "GOST R 34.10-2012-256", "signature": []byte("detached-cms")},
			map[string]any{"algorithm": "GOST R 34.10-2012-256", "signature": []byte("another-cms")}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "again-" + tc.name
			before := sim.Kit.Calls.Get(tc.route)
			first := g.call(t, a, "POST", tc.path, tc.body, "", "Idempotency-Key", key).want(t, tc.name, tc.status)
			again := g.call(t, a, "POST", tc.path, tc.body, "", "Idempotency-Key", key).want(t, tc.name+" again", tc.status)
			if !bytes.Equal(first.body, again.body) || first.header.Get("Location") != again.header.Get("Location") || again.header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("%s replay = %s %v, want the first answer %s replayed", tc.name, again.body, again.header, first.body)
			}
			if n := sim.Kit.Calls.Get(tc.route) - before; n != 1 {
				t.Errorf("calls %q = %d, want 1 (the replay never reaches FIPS)", tc.route, n)
			}
			g.call(t, a, "POST", tc.path, tc.other, "", "Idempotency-Key", key).problem(t, tc.name+" with another body", 422)
		})
	}
}
