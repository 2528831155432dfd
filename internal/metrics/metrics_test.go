package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

func TestUpstreamTransport(t *testing.T) {
	reg := NewRegistry()
	m := NewUpstream(reg)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	defer srv.Close()
	c := &http.Client{Transport: m.Transport("garant", http.DefaultTransport)}
	req, _ := http.NewRequestWithContext(WithOperation(context.Background(), "garantGetTopic"), "GET", srv.URL+"/v2/topic/123", nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	req, _ = http.NewRequest("GET", "http://127.0.0.1:1/closed", nil)
	if _, err := c.Do(req); err == nil {
		t.Fatal("GET on a closed port succeeded")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if mf.GetName() != "gateway_upstream_requests_total" {
			continue
		}
		for _, mm := range mf.GetMetric() {
			var labels []string
			for _, l := range mm.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got = append(got, strings.Join(labels, ","))
		}
	}
	want := "code=418,operation=garantGetTopic,upstream=garant code=error,operation=unknown,upstream=garant"
	if strings.Join(got, " ") != want {
		t.Errorf("gateway_upstream_requests_total series = %v, want %s", got, want)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint = %v, %v", problems, err)
	}
}

// TestCredentialSeries: a configured credential's rejection counter exists
// at 0 before its first rejection, so that increase() sees that one.
func TestCredentialSeries(t *testing.T) {
	reg := NewRegistry()
	m := NewUpstream(reg)
	m.AddCredential("garant", "garant-main")
	value := func(name string) (float64, bool) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name && len(mf.GetMetric()) == 1 {
				mm := mf.GetMetric()[0]
				return mm.GetCounter().GetValue() + mm.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	if v, ok := value("gateway_credential_rejected_total"); !ok || v != 0 {
		t.Errorf("gateway_credential_rejected_total before a rejection = %v (present %v), want 0", v, ok)
	}
	m.CredentialRejectedNow("garant", "garant-main")
	if v, _ := value("gateway_credential_rejected_total"); v != 1 {
		t.Errorf("gateway_credential_rejected_total after a rejection = %v, want 1", v)
	}
	if v, ok := value("gateway_credential_expiry_timestamp_seconds"); !ok || v <= 0 {
		t.Errorf("gateway_credential_expiry_timestamp_seconds after a rejection = %v (present %v), want now", v, ok)
	}
}
