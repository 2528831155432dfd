package handlers

import (
	"context"
	"time"

	"github.com/legalgate/legalgate/internal/fipssvc"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// fipsHandlers implements the FIPS Registrator operations of the contract:
// each decodes its request, calls the FIPS service (internal/fipssvc) and
// encodes its answer. Ids are passed on as they came (the client
// path-escapes them); content streams through without being buffered or
// re-encoded.
type fipsHandlers struct {
	deps *Deps
}

// fipsBase is the gateway's path prefix of FIPS resources.
const fipsBase = "/v1/fips/applications/"

// fipsCall is what every operation starts with: the service's call and how
// long its streamed body may stall.
type fipsCall struct {
	*fipssvc.Call
	idle time.Duration
}

func (h fipsHandlers) start(ctx context.Context, op string) (fipsCall, error) {
	if h.deps.FIPS == nil || h.deps.FIPS.Client == nil {
		return fipsCall{}, notBuilt(op)
	}
	t, cred, err := credentialFor(ctx, fips.Upstream)
	if err != nil {
		return fipsCall{}, err
	}
	return fipsCall{Call: h.deps.FIPS.Begin(t, cred), idle: h.deps.Limits.withDefaults().StreamIdle}, nil
}
