package fssptasks_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
	"github.com/legalgate/legalgate/internal/upstreamguard"
)

// TestPollerWaitsOutAnOpenBreaker: the poller's calls name the task's
// credential, so FSSP failing its polls opens the credential's breaker;
// while it is open no poll is sent and none counts against the task (which
// would otherwise fail after three), and once FSSP recovers the probe's
// success lets the task finish.
func TestPollerWaitsOutAnOpenBreaker(t *testing.T) {
	v := newEnv(t, simConfig(), nil)
	v.stop() // this test's engine polls alone
	const openFor = 400 * time.Millisecond
	g, err := upstreamguard.New(nil, upstreamguard.Config{Failures: 2, OpenFor: openFor,
		Credentials: []upstreamguard.Credential{{Upstream: "fssp", Name: cred}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := fssp.New(fssp.Config{BaseURL: v.url, Timeout: time.Second, Transport: g.Transport("fssp", http.DefaultTransport)})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := v.run(fssptasks.New(v.rdb, client, nil, fastConfig(v.clock), prometheus.NewRegistry(), quiet()))

	v.sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/status", Status: 503})
	task := submit(t, e, submission(tenantA, fssptasks.KindPhysical, physical(77, "ИВАНОВ", "ИВАН")))
	deadline := time.Now().Add(5 * time.Second)
	for g.Check("fssp", cred) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the breaker did not open within 5s of FSSP failing every poll")
		}
		time.Sleep(5 * time.Millisecond)
	}
	polls := v.sim.Kit.Calls.Get("GET /status")
	time.Sleep(openFor / 2) // several poll intervals, all refused
	if got := v.sim.Kit.Calls.Get("GET /status"); got != polls {
		t.Errorf("FSSP saw %d polls while the breaker was open, want none", got-polls)
	}
	v.sim.Kit.SetFault(nil)
	if got := waitFinal(t, e, tenantA, task.ID); got.Status != fssptasks.Succeeded {
		t.Errorf("task after FSSP recovered = %s (%+v), want succeeded", got.Status, got.Error)
	}
}
