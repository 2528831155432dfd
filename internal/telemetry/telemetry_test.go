package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestNewOffUnlessAsked(t *testing.T) {
	for _, env := range []map[string]string{
		{},
		{"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"},
	} {
		tel, err := New(context.Background(), envOf(env), "")
		if err != nil || tel != nil || tel.Enabled() || tel.TracerProvider() != nil || tel.Shutdown(context.Background()) != nil {
			t.Errorf("New(%v) = %v, %v; want nil, nil (off)", env, tel, err)
		}
	}
	// Off: the transport is the one given, and Start allocates nothing.
	rt := http.DefaultTransport
	if got := (*Telemetry)(nil).Transport("garant", true, rt); got != rt {
		t.Errorf("nil Telemetry's Transport wrapped the transport")
	}
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() {
		_, span := Start(ctx, "x")
		span.End()
	}); n != 0 {
		t.Errorf("Start without a recording span: %v allocs, want 0", n)
	}
}

func TestNewFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		wantErr string // "" when it must build
	}{
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20s3cret"}},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: "OTEL_TRACES_EXPORTER"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, wantErr: "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "sometimes"}, wantErr: "OTEL_TRACES_SAMPLER"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, wantErr: "OTEL_TRACES_SAMPLER_ARG"},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"}, wantErr: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_HEADERS": "authorization"}, wantErr: "OTEL_EXPORTER_OTLP_HEADERS"},
	} {
		tel, err := New(context.Background(), envOf(tc.env), "v1")
		switch {
		case tc.wantErr == "" && (err != nil || !tel.Enabled()):
			t.Errorf("New(%v) = %v, %v; want tracing on", tc.env, tel, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("New(%v) = %v; want an error naming %s", tc.env, err, tc.wantErr)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("New(%v) error quotes a header value: %v", tc.env, err)
		}
		_ = tel.Shutdown(context.Background())
	}
}

// testTelemetry records spans in memory.
func testTelemetry(t *testing.T) (*Telemetry, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tel := &Telemetry{tp: sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)),
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel, exp
}

// TestTransport checks the upstream client span both ways: with propagation
// the upstream sees the trace, without it sees no trace header; the span's
// URL never has the query.
func TestTransport(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	var queries []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen, queries = append(seen, r.Header.Clone()), append(queries, r.URL.RawQuery)
		mu.Unlock()
	}))
	defer up.Close()
	for _, propagate := range []bool{true, false} {
		seen, queries = nil, nil
		tel, exp := testTelemetry(t)
		c := &http.Client{Transport: tel.Transport("fssp", propagate, http.DefaultTransport)}
		ctx, parent := tel.TracerProvider().Tracer("test").Start(context.Background(), "request")
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, up.URL+"/search/physical?token=upstream-secret&lastname=IVANOV", nil)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		parent.End()
		if len(queries) != 1 || queries[0] != "token=upstream-secret&lastname=IVANOV" {
			t.Errorf("upstream saw queries %q, want the request's own", queries)
		}
		tp := seen[0].Get("Traceparent")
		if propagate != (tp != "" && strings.Contains(tp, parent.SpanContext().TraceID().String())) {
			t.Errorf("propagate=%v: upstream saw traceparent %q (trace %s)", propagate, tp, parent.SpanContext().TraceID())
		}
		spans := exp.GetSpans()
		if len(spans) != 2 || spans[0].Name != "fssp GET" || spans[0].SpanKind != trace.SpanKindClient || spans[0].Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Fatalf("propagate=%v: spans %v, want the client span fssp GET under the request's", propagate, spans)
		}
		for _, kv := range spans[0].Attributes {
			if v := kv.Value.String(); strings.Contains(v, "upstream-secret") || strings.Contains(v, "IVANOV") {
				t.Errorf("client span attribute %s = %q holds the query", kv.Key, v)
			}
		}
	}
}

func TestTraceparentRoundTrip(t *testing.T) {
	if Traceparent(context.Background()) != "" || ParseTraceparent("").IsValid() || ParseTraceparent("garbage").IsValid() {
		t.Errorf("an untraced context or a bad value gave a span context")
	}
	tel, _ := testTelemetry(t)
	ctx, span := tel.TracerProvider().Tracer("test").Start(context.Background(), "submit")
	defer span.End()
	got := ParseTraceparent(Traceparent(ctx))
	if got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() || !got.IsRemote() {
		t.Errorf("ParseTraceparent(Traceparent(ctx)) = %v, want %v", got, span.SpanContext())
	}
}

// TestPropagatorsFromEnv: OTEL_PROPAGATORS picks the formats taken from
// callers and sent to upstreams that propagate; W3C trace context and
// baggage by default.
func TestPropagatorsFromEnv(t *testing.T) {
	for _, tc := range []struct {
		value   string
		want    []string // the propagator's header fields, sorted
		ignored []string
		wantErr bool
	}{
		{value: "", want: []string{"baggage", "traceparent", "tracestate"}},
		{value: "tracecontext,baggage", want: []string{"baggage", "traceparent", "tracestate"}},
		{value: " tracecontext ", want: []string{"traceparent", "tracestate"}},
		{value: "baggage", want: []string{"baggage"}},
		{value: "none", want: nil},
		{value: "b3", want: nil, ignored: []string{"b3"}},
		{value: "tracecontext,baggage,B3multi", want: []string{"baggage", "traceparent", "tracestate"}, ignored: []string{"b3multi"}},
		{value: "tracecontext,zipkin", wantErr: true},
	} {
		env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_PROPAGATORS": tc.value}
		tel, err := New(context.Background(), envOf(env), "")
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), "OTEL_PROPAGATORS") {
				t.Errorf("New(OTEL_PROPAGATORS=%q) = %v; want an error naming OTEL_PROPAGATORS", tc.value, err)
			}
			_ = tel.Shutdown(context.Background())
			continue
		}
		if err != nil {
			t.Fatalf("New(OTEL_PROPAGATORS=%q) = %v", tc.value, err)
		}
		got := tel.Propagator().Fields()
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("OTEL_PROPAGATORS=%q: propagator fields %q, want %q", tc.value, got, tc.want)
		}
		if !slices.Equal(tel.Ignored(), tc.ignored) {
			t.Errorf("OTEL_PROPAGATORS=%q: ignored %q, want %q", tc.value, tel.Ignored(), tc.ignored)
		}
		_ = tel.Shutdown(context.Background())
	}
}
