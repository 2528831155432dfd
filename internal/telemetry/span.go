package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/legalgate/legalgate/internal/apperr"
)

// The gateway's attribute keys. Values are names and counts only.
const (
	KeyTenant      = attribute.Key("legalgate.tenant")
	KeyCredential  = attribute.Key("legalgate.credential")
	KeyUpstream    = attribute.Key("legalgate.upstream")
	KeyOperation   = attribute.Key("legalgate.operation")
	KeyRequestID   = attribute.Key("legalgate.request_id")
	KeyErrorKind   = attribute.Key("legalgate.error_kind")
	KeyCacheStatus = attribute.Key("legalgate.cache.status")
	KeyRetries     = attribute.Key("legalgate.upstream.retries")
	KeyTask        = attribute.Key("legalgate.fssp.task")
)

// Start starts a child span named name of the span in ctx when that span is
// recording. Otherwise (tracing off, or the request not sampled) it returns
// ctx and that span unchanged and allocates nothing. The caller sets
// attributes only when span.IsRecording(), and always calls span.End (a
// no-op on a span that does not record).
func Start(ctx context.Context, name string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(Scope).Start(ctx, name)
}

// StartLinked starts a root span named name with tp, linked to the span
// context link (when valid): background work done for a request that has
// already been answered (an FSSP task's polls). A nil tp returns ctx and a
// span that records nothing.
func StartLinked(ctx context.Context, tp trace.TracerProvider, name string, link trace.SpanContext) (context.Context, trace.Span) {
	if tp == nil {
		return ctx, trace.SpanFromContext(context.Background())
	}
	opts := []trace.SpanStartOption{trace.WithNewRoot()}
	if link.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: link}))
	}
	return tp.Tracer(Scope).Start(ctx, name, opts...)
}

// Fail marks span as failed by err's apperr kind. The description is the
// kind alone: an error's text may quote what the caller sent.
func Fail(span trace.Span, err error) {
	if err == nil || !span.IsRecording() {
		return
	}
	k := apperr.KindOf(err).String()
	span.SetAttributes(KeyErrorKind.String(k))
	span.SetStatus(codes.Error, k)
}

// Traceparent returns the W3C traceparent of the span in ctx, "" when it
// has none: stored with work that outlives the request (an FSSP task), so
// that the spans of that work can link to it.
func Traceparent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c["traceparent"]
}

// ParseTraceparent returns the span context of a Traceparent value; an
// invalid one when s is empty or malformed.
func ParseTraceparent(s string) trace.SpanContext {
	if s == "" {
		return trace.SpanContext{}
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": s})
	return trace.SpanContextFromContext(ctx)
}
