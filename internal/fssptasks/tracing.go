package fssptasks

import (
	"context"

	"github.com/legalgate/legalgate/internal/telemetry"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
)

// tracedPoll polls one part in an "fssp.poll" span of its own trace, linked
// to the span of the request that submitted the task (record.Trace): the
// poll serves that request, which has long been answered.
func (e *Engine) tracedPoll(ctx context.Context, r *record, p *part, tok tenant.Secret) error {
	if e.cfg.Tracer == nil {
		return e.pollPart(ctx, r, p, tok)
	}
	ctx, span := telemetry.StartLinked(ctx, e.cfg.Tracer, "fssp.poll", telemetry.ParseTraceparent(r.Trace))
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(telemetry.KeyTask.String(r.Task.ID), telemetry.KeyTenant.String(r.Tenant),
			telemetry.KeyCredential.String(r.Credential), telemetry.KeyUpstream.String(fssp.Upstream))
	}
	err := e.pollPart(ctx, r, p, tok)
	telemetry.Fail(span, err)
	return err
}
