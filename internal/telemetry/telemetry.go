// Package telemetry builds the gateway's OpenTelemetry tracing from the
// standard OTEL_* environment variables and gives the other packages the few
// helpers they start spans with.
//
// Tracing is off unless an OTLP exporter is asked for (OTEL_TRACES_EXPORTER=otlp,
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), and
// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turns it off whatever
// else is set. Off, New returns nil: every method of a nil *Telemetry is a
// no-op, the handlers install no tracing middleware, the upstream transports
// are not wrapped, and Start returns its context unchanged, so the hot path
// neither allocates nor formats anything for tracing.
//
// Attributes carry names (tenant, credential, upstream, operation, request
// id), never a key, a token, a query text or a URL query (Transport strips
// the query before the HTTP client span sees the URL).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Scope is the instrumentation scope of the gateway's own spans.
const Scope = "github.com/legalgate/legalgate"

// DefaultServiceName is service.name when neither OTEL_SERVICE_NAME nor
// OTEL_RESOURCE_ATTRIBUTES names one.
const DefaultServiceName = "legalgate"

// Telemetry is the process's tracer provider and propagator. A nil
// *Telemetry is tracing off.
type Telemetry struct {
	tp      *sdktrace.TracerProvider
	prop    propagation.TextMapPropagator
	ignored []string // OTEL_PROPAGATORS formats the specification names that the gateway does not speak
}

// New builds tracing from the OTEL_* variables read through getenv: the OTLP
// exporter over http/protobuf (default) or grpc (OTEL_EXPORTER_OTLP_PROTOCOL,
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL), its endpoint and headers, the sampler
// (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG; default
// parentbased_always_on), the propagators (OTEL_PROPAGATORS), the resource
// (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES). The exporters read the rest
// of their settings (TLS files, compression, timeout) and the batch
// processor its OTEL_BSP_* from the process environment themselves. It returns nil, nil when tracing
// is off, and an error naming the variable when one is invalid.
func New(ctx context.Context, getenv func(string) string, version string) (*Telemetry, error) {
	if !enabled(getenv) {
		return nil, nil
	}
	sampler, err := samplerFrom(getenv)
	if err != nil {
		return nil, err
	}
	prop, ignored, err := propagatorFrom(getenv)
	if err != nil {
		return nil, err
	}
	res, err := resourceFrom(getenv, version)
	if err != nil {
		return nil, err
	}
	exp, err := exporter(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return &Telemetry{
		tp:   sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithSampler(sampler), sdktrace.WithResource(res)),
		prop: prop, ignored: ignored,
	}, nil
}

// Ignored names the OTEL_PROPAGATORS formats that the OpenTelemetry
// specification lists but the gateway does not speak (b3, jaeger, …): they
// are left out, and the caller logs a warning.
func (t *Telemetry) Ignored() []string {
	if t == nil {
		return nil
	}
	return t.ignored
}

// propagatorFrom reads OTEL_PROPAGATORS: a comma-separated list of
// tracecontext (W3C traceparent and tracestate), baggage (W3C baggage) and
// none; unset, tracecontext,baggage. The other formats the specification
// lists (b3, b3multi, jaeger, xray, ottrace) are returned as ignored; any
// other name is an error naming the variable.
func propagatorFrom(getenv func(string) string) (propagation.TextMapPropagator, []string, error) {
	v := strings.TrimSpace(getenv("OTEL_PROPAGATORS"))
	if v == "" {
		v = "tracecontext,baggage"
	}
	var props []propagation.TextMapPropagator
	var ignored []string
	for name := range strings.SplitSeq(v, ",") {
		switch n := strings.ToLower(strings.TrimSpace(name)); n {
		case "tracecontext":
			props = append(props, propagation.TraceContext{})
		case "baggage":
			props = append(props, propagation.Baggage{})
		case "none", "":
		case "b3", "b3multi", "jaeger", "xray", "ottrace":
			ignored = append(ignored, n)
		default:
			return nil, nil, fmt.Errorf("telemetry: OTEL_PROPAGATORS=%q: %q is no propagator; want tracecontext, baggage or none", v, n)
		}
	}
	return propagation.NewCompositeTextMapPropagator(props...), ignored, nil
}

// enabled says whether the variables ask for traces.
func enabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))) {
	case "":
	case "none":
		return false
	default: // otlp, or one New refuses by name
		return true
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Enabled reports whether tracing is on.
func (t *Telemetry) Enabled() bool { return t != nil }

// TracerProvider returns the provider; nil when tracing is off.
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if t == nil {
		return nil
	}
	return t.tp
}

