package telemetry

import (
	"context"
	"net/http"
	"net/url"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Transport wraps next, the transport of upstream's client, in an HTTP
// client span (otelhttp) per call, named "UPSTREAM METHOD"; the upstream
// guard inside it adds the credential and the retries it sent
// (KeyRetries). With propagate the call carries traceparent, tracestate and
// baggage; without, the upstream sees no trace header (government APIs:
// upstreams.NAME.propagate_trace, off by default). The URL the span records
// has neither query nor fragment (FSSP's token travels in the query). Off
// (a nil t): next itself.
func (t *Telemetry) Transport(upstream string, propagate bool, next http.RoundTripper) http.RoundTripper {
	if t == nil {
		return next
	}
	var prop propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator() // injects nothing
	if propagate {
		prop = t.prop
	}
	traced := otelhttp.NewTransport(restoreQuery{next},
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), // the gateway's metrics are Prometheus'
		otelhttp.WithPropagators(prop),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return upstream + " " + r.Method }),
		otelhttp.WithSpanOptions(trace.WithAttributes(KeyUpstream.String(upstream))),
	)
	return stripQuery{next: traced}
}

type fullURLKey struct{}

// stripQuery hands the traced transport the request without its query and
// fragment; restoreQuery, under it, gives the original URL back before the
// request is sent.
type stripQuery struct{ next http.RoundTripper }

func (s stripQuery) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL == nil || (r.URL.RawQuery == "" && !r.URL.ForceQuery && r.URL.Fragment == "") {
		return s.next.RoundTrip(r)
	}
	u := *r.URL
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	bare := r.WithContext(context.WithValue(r.Context(), fullURLKey{}, r.URL))
	bare.URL = &u
	return s.next.RoundTrip(bare)
}

type restoreQuery struct{ next http.RoundTripper }

func (s restoreQuery) RoundTrip(r *http.Request) (*http.Response, error) {
	full, ok := r.Context().Value(fullURLKey{}).(*url.URL)
	if !ok {
		return s.next.RoundTrip(r)
	}
	whole := r.WithContext(r.Context()) // a shallow copy: a RoundTripper does not change its request
	whole.URL = full
	return s.next.RoundTrip(whole)
}
