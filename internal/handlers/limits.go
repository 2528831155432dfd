package handlers

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/legalgate/legalgate/internal/apperr"
)

// Limits bound what one request may hold in memory and how long it may
// take. Zero fields take the defaults below.
type Limits struct {
	// BodyTimeout is the longest a request body may take to arrive, whole;
	// BodyIdleTimeout the longest between two of its reads. A streamed
	// upload (FIPS files) has no whole-body deadline: its handler cuts it
	// after an idle period of its own.
	BodyTimeout     time.Duration
	BodyIdleTimeout time.Duration
	// WriteTimeout is the longest from a request's arrival to its answer
	// written. A long poll adds its wait; a streamed download moves it with
	// every chunk; a streamed upload counts it from its last byte.
	WriteTimeout time.Duration
	// BodyBudget is the most request-body bytes held in memory at once;
	// TenantBodyBudget is the most one tenant may hold of it. A body that
	// does not fit answers 429 (the tenant's share) or 503 (the whole
	// budget), one larger than either 413.
	BodyBudget       int64
	TenantBodyBudget int64
	// StreamIdle is how long a streamed FIPS upload or download may stall
	// (no byte read from an uploading client, none accepted by a
	// downloading one) before the exchange is cut.
	StreamIdle time.Duration
}

// The defaults of Limits.
const (
	DefaultBodyTimeout      = 30 * time.Second
	DefaultBodyIdleTimeout  = 10 * time.Second
	DefaultWriteTimeout     = 90 * time.Second
	DefaultBodyBudget       = 64 << 20
	DefaultTenantBodyBudget = 32 << 20
	DefaultStreamIdle       = 30 * time.Second
)

func (l Limits) withDefaults() Limits {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&l.BodyTimeout, DefaultBodyTimeout)
	set(&l.BodyIdleTimeout, DefaultBodyIdleTimeout)
	set(&l.WriteTimeout, DefaultWriteTimeout)
	set(&l.StreamIdle, DefaultStreamIdle)
	if l.BodyBudget <= 0 {
		l.BodyBudget = DefaultBodyBudget
	}
	if l.TenantBodyBudget <= 0 {
		l.TenantBodyBudget = min(DefaultTenantBodyBudget, l.BodyBudget)
	}
	return l
}

// deadlines gives every request its write deadline and its body the body
// deadlines, and closes the connection of an HTTP/1.x request answered
// before its body was read to the end: net/http would otherwise drain the
// rest of the body first, for as long as the client takes to send it.
func deadlines(l Limits) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			now := time.Now()
			_ = rc.SetWriteDeadline(now.Add(l.WriteTimeout))
			if r.Body != nil && r.Body != http.NoBody {
				b := &timedBody{body: r.Body, rc: rc, idle: l.BodyIdleTimeout, total: l.BodyTimeout, end: now.Add(l.BodyTimeout), write: l.WriteTimeout}
				r.Body = b
				if r.ProtoMajor == 1 {
					w = &closeUnread{ResponseWriter: w, raw: w, body: b, rc: rc}
				}
				infoFrom(r.Context()).body = b
			}
			next.ServeHTTP(w, r)
		})
	}
}

// timedBody reads a request body under its deadlines: each read must
// arrive within the idle timeout and before the whole-body deadline. A
// streamed body is left to its handler's deadlines; each of its reads moves
// the write deadline instead. Reads are sequential; eof is also read by the
// goroutine that answers.
type timedBody struct {
	body   io.ReadCloser
	rc     *http.ResponseController
	idle   time.Duration
	total  time.Duration
	end    time.Time     // the whole-body deadline
	write  time.Duration // the write timeout, counted from the last byte of a streamed body
	stream bool          // a streamed upload: its handler sets the read deadlines
	eof    atomic.Bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	if b.eof.Load() {
		return 0, io.EOF
	}
	if !b.stream {
		d := time.Now().Add(b.idle)
		if d.After(b.end) {
			d = b.end
		}
		_ = b.rc.SetReadDeadline(d)
	}
	n, err := b.body.Read(p)
	if b.stream && n > 0 {
		_ = b.rc.SetWriteDeadline(time.Now().Add(b.write))
	}
	switch {
	case err == io.EOF:
		b.eof.Store(true)
		// No deadline is left behind: net/http reads on in the background
		// to notice a client that goes away, and a deadline passing there
		// would cancel the request.
		_ = b.rc.SetReadDeadline(time.Time{})
	case !b.stream && errors.Is(err, os.ErrDeadlineExceeded):
		err = &apperr.Error{Kind: apperr.RequestTimeout, Err: err, Detail: fmt.Sprintf(
			"the request body did not arrive in time (at most %s between two reads, %s in all: server.body_idle_timeout, server.body_timeout)",
			b.idle, b.total)}
	}
	return n, err
}

