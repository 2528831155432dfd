package fairshare

import (
	"fmt"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
)

// The limits, named by their keys in the gateway's configuration (the
// problem member "limit"). A rate's name ends with its upstream:
// "fairness.rates.garant".
const (
	LimitLongPollsPerTenant = "fairness.long_polls.per_tenant"
	LimitLongPollsGlobal    = "fairness.long_polls.global"
	LimitCallsPerTenant     = "fairness.upstream_calls.per_tenant"
	LimitCallsPerCredential = "fairness.upstream_calls.per_credential"
	LimitRate               = "fairness.rates"
)

// Problem types of the refusals.
const (
	TypeConcurrency = "concurrency-limit" // a tenant's cap on requests at once (429)
	TypeRate        = "rate-limit"        // a tenant's rate (429)
	TypeOverloaded  = "overloaded"        // a cap shared by all tenants (503)
)

// capRetry is the Retry-After of a cap: requests held at once end soon (a
// call) or within the long-poll wait cap, and a retry costs the client little.
const capRetry = time.Second

// refuse is the error of r past limit (of size max); retry is when a rate
// has room again (0 for a cap).
func (l *Limiter) refuse(r Request, limit string, max int, retry time.Duration) error {
	e := &apperr.Error{Kind: apperr.QuotaExceeded, Type: TypeConcurrency, Title: "Too many concurrent requests",
		RetryAfter: max1s(retry), Extensions: map[string]any{"limit": limit, "max": max, "scope": "tenant"}}
	if r.Class != LongPoll {
		e.Upstream = r.Upstream
	}
	switch limit {
	case LimitLongPollsPerTenant:
		e.Detail = fmt.Sprintf("tenant %s has %d long polls open, its cap (%s); retry once one is answered", r.Tenant, max, limit)
	case LimitCallsPerTenant:
		e.Detail = fmt.Sprintf("tenant %s has %d %s calls in flight, its cap (%s); retry once one is answered", r.Tenant, max, r.Upstream, limit)
	case LimitLongPollsGlobal:
		e.Kind, e.Type, e.Title, e.Extensions["scope"] = apperr.Unavailable, TypeOverloaded, "Gateway at capacity", "gateway"
		e.Detail = fmt.Sprintf("the gateway holds its cap of %d long polls (%s); retry later", max, limit)
	case LimitCallsPerCredential:
		e.Kind, e.Type, e.Title, e.Extensions["scope"] = apperr.Unavailable, TypeOverloaded, "Gateway at capacity", "credential"
		e.Detail = fmt.Sprintf("the gateway holds its cap of %d %s calls in flight on this tenant's credential (%s); nothing was sent upstream; retry later", max, r.Upstream, limit)
	default: // a rate
		e.Type, e.Title = TypeRate, "Rate limit exceeded"
		e.Detail = fmt.Sprintf("tenant %s calls %s's unmetered operations faster than its rate of %d a second (%s); nothing was sent upstream", r.Tenant, r.Upstream, max, limit)
	}
	l.m.refused.WithLabelValues(limit, r.Tenant).Inc()
	return e
}

// max1s is d rounded up to whole seconds, at least one.
func max1s(d time.Duration) time.Duration {
	if d <= capRetry {
		return capRetry
	}
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return d
}
