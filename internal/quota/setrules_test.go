package quota

import (
	"testing"

	"github.com/legalgate/legalgate/internal/redistest"
)

// TestSetRules: a reload raises alpha's allocation from 10 to 12 while its
// 10 are spent: the exhaustion remembered in memory is forgotten, two more
// pass and the counter in Redis is kept (the 13th is refused); a lowered
// limit refuses at once.
func TestSetRules(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	e := newEngine(t, rdb, Config{Rules: sharedRules(), Now: newClock(feb1()).Now, Jitter: -1})
	mustReserve(t, e, alphaExport, 10)
	_, err := e.Reserve(ctxT(t), alphaExport)
	rejected(t, "Reserve(alpha #11)", err)

	raised := []Rule{
		credRule("garant", FamilyExport, PeriodMonth, 30),
		tenantRule("alpha", "garant", FamilyExport, PeriodMonth, 12),
	}
	if err := e.SetRules(raised, nil); err != nil {
		t.Fatalf("SetRules(alpha 12) = %v, want nil", err)
	}
	mustReserve(t, e, alphaExport, 2)
	_, err = e.Reserve(ctxT(t), alphaExport)
	rejected(t, "Reserve(alpha #13) after the raise to 12", err)

	if err := e.SetRules([]Rule{credRule("garant", FamilyExport, PeriodMonth, 5)}, nil); err != nil {
		t.Fatalf("SetRules(credential 5) = %v, want nil", err)
	}
	_, err = e.Reserve(ctxT(t), betaExport)
	if ae := rejected(t, "Reserve(beta) under a credential limit lowered to 5", err); ae.Extensions["scope"] != "credential" {
		t.Errorf("Reserve(beta) scope = %v, want credential", ae.Extensions["scope"])
	}
	if err := e.SetRules([]Rule{{Scope: "nonsense"}}, nil); err == nil {
		t.Errorf("SetRules(a bad rule) = nil, want an error")
	}
}
