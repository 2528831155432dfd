package quota

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/legalgate/legalgate/internal/telemetry"
)

// endReserve describes a reservation on its span (names and counts only) and ends it.
func endReserve(span trace.Span, r Request, res *Reservation, err error) {
	span.SetAttributes(requestAttrs(r)...)
	if res != nil && res.e != nil {
		span.SetAttributes(attribute.String("legalgate.quota.family", res.family), attribute.Int64("legalgate.quota.units", res.units))
	}
	telemetry.Fail(span, err)
	span.End()
}

// endRefund describes a refund on its span and ends it.
func endRefund(span trace.Span, r *Reservation, err error) {
	span.SetAttributes(requestAttrs(r.req)...)
	span.SetAttributes(attribute.String("legalgate.quota.family", r.family), attribute.Int64("legalgate.quota.units", r.units))
	telemetry.Fail(span, err)
	span.End()
}

func requestAttrs(r Request) []attribute.KeyValue {
	return []attribute.KeyValue{
		telemetry.KeyTenant.String(r.Tenant), telemetry.KeyCredential.String(r.Credential),
		telemetry.KeyUpstream.String(r.Upstream), telemetry.KeyOperation.String(r.Operation),
	}
}
