package handlers

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/legalgate/legalgate/internal/telemetry"
	"github.com/legalgate/legalgate/internal/tenant"
)

// traced starts each request's server span, a child of the caller's
// traceparent (the formats of OTEL_PROPAGATORS, W3C trace context and
// baggage by default, are taken from the request), and ends it once the
// request is answered, parked requests included. The
// span is named by the contract operation (the method alone for a request
// outside the contract), never by the URL; its trace id goes into the access
// log line and problem documents. It runs inside the access log, whose
// statusWriter gives the status. /healthz and /readyz are not traced.
// Installed only when tracing is on.
func traced(tel *telemetry.Telemetry) func(http.Handler) http.Handler {
	tracer := tel.TracerProvider().Tracer(telemetry.Scope)
	prop := tel.Propagator()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
				// Probes every few seconds from every kubelet and load
				// balancer: not worth a trace each.
				next.ServeHTTP(w, r)
				return
			}
			ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			ctx, span := tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
			info := infoFrom(ctx)
			if sc := span.SpanContext(); sc.IsValid() {
				info.traceID = sc.TraceID().String()
			}
			method := r.Method
			// A parked request is answered later: its span ends then.
			info.spanEnd = func(route string, status int) { endServerSpan(span, info, method, route, status) }
			answered := false
			defer func() {
				if info.detached {
					return
				}
				status := http.StatusInternalServerError // a panic on its way to the recoverer
				if sw, ok := w.(*statusWriter); answered && ok {
					status = max(sw.status, http.StatusOK)
				}
				endServerSpan(span, info, method, routePattern(r), status)
			}()
			next.ServeHTTP(w, r.WithContext(ctx))
			answered = true
		})
	}
}

func endServerSpan(span trace.Span, info *reqInfo, method, route string, status int) {
	if !span.IsRecording() {
		return
	}
	if info.operation != "unknown" {
		span.SetName(info.operation)
	}
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(method), semconv.HTTPRoute(route),
		semconv.HTTPResponseStatusCode(status),
		telemetry.KeyOperation.String(info.operation), telemetry.KeyRequestID.String(info.id),
	}
	if info.tenant != "" {
		attrs = append(attrs, telemetry.KeyTenant.String(info.tenant))
	}
	if info.errKind != "" {
		attrs = append(attrs, telemetry.KeyErrorKind.String(info.errKind))
	}
	span.SetAttributes(attrs...)
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// authenticate finds the tenant of r's bearer key, in an "auth" span when
// the request is traced.
func authenticate(ctx context.Context, tenants *tenant.Registry, r *http.Request) (*tenant.Tenant, bool) {
	return authenticateKey(ctx, tenants, bearerToken(r))
}

// authenticateKey finds the tenant of key (wherever the request carried
// it: the upstreams' own shapes take it in a header or a parameter), in an
// "auth" span when the request is traced.
func authenticateKey(ctx context.Context, tenants *tenant.Registry, key string) (*tenant.Tenant, bool) {
	_, span := telemetry.Start(ctx, "auth")
	t, ok := tenants.Authenticate(key)
	if span.IsRecording() {
		span.SetAttributes(attribute.Bool("legalgate.auth.ok", ok))
		if ok {
			span.SetAttributes(telemetry.KeyTenant.String(t.ID))
		}
	}
	span.End()
	return t, ok
}
