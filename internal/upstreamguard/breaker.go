package upstreamguard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/legalgate/legalgate/internal/apperr"
)

// openedAt is when a breaker last opened (Unix ns), for Retry-After.
type openedAt struct{ ns atomic.Int64 }

// Outcomes a call reports to its breaker besides success (nil).
var (
	errExcluded  = errors.New("upstreamguard: not the upstream's doing") // counts neither way
	errServerErr = errors.New("upstreamguard: 5xx answer")
)

func (g *Guard) newGuarded(c Credential) *guarded {
	gc := &guarded{Credential: c, openFor: g.cfg.OpenFor, opened: &openedAt{}}
	failures := uint32(g.cfg.Failures)
	log := g.cfg.Log
	gc.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        c.Upstream + "/" + c.Name,
		MaxRequests: uint32(g.cfg.Probes),
		Timeout:     g.cfg.OpenFor,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= failures },
		IsExcluded:  func(err error) bool { return errors.Is(err, errExcluded) },
		// Called under the breaker's lock: no call back into it.
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				gc.opened.ns.Store(time.Now().UnixNano())
			}
			log.Warn("upstream circuit breaker "+to.String(), "upstream", c.Upstream, "credential", c.Name,
				"from", from.String(), "to", to.String())
		},
	})
	return gc
}

// openErr is the error of a call the breaker refused (cause is gobreaker's
// ErrOpenState or ErrTooManyRequests): 503 with Retry-After, the rest of
// the open period (a second while half-open probes run).
func (c *guarded) openErr(cause error) *apperr.Error {
	retry := time.Second
	if errors.Is(cause, gobreaker.ErrOpenState) {
		left := time.Until(time.Unix(0, c.opened.ns.Load()).Add(c.openFor))
		retry = max(retry, left.Round(time.Second))
	}
	name := c.title()
	return &apperr.Error{Kind: apperr.Unavailable, Upstream: c.Upstream, RetryAfter: retry,
		Detail: name + " is failing for the credential this tenant uses (timeouts, cut connections or 5xx answers): " +
			"the gateway does not call it until it recovers; nothing was sent",
		Err: fmt.Errorf("%w: %s credential %s: %w", ErrOpen, c.Upstream, c.Name, cause)}
}

// outcome is what a call tells its breaker: nil (success), errExcluded or
// a failure. sent says the request left the gateway.
func outcome(ctx context.Context, res *http.Response, err error, sent bool) error {
	switch {
	case !sent:
		return errExcluded
	case err == nil && res.StatusCode >= 500:
		return errServerErr
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled):
		return errExcluded // the caller gave up, the upstream did not fail
	}
	return err // a timeout, a refused or cut connection
}
