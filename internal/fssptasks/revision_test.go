package fssptasks_test

import (
	"context"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/fssptasks"
)

// TestRevision: every save counts one more revision, and every read of one
// saved state carries the same revision, whoever reads it and however.
func TestRevision(t *testing.T) {
	cfg := simConfig()
	cfg.QueueFor, cfg.RunFor = 0, 0
	st := &stalling{}
	st.running.Store(2) // two saves while running, then the final one
	v := newEnv(t, cfg, st.wrap)
	task := submit(t, v.e, submission(tenantA, fssptasks.KindIP, ip("1/21/77001-ИП")))
	if task.Revision() != 0 {
		t.Errorf("submitted task revision = %d, want 0", task.Revision())
	}
	got, err := v.e.Get(context.Background(), tenantA, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Final() {
		t.Fatalf("task final at once, want it running for two polls")
	}
	first := got.Revision()
	final := waitFinal(t, v.e, tenantA, task.ID)
	if final.Revision() <= first || final.Revision() < 3 {
		t.Errorf("final revision = %d (first read %d), want one per save: at least 3 and more than the first read", final.Revision(), first)
	}
	again, err := v.e.Wait(context.Background(), tenantA, task.ID, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if again.Revision() != final.Revision() || !again.UpdatedAt.Equal(final.UpdatedAt) {
		t.Errorf("a later read of the final task = revision %d, want %d", again.Revision(), final.Revision())
	}
}
