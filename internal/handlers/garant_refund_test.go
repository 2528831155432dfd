package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/upstream/garant"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

// TestGarantRefunds: a call's units are refunded when no success answer
// arrived (5xx, 429, 400, a reset connection, a timeout before the headers)
// and kept when Garant answered 2xx and the answer was then lost (malformed,
// cut short): Garant did the work and counted it.
func TestGarantRefunds(t *testing.T) {
	env := newGarantEnv(t, simConfig(), nil)
	// A short gateway timeout, so the hanging upstream costs little.
	c, err := garant.New(garant.Config{BaseURL: env.simURL, Timeout: 300 * time.Millisecond})
	must(t, err)
	env.Deps.Garant.Client = c
	topics := env.sim.Topics()

	cases := []struct {
		name   string
		fault  simkit.Fault
		export bool // an export (binary) rather than topic info (JSON)
		status int
		kept   int64 // units still spent afterwards
	}{
		{"503", simkit.Fault{Status: 503}, false, 502, 0},
		{"500 export", simkit.Fault{Status: 500}, true, 502, 0},
		{"429", simkit.Fault{Status: 429}, false, 429, 0},
		{"400", simkit.Fault{Status: 400, Body: `{"error":"bad"}`}, false, 400, 0},
		{"reset", simkit.Fault{Reset: true}, false, 502, 0},
		{"timeout", simkit.Fault{Hang: true}, false, 504, 0},
		{"timeout export", simkit.Fault{Hang: true}, true, 504, 0},
		{"malformed 200", simkit.Fault{Malformed: true}, false, 502, 1},
		{"truncated 200", simkit.Fault{Truncate: true}, false, 502, 1},
		{"truncated 200 export", simkit.Fault{Truncate: true}, true, 502, 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			family, path := quota.FamilyTopicInfo, fmt.Sprintf("/v1/garant/topics/%d", topics[i])
			if tc.export {
				family, path = quota.FamilyExport, path+"/export/pdf"
			}
			before := credentialUsed(t, env, family)
			env.sim.Kit.SetFault(&tc.fault)
			status, _, body := env.send(t, http.MethodGet, path, keyAlpha, nil)
			env.sim.Kit.SetFault(nil)
			if status != tc.status {
				t.Fatalf("GET %s (%s) = %d, want %d; body %s", path, tc.name, status, tc.status, body)
			}
			if got := credentialUsed(t, env, family) - before; got != tc.kept {
				t.Errorf("GET %s (%s): %s units spent = %d, want %d", path, tc.name, family, got, tc.kept)
			}
		})
	}
}

// credentialUsed is the monthly units of family the test credential has spent.
func credentialUsed(t *testing.T, env *garantEnv, family string) int64 {
	t.Helper()
	u, err := env.Deps.Quotas.Quota.Usage(context.Background(), "alpha", map[string]string{"garant": "garant-test"})
	must(t, err)
	for _, x := range u {
		if x.Family == family && x.Scope == quota.ScopeCredential && x.Period == quota.PeriodMonth {
			return x.Used
		}
	}
	t.Fatalf("no monthly credential quota of %s in %+v", family, u)
	return 0
}
