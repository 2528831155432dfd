package upstreamguard

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/telemetry"
	"github.com/legalgate/legalgate/internal/tenant"
)

// Transport wraps next, the transport of upstream's client: every request
// whose context names a credential of upstream the guard knows goes through
// that credential's breaker, waits for its turn under the credential's rate
// and, for the upstreams of Config.RetryTooManyRequests, is sent again on a
// 429 within the retry budget. Refusals are *apperr.Error values (ErrOpen
// or ErrPaced in their chain): the clients pass them on unchanged.
func (g *Guard) Transport(upstream string, next http.RoundTripper) http.RoundTripper {
	return &transport{g: g, upstream: upstream, next: next, retry: g.retry429[upstream]}
}

type transport struct {
	g        *Guard
	upstream string
	next     http.RoundTripper
	retry    bool
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	name, _ := tenant.CredentialName(r.Context())
	c := t.g.lookup(t.upstream, name)
	if c == nil {
		return t.next.RoundTrip(r)
	}
	done, err := c.cb.Allow()
	if err != nil {
		closeBody(r)
		t.g.m.refused(c)
		return nil, c.openErr(err)
	}
	res, sent, retries, err := t.send(r, c)
	done(outcome(r.Context(), res, err, sent))
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		// The HTTP client span around this transport (telemetry.Transport).
		span.SetAttributes(telemetry.KeyCredential.String(c.Name), telemetry.KeyRetries.Int(retries))
	}
	return res, err
}

// send waits for r's turn, sends it, and sends it again while the upstream
// answers 429 and the retry budget allows. sent reports that r left the
// gateway, retries how many times it was sent again.
func (t *transport) send(r *http.Request, c *guarded) (res *http.Response, sent bool, retries int, err error) {
	ctx := r.Context()
	if err := t.g.wait(ctx, c); err != nil {
		closeBody(r)
		return nil, false, 0, err
	}
	res, err = t.next.RoundTrip(r)
	for attempt := 0; t.retry && err == nil && res.StatusCode == http.StatusTooManyRequests && attempt < t.g.cfg.MaxRetries; attempt++ {
		buffer(res)
		again, ok, err2 := t.again(ctx, r, c, attempt)
		if !ok {
			break
		}
		res, err = again, err2
		retries++
	}
	return res, true, retries, err
}

// again sends r once more after a 429, when the request can be replayed, a
// backoff and a turn in line have passed and the budget gave a token; ok
// false means nothing was sent (the 429 stays the answer).
func (t *transport) again(ctx context.Context, r *http.Request, c *guarded, attempt int) (res *http.Response, ok bool, err error) {
	if (r.Body != nil && r.Body != http.NoBody && r.GetBody == nil) || c.Rate <= 0 {
		return nil, false, nil
	}
	// A 429 the pace did not prevent comes from someone else using the
	// token: do not hit it again at once.
	backoff := 100 * time.Millisecond << attempt
	if !t.g.sleep(ctx, backoff/2+rand.N(backoff/2+1)) {
		return nil, false, nil
	}
	v, d, err := t.g.pace.take(ctx, c, true)
	if err != nil || v != granted {
		t.g.m.retried(c, "refused")
		return nil, false, nil
	}
	t.g.m.waited(c, d)
	if !t.g.sleep(ctx, d) {
		return nil, false, nil
	}
	r2 := r.Clone(ctx)
	if r.GetBody != nil {
		if r2.Body, err = r.GetBody(); err != nil {
			return nil, false, nil
		}
	}
	t.g.m.retried(c, "sent")
	res, err = t.next.RoundTrip(r2)
	return res, true, err
}

// wait takes c's next send time and sleeps until it; an error means the
// request must not be sent. A request that wakes up more than half the
// margin after its turn (the process stalled: CPU throttling, a long pause)
// takes a new turn, up to twice, rather than leave together with the other
// late ones.
func (g *Guard) wait(ctx context.Context, c *guarded) error {
	if c.Rate <= 0 {
		return nil
	}
	for retake := 0; ; retake++ {
		v, d, err := g.pace.take(ctx, c, false)
		if err != nil {
			g.m.paceErrors.WithLabelValues(c.Upstream).Inc()
		}
		if v == tooLate {
			g.m.paced(c)
			return c.pacedErr(d, g.cfg.MaxWait)
		}
		g.m.waited(c, d)
		due := time.Now().Add(d)
		if !g.sleep(ctx, d) {
			return fmt.Errorf("upstreamguard: waiting for a turn under the rate of %s/%s: %w", c.Upstream, c.Name, context.Cause(ctx))
		}
		if retake == 2 || time.Since(due) <= g.cfg.Margin/2 {
			return nil
		}
		g.m.late.WithLabelValues(c.Upstream).Inc()
	}
}

// pacedErr is the 429 of a request whose turn would come after delay,
// more than maxWait away: retry once a turn is within maxWait.
func (c *guarded) pacedErr(delay, maxWait time.Duration) *apperr.Error {
	retry := max(time.Second, (delay-maxWait+time.Second-1)/time.Second*time.Second)
	resets := time.Now().Add(retry).UTC().Format(time.RFC3339)
	return &apperr.Error{Kind: apperr.QuotaExceeded, Type: "quota-exceeded", Title: "Quota exceeded", Upstream: c.Upstream,
		Detail: fmt.Sprintf("%s allows %d requests a second with the credential this tenant uses, and this call would wait more than %s for its turn; nothing was sent",
			c.title(), c.Rate, maxWait),
		RetryAfter: retry,
		Extensions: map[string]any{
			"violated-policies": []string{c.Upstream + ".rate.second.credential"},
			"scope":             "credential",
			"family":            "rate",
			"resets_at":         resets,
		},
		Err: fmt.Errorf("%w: %s credential %s: turn in %s", ErrPaced, c.Upstream, c.Name, delay)}
}

// buffer reads a (small) error answer into memory and closes its
// connection's body, so the answer can still be returned after a retry
// was tried.
func buffer(res *http.Response) {
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	_ = res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(b))
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
