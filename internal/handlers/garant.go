package handlers

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/garantsvc"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// gatewayPrefix is where the gateway serves Garant's images and formulas.
const gatewayPrefix = "/v1/garant"

// garantHandlers implements the Garant Connect operations of the contract:
// each decodes its request, calls the Garant service (internal/garantsvc)
// and encodes the contract's answer.
type garantHandlers struct {
	deps *Deps
}

// garantCall is one request to a Garant operation: the service's call and
// the service itself (its client, for the fetch functions).
type garantCall struct {
	*garantsvc.Call
	svc *garantsvc.Service
}

// begin starts a call of op: the Garant service, the tenant and its Garant
// credential.
func (h garantHandlers) begin(ctx context.Context, op string) (*garantCall, error) {
	g := h.deps.Garant
	if g == nil || g.Client == nil {
		return nil, notBuilt(op)
	}
	t, c, err := credentialFor(ctx, garant.Upstream)
	if err != nil {
		return nil, err
	}
	return &garantCall{Call: g.Begin(op, t, c), svc: g}, nil
}

// cachedJSON answers a JSON operation: req asks Garant, convert turns its
// answer (decoded into an N) into the contract's T, encoded once exactly as
// the client receives it; those bytes are what the cache stores and what a
// hit writes (Garant's own bytes are cached beside them, for the other
// routes that ask the same).
func cachedJSON[N, T any](ctx context.Context, c *garantCall, cc *string, topic int, key any, req garant.Request, convert func(*N) T) (*garantsvc.Answer, error) {
	return cachedBytes(ctx, c, cc, topic, key, req, func(b []byte) ([]byte, error) {
		n, err := garant.Decode[N](req.Method, b)
		if err != nil {
			return nil, err
		}
		// As the generated strict responses encode (json.Encoder: HTML
		// escaped, a trailing newline), in one buffer of the right size.
		out, err := json.Marshal(convert(n))
		if err != nil {
			return nil, apperr.Wrap(apperr.Internal, "", fmt.Errorf("garant: encode %s: %w", c.Operation(), err))
		}
		return append(out, '\n'), nil
	})
}

// cachedBytes answers a JSON operation: req asks Garant, convert turns its
// answer into the contract's encoding as the client receives it (a
// trailing newline included). A request in Garant's shape (garant_compat.go)
// gets Garant's answer as Garant sent it.
func cachedBytes(ctx context.Context, c *garantCall, cc *string, topic int, key any, req garant.Request, convert func([]byte) ([]byte, error)) (*garantsvc.Answer, error) {
	fetch := func(ctx context.Context) ([]byte, error) { return c.svc.Client.JSON(ctx, c.Credential.Secret, req) }
	a, err := c.JSON(ctx, deref(cc), garantsvc.Key{Topic: topic, Request: key}, fetch, convert, garantNative(ctx))
	if err != nil {
		return nil, err
	}
	return a, nil
}

// cachedFile answers a binary operation through the service.
func (c *garantCall) cachedFile(ctx context.Context, cc *string, topic int, req any, fetch func(context.Context) (*garant.File, error)) (*garantsvc.File, error) {
	f, err := c.File(ctx, deref(cc), garantsvc.Key{Topic: topic, Request: req}, fetch)
	if err != nil {
		return nil, err
	}
	return f, nil
}
