package cache

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/legalgate/legalgate/internal/telemetry"
)

// endFetch describes a Fetch on its span and ends it: the operation, the
// owner's scope (tenant-owned or shared, never the request) and how the
// answer was produced (Cache-Status).
func endFetch(span trace.Span, k Key, res *Result, err error) {
	span.SetAttributes(telemetry.KeyOperation.String(k.Operation), attribute.Bool("legalgate.cache.per_tenant", k.Owner != ""))
	if res != nil {
		status := res.Status
		if status == "" {
			status = "bypass"
		}
		span.SetAttributes(telemetry.KeyCacheStatus.String(status), attribute.Bool("legalgate.cache.hit", res.Hit))
	}
	telemetry.Fail(span, err)
	span.End()
}
