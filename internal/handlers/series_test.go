package handlers_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/legalgate/legalgate/internal/handlers"
)

// TestRequestSeriesPrecreated: before any request, every status the
// contract documents has its counter at 0 for each tenant that may get it,
// so that the first 400, 401 or 429 shows in rate() and increase().
func TestRequestSeriesPrecreated(t *testing.T) {
	g := newGateway(t, nil)
	admin := httptest.NewServer(handlers.NewAdmin(g.Deps.Registry, false))
	t.Cleanup(admin.Close)
	res, err := admin.Client().Get(admin.URL + "/metrics")
	must(t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	text := string(body)
	for _, want := range []string{
		`gateway_http_requests_total{code="429",operation="garantExportTopic",tenant="alpha"} 0`,
		`gateway_http_requests_total{code="400",operation="garantSearch",tenant="other"} 0`,
		`gateway_http_requests_total{code="401",operation="garantSearch",tenant=""} 0`,
		`gateway_http_requests_total{code="403",operation="garantSearch",tenant="nocreds"} 0`,
		`gateway_http_requests_total{code="200",operation="getQuotaUsage",tenant="nocreds"} 0`,
		`gateway_http_requests_total{code="503",operation="getReadyz",tenant=""} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, unwanted := range []string{
		`gateway_http_requests_total{code="200",operation="garantSearch",tenant="nocreds"}`, // it has no Garant credential
		`gateway_http_requests_total{code="401",operation="garantSearch",tenant="alpha"}`,   // a 401 has no tenant
		`gateway_http_requests_total{code="200",operation="getHealthz",tenant="alpha"}`,     // public: no tenant
	} {
		if strings.Contains(text, unwanted) {
			t.Errorf("/metrics has %s", unwanted)
		}
	}
}