func (b *timedBody) Close() error { return b.body.Close() }

// closeUnread closes the connection after an answer that starts before
// the request body was read to its end, rather than letting net/http read
// the rest of the body (up to 256 KB, for as long as the client takes to
// send it) to keep the connection.
type closeUnread struct {
	http.ResponseWriter
	raw     http.ResponseWriter // the server's own writer, for http.MaxBytesReader
	body    *timedBody
	rc      *http.ResponseController
	started bool
}

// lingerProbe is how long WriteHeader waits for a byte of the unread body.
const lingerProbe = time.Millisecond

func (c *closeUnread) WriteHeader(code int) {
	if code < 200 || c.started { // 1xx informational answers, or a second call
		c.ResponseWriter.WriteHeader(code)
		return
	}
	c.started = true
	unread := !c.body.eof.Load()
	if unread {
		c.Header().Set("Connection", "close")
	}
	// Written first: a final status keeps net/http from sending 100 Continue
	// when the body is read below.
	c.ResponseWriter.WriteHeader(code)
	if !unread || c.body.stream {
		return // a streamed body's handler ends its reads itself (fipsCall.upload)
	}
	// A client still sending its body must get the answer before the
	// connection is closed under it (a close with unread bytes resets the
	// connection, and the reset can overtake the answer). net/http closes
	// with care (half-close, a pause, close) when a MaxBytesReader passes
	// its limit: one byte read through a zero limit, if one is there at
	// once, asks for that. The short deadline also ends at once net/http's
	// own read of the rest once the handler returns.
	_ = c.rc.SetReadDeadline(time.Now().Add(lingerProbe))
	var one [1]byte
	_, _ = http.MaxBytesReader(c.raw, c.body.body, 0).Read(one[:])
}

func (c *closeUnread) Write(b []byte) (int, error) {
	if !c.started {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (c *closeUnread) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// awaitDeadline moves the write deadline of w past a wait of d: a long
// poll answers after waiting up to d, then has the usual write timeout.
func awaitDeadline(w http.ResponseWriter, d time.Duration, l Limits) {
	if w != nil {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d + l.withDefaults().WriteTimeout))
	}
}

// bodyBudget is the in-flight body budget: a weighted semaphore for the
// whole gateway and one for each tenant, taken without waiting.
type bodyBudget struct {
	total, tenantShare int64
	all                *semaphore.Weighted

	mu      sync.Mutex
	tenants map[string]*semaphore.Weighted // one per configured tenant that sent a body
}

func newBodyBudget(l Limits) *bodyBudget {
	return &bodyBudget{total: l.BodyBudget, tenantShare: l.TenantBodyBudget,
		all: semaphore.NewWeighted(l.BodyBudget), tenants: map[string]*semaphore.Weighted{}}
}

// bodyRetryAfter is when a refused body may try again: bodies in flight
// are read and answered in seconds.
const bodyRetryAfter = time.Second

// acquire takes n bytes of the budget for tenant ("" for a request without
// one) and returns their release, or the problem that refuses them.
func (b *bodyBudget) acquire(tenant string, n int64) (release func(), err error) {
	if n > b.tenantShare || n > b.total {
		return nil, apperr.Errorf(apperr.TooLarge,
			"a request body of %d bytes does not fit the in-flight body budget (%d bytes per tenant, server.tenant_body_budget_mib; %d in all, server.body_budget_mib)",
			n, b.tenantShare, b.total)
	}
	b.mu.Lock()
	mine, ok := b.tenants[tenant]
	if !ok {
		mine = semaphore.NewWeighted(b.tenantShare)
		b.tenants[tenant] = mine
	}
	b.mu.Unlock()
	if !mine.TryAcquire(n) {
		return nil, &apperr.Error{Kind: apperr.QuotaExceeded, Type: "body-budget-exceeded", Title: "Too many request bodies in flight",
			RetryAfter: bodyRetryAfter, Detail: fmt.Sprintf(
				"this tenant's request bodies in flight would exceed its share of the body budget (%d bytes, server.tenant_body_budget_mib); retry once its other requests are answered",
				b.tenantShare)}
	}
	if !b.all.TryAcquire(n) {
		mine.Release(n)
		return nil, &apperr.Error{Kind: apperr.Unavailable, Type: "body-budget-exhausted", Title: "The gateway is busy",
			RetryAfter: bodyRetryAfter, Detail: fmt.Sprintf(
				"the gateway's request bodies in flight would exceed its body budget (%d bytes, server.body_budget_mib); retry shortly",
				b.total)}
	}
	return func() { b.all.Release(n); mine.Release(n) }, nil
}
