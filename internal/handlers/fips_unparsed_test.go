package handlers_test

import (
	"encoding/json"
	"testing"

	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

// TestFIPSUnreadableValuesKeptAndCounted: a value of FIPS's answer the
// gateway cannot read (a timestamp in no known form, a count that is no
// number) is passed on as FIPS sent it, among the attributes, and counted
// in gateway_upstream_unparsed_values_total; nothing is dropped.
func TestFIPSUnreadableValuesKeptAndCounted(t *testing.T) {
	sim, g := startFIPS(t)
	unparsed := func(field string) float64 {
		return fipsCounter(t, g.reg, "gateway_upstream_unparsed_values_total",
			map[string]string{"upstream": "fips", "operation": "fipsGetApplication", "field": field})
	}
	sim.Kit.SetFault(&simkit.Fault{Status: 200, PathPrefix: "/api/v1/applications/app-1", Remaining: 1,
		Body: `{"id":"app-1","type":"TMApplication","category":"` + jsonText(fipsLegalCat) + `","createdAt":"когда-нибудь","documents":{"total":"много","unread":1}}`})
	var a struct {
		ID         string         `json:"id"`
		CreatedAt  *string        `json:"createdAt"`
		Attributes map[string]any `json:"attributes"`
	}
	g.call(t, fipsKeyAlpha, "GET", fipsApps+"/app-1", nil, "").want(t, "GET application", 200).decode(t, &a)
	docs, _ := a.Attributes["documents"].(map[string]any)
	if a.ID != "app-1" || a.CreatedAt != nil || a.Attributes["createdAt"] != "когда-нибудь" || docs["total"] != "много" {
		t.Errorf("application = %+v, want createdAt and documents among the attributes as FIPS sent them", a)
	}
	for _, f := range []string{"createdAt", "documents.total"} {
		if got := unparsed(f); got != 1 {
			t.Errorf("gateway_upstream_unparsed_values_total{operation=fipsGetApplication,field=%s} = %v, want 1", f, got)
		}
	}
}

// jsonText is s as the inside of a JSON string.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
