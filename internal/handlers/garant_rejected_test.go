package handlers_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/metrics"
)

// TestGarantCredentialRejectedCounted: every request Garant refuses because
// the credential is rejected (a 401 while /v2/limits fails too) counts once
// in gateway_credential_rejected_total, metered or not, and so does a
// limits sync; a method missing from the tariff does not.
func TestGarantCredentialRejectedCounted(t *testing.T) {
	um := metrics.NewUpstream(prometheus.NewRegistry())
	env := newGarantEnv(t, simConfig(), func(d *handlers.Deps) {
		d.Garant.OnRejected = func(c string) { um.CredentialRejectedNow("garant", c) }
	})
	um.AddCredential("garant", "garant-bogus")
	um.AddCredential("garant", "garant-limited")
	count := func(cred string) float64 {
		var m dto.Metric
		must(t, um.CredentialRejected.WithLabelValues("garant", cred).Write(&m))
		return m.GetCounter().GetValue()
	}
	if got := count("garant-bogus"); got != 0 {
		t.Fatalf("rejections before any call = %v, want 0", got)
	}
	for i, tc := range []struct {
		key, method, path string
		body              any
		status            int
	}{
		{keyBogus, "GET", "/v1/garant/topics/10103000", nil, 502},
		{keyBogus, "GET", "/v1/garant/topics/10103000", nil, 502}, // the probe is remembered; still counted
		{keyBogus, "POST", "/v1/garant/search", map[string]any{"text": "кодекс", "env": "internet"}, 502},
		{keyLimited, "GET", "/v1/garant/topics/10103000/export/pdf", nil, 403},
	} {
		if status, _, body := env.send(t, tc.method, tc.path, tc.key, tc.body); status != tc.status {
			t.Fatalf("call %d: %s %s = %d, want %d; body %s", i+1, tc.method, tc.path, status, tc.status, body)
		}
	}
	if got := count("garant-bogus"); got != 3 {
		t.Errorf("garant-bogus rejections after 3 refused calls = %v, want 3", got)
	}
	if got := count("garant-limited"); got != 0 {
		t.Errorf("garant-limited rejections after a method outside its tariff = %v, want 0", got)
	}
	bogus, _ := env.Deps.Tenants.Load().Credential("garant-bogus")
	if err := env.Deps.Garant.SyncLimits(context.Background(), bogus); err == nil {
		t.Fatal("SyncLimits(garant-bogus) = nil, want an error")
	}
	good, _ := env.Deps.Tenants.Load().Credential("garant-test")
	if err := env.Deps.Garant.SyncLimits(context.Background(), good); err != nil {
		t.Fatalf("SyncLimits(garant-test) = %v, want nil", err)
	}
	if got := count("garant-bogus"); got != 4 {
		t.Errorf("garant-bogus rejections after a limits sync = %v, want 4", got)
	}
}
