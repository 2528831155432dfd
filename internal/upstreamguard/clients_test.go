package upstreamguard_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fips"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
	"github.com/legalgate/legalgate/internal/upstreamguard"
)

// guardFor guards one credential of upstream, no pacing, opening after 3
// failures.
func guardFor(t *testing.T, upstream, name string) *upstreamguard.Guard {
	t.Helper()
	g, err := upstreamguard.New(nil, upstreamguard.Config{Failures: 3,
		Credentials: []upstreamguard.Credential{{Upstream: upstream, Name: name}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestFIPSClientBehindTheGuard: the FIPS client names its credential on
// every request, so a failing FIPS opens that credential's breaker; the
// refusals reach the caller unchanged, as calls FIPS never saw (no
// ErrOutcomeUnknown: an idempotent create may be retried).
func TestFIPSClientBehindTheGuard(t *testing.T) {
	sim := fipssim.New(fipssim.DefaultConfig())
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	g := guardFor(t, "fips", "fips-legal")
	c, err := fips.New(fips.Config{BaseURL: srv.URL + fipssim.Prefix, Timeout: 5 * time.Second, OnRejected: func(string) {},
		Transport: g.Transport("fips", http.DefaultTransport)})
	if err != nil {
		t.Fatal(err)
	}
	cred := &tenant.Credential{Name: "fips-legal", Upstream: "fips", Secret: tenant.NewSecret("demo-fips-key")}
	ctx := redistest.Ctx(t, 30*time.Second)
	sim.Kit.SetFault(&simkit.Fault{Status: 500})
	var last error
	for range 10 {
		_, last = c.ListApplications(ctx, cred, fips.ListOptions{})
	}
	if n := sim.Kit.Calls.Total(); n != 3 {
		t.Errorf("FIPS saw %d calls, want the 3 that opened the breaker", n)
	}
	if e, ok := apperr.As(last); !ok || e.Kind != apperr.Unavailable || e.RetryAfter <= 0 ||
		!errors.Is(last, upstreamguard.ErrOpen) || errors.Is(last, fips.ErrOutcomeUnknown) {
		t.Errorf("a call while open = %v, want the breaker's 503 with Retry-After and no unknown outcome", last)
	}
}

// TestFSSPClientBehindTheGuard: the same for FSSP, whose token travels in
// the query string: the refusal carries no URL.
func TestFSSPClientBehindTheGuard(t *testing.T) {
	sim := fsspsim.New(fsspsim.DefaultConfig())
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	g := guardFor(t, "fssp", "fssp-main")
	c, err := fssp.New(fssp.Config{BaseURL: srv.URL, Timeout: 5 * time.Second, Transport: g.Transport("fssp", http.DefaultTransport)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenant.WithCredential(redistest.Ctx(t, 30*time.Second), "fssp-main")
	sim.Kit.SetFault(&simkit.Fault{Reset: true})
	var last error
	for range 10 {
		_, last = c.Status(ctx, tenant.NewSecret(fsspsim.DemoToken), "00000000-0000-0000-0000-000000000000")
	}
	if n := sim.Kit.Calls.Total(); n != 3 {
		t.Errorf("FSSP saw %d calls, want the 3 that opened the breaker", n)
	}
	if e, ok := apperr.As(last); !ok || e.Kind != apperr.Unavailable || !errors.Is(last, upstreamguard.ErrOpen) {
		t.Errorf("a call while open = %v, want the breaker's 503", last)
	}
	if msg := last.Error(); strings.Contains(msg, fsspsim.DemoToken) || strings.Contains(msg, "http://") {
		t.Errorf("the refusal %q carries the token or a URL", msg)
	}
	// A call without a credential in its context is not guarded.
	if _, err := c.Status(context.Background(), tenant.NewSecret(fsspsim.DemoToken), "x"); errors.Is(err, upstreamguard.ErrOpen) {
		t.Errorf("a call naming no credential = %v, want it sent", err)
	}
}
