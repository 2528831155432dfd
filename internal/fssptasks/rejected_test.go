package fssptasks_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/tenant"
)

// TestCredentialRejected: FSSP refusing a credential's token, on a
// submission or on a poll, is told to Config.OnRejected with the
// credential's name.
func TestCredentialRejected(t *testing.T) {
	v := newEnv(t, simConfig(), nil)
	v.stop() // only the engine below polls
	var (
		mu       sync.Mutex
		rejected []string
	)
	cfg := fastConfig(v.clock)
	cfg.OnRejected = func(c string) {
		mu.Lock()
		defer mu.Unlock()
		rejected = append(rejected, c)
	}
	// fssp-revoked's token stops working after the submission.
	cfg.Tokens = func(name string) (tenant.Secret, bool) {
		if name == "fssp-revoked" {
			return tenant.NewSecret("revoked-token"), true
		}
		return token, true
	}
	e, _ := v.engine(cfg, nil)
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(rejected)
	}

	s := submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП"))
	s.Credential, s.Token = "fssp-bogus", tenant.NewSecret("not-an-fssp-token")
	if _, err := e.Submit(context.Background(), s); apperr.KindOf(err) != apperr.UpstreamFailed {
		t.Fatalf("Submit(bogus token) = %v, want upstream_failed", err)
	}
	if got := seen(); !slices.Equal(got, []string{"fssp-bogus"}) {
		t.Errorf("rejected after a refused submission = %v, want [fssp-bogus]", got)
	}

	s = submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП"))
	s.Credential = "fssp-revoked"
	task := submit(t, e, s)
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(seen(), "fssp-revoked") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := seen(); !slices.Contains(got, "fssp-revoked") {
		t.Errorf("rejected after polls with a revoked token = %v, want fssp-revoked in it", got)
	}
	if got := waitFinal(t, e, tenantA, task.ID); got.Status != fssptasks.Failed {
		t.Errorf("task polled with a revoked token = %s, want failed", got.Status)
	}

	good := submit(t, e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП")))
	waitFinal(t, e, tenantA, good.ID)
	for _, c := range seen() {
		if c == cred {
			t.Errorf("rejected = %v: the working credential %s is in it", seen(), cred)
		}
	}
}