// Propagator returns the formats of OTEL_PROPAGATORS (W3C trace context and
// baggage by default); nil when tracing is off.
func (t *Telemetry) Propagator() propagation.TextMapPropagator {
	if t == nil {
		return nil
	}
	return t.prop
}

// Shutdown exports the spans still buffered and stops the exporter; call it
// once the server has drained and background work has stopped.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

func exporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	if v := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); v != "" && v != "otlp" {
		return nil, fmt.Errorf("telemetry: OTEL_TRACES_EXPORTER=%q: only otlp and none are supported", v)
	}
	protoVar, proto := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		protoVar, proto = "OTEL_EXPORTER_OTLP_PROTOCOL", getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	headers, err := headersFrom(getenv)
	if err != nil {
		return nil, err
	}
	signal, generic := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	switch strings.TrimSpace(proto) {
	case "", "http/protobuf":
		opts := []otlptracehttp.Option{otlptracehttp.WithHeaders(headers)}
		switch {
		case signal != "": // used as is
			opts = append(opts, otlptracehttp.WithEndpointURL(signal))
		case generic != "": // the base URL: the signal's path is added
			u, err := parseEndpoint("OTEL_EXPORTER_OTLP_ENDPOINT", generic)
			if err != nil {
				return nil, err
			}
			u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
			opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
		}
		return otlptracehttp.New(ctx, opts...)
	case "grpc":
		opts := []otlptracegrpc.Option{otlptracegrpc.WithHeaders(headers)}
		if e := cmpOr(signal, generic); e != "" {
			if _, err := parseEndpoint("OTEL_EXPORTER_OTLP_ENDPOINT", e); err != nil {
				return nil, err
			}
			opts = append(opts, otlptracegrpc.WithEndpointURL(e))
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	return nil, fmt.Errorf("telemetry: %s=%q: want http/protobuf or grpc", protoVar, proto)
}

func parseEndpoint(name, v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("telemetry: %s: want an http:// or https:// URL", name)
	}
	return u, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// headersFrom reads OTEL_EXPORTER_OTLP_HEADERS and the traces' own (which
// win): comma-separated key=value pairs, URL-encoded. They may hold the
// collector's credentials: an error never quotes them.
func headersFrom(getenv func(string) string) (map[string]string, error) {
	h := map[string]string{}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
		pairs, err := pairsFrom(name, getenv(name))
		if err != nil {
			return nil, err
		}
		for _, kv := range pairs {
			h[kv[0]] = kv[1]
		}
	}
	return h, nil
}

// pairsFrom parses the W3C-baggage-like list "k1=v1,k2=v2" of an OTEL_ variable.
func pairsFrom(name, v string) ([][2]string, error) {
	var out [][2]string
	for item := range strings.SplitSeq(v, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		k, val, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("telemetry: %s: want comma-separated key=value pairs", name)
		}
		dec, err := url.PathUnescape(strings.TrimSpace(val))
		if err != nil {
			return nil, fmt.Errorf("telemetry: %s: the value of %s is not URL-encoded", name, k)
		}
		out = append(out, [2]string{k, dec})
	}
	return out, nil
}

// samplerFrom reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG.
func samplerFrom(getenv func(string) string) (sdktrace.Sampler, error) {
	name := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER")))
	arg := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER_ARG"))
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, errors.New("telemetry: OTEL_TRACES_SAMPLER_ARG: want a ratio from 0 to 1")
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		if name == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	}
	return nil, fmt.Errorf("telemetry: OTEL_TRACES_SAMPLER=%q: want always_on, always_off, traceidratio or their parentbased_ forms", name)
}

// resourceFrom describes the process: OTEL_RESOURCE_ATTRIBUTES, then
// OTEL_SERVICE_NAME (which wins), service.version, and the SDK's own.
func resourceFrom(getenv func(string) string, version string) (*resource.Resource, error) {
	pairs, err := pairsFrom("OTEL_RESOURCE_ATTRIBUTES", getenv("OTEL_RESOURCE_ATTRIBUTES"))
	if err != nil {
		return nil, err
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(DefaultServiceName)}
	if version != "" {
		attrs = append(attrs, semconv.ServiceVersion(version))
	}
	for _, kv := range pairs {
		attrs = append(attrs, attribute.String(kv[0], kv[1]))
	}
	if n := strings.TrimSpace(getenv("OTEL_SERVICE_NAME")); n != "" {
		attrs = append(attrs, semconv.ServiceName(n))
	}
	// Later attributes win within a set.
	return resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
}
