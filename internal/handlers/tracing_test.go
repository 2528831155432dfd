package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/telemetry"
)

// tracingOn returns Telemetry exporting over OTLP/HTTP to a sink that
// accepts and drops every export.
func tracingOn(t testing.TB) *telemetry.Telemetry {
	t.Helper()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(sink.Close)
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": sink.URL}
	tel, err := telemetry.New(context.Background(), func(k string) string { return env[k] }, "")
	if err != nil || tel == nil {
		t.Fatalf("telemetry.New(endpoint) = %v, %v; want tracing on", tel, err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel
}

// BenchmarkGarantHitTraced is BenchmarkGarantHit with tracing on and every
// request sampled.
func BenchmarkGarantHitTraced(b *testing.B) {
	tel := tracingOn(b)
	benchGarantHit(b, func(d *handlers.Deps) { d.Telemetry = tel })
}
