package handlers

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	apispec "github.com/legalgate/legalgate/api"
	"github.com/legalgate/legalgate/internal/ops"
)

// TestGarantCompatRoutesMatchContract: every route of garantCompatRoutes is
// an operation of the contract (tag compat-garant, at GarantCompatPrefix +
// the route) whose x-gateway served_by names the /v1 operation the route is
// rewritten to, and the contract has no compat-garant operation that
// routes.go does not serve.
func TestGarantCompatRoutesMatchContract(t *testing.T) {
	spec, err := openapi3.NewLoader().LoadFromData(apispec.YAML)
	if err != nil {
		t.Fatal(err)
	}
	spec.Servers = nil
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		t.Fatal(err)
	}
	table, err := ops.Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]*ops.Operation{} // "METHOD /v2/…" → operation
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if slices.Contains(op.Tags, "compat-garant") {
				o, _ := table.Get(ops.ID(op.OperationID))
				documented[method+" "+strings.TrimPrefix(path, GarantCompatPrefix)] = o
			}
		}
	}
	routes := garantCompatRoutes()
	for pattern, target := range routes {
		o, ok := documented[pattern]
		if !ok {
			t.Errorf("route %s %s is not an operation of the contract (tag compat-garant)", GarantCompatPrefix, pattern)
			continue
		}
		method, _, _ := strings.Cut(pattern, " ")
		filled := target
		for strings.Contains(filled, "{") {
			i := strings.IndexByte(filled, '{')
			j := strings.IndexByte(filled, '}')
			filled = filled[:i] + "1" + filled[j+1:]
		}
		route, _, err := router.FindRoute(httptest.NewRequest(method, filled, nil))
		if err != nil {
			t.Errorf("route %s is rewritten to %s %s, which is no operation of the contract: %v", pattern, method, target, err)
			continue
		}
		if got := ops.ID(route.Operation.OperationID); o.ServedBy != got {
			t.Errorf("%s (%s) says served_by %s, but routes.go rewrites it to %s (%s)", o.ID, pattern, o.ServedBy, target, got)
		}
	}
	for pattern, o := range documented {
		if _, ok := routes[pattern]; !ok {
			t.Errorf("the contract's %s (%s%s) is not a route of garantCompatRoutes", o.ID, GarantCompatPrefix, strings.TrimPrefix(pattern, o.Method+" "))
		}
	}
	if len(routes) != 18 {
		t.Errorf("%d Garant routes, want the 18 Garant methods the gateway serves", len(routes))
	}
}
