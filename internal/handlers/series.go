package handlers

import (
	"slices"
	"strconv"

	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/tenant"
)

// requestSeries lists the label sets of gateway_http_requests_total that the
// contract and the tenants allow: per operation, each documented status code
// for each tenant that may call it (a tenant without the operation's
// upstream credential only gets 403), and 401 without a tenant for an
// authenticated operation; an operation open to all answers without a
// tenant.
func requestSeries(ops *operationIndex, tenants *tenant.Registry) []metrics.Series {
	var out []metrics.Series
	for _, op := range ops.byRoute {
		var codes []string
		for code := range op.route.Operation.Responses.Map() {
			if _, err := strconv.Atoi(code); err == nil {
				codes = append(codes, code)
			}
		}
		slices.Sort(codes)
		if !op.authenticated {
			for _, c := range codes {
				out = append(out, metrics.Series{Operation: op.id, Code: c})
			}
			continue
		}
		out = append(out, metrics.Series{Operation: op.id, Code: "401"})
		for _, t := range tenants.Tenants() {
			if _, ok := t.Credential(op.upstream); op.upstream != "" && !ok {
				out = append(out, metrics.Series{Operation: op.id, Code: "403", Tenant: t.ID})
				continue
			}
			for _, c := range codes {
				if c != "401" {
					out = append(out, metrics.Series{Operation: op.id, Code: c, Tenant: t.ID})
				}
			}
		}
	}
	return out
}
