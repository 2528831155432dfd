package handlers

import (
	"errors"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// denied handles Garant's 403: the credential lacks the permission for the
// request (the document's error table, for every method; on Proxima also a
// document outside the internal-documents base). The answer is a 403
// naming the Garant method and the credential; the call's units were
// refunded (Garant did no work) and the refusal is counted in the
// credential metrics.
func (c *garantCall) denied(upstreamErr error) error {
	method := c.op
	var he *garant.HTTPError
	if errors.As(upstreamErr, &he) {
		method = he.Method
	}
	c.g.Metrics.CredentialDeniedNow(garant.Upstream, c.cred.Name, method)
	detail := "Garant refused " + method + " to credential " + c.cred.Name +
		": the credential lacks the permission for this request (ask Garant to extend the token's rights)"
	if c.g.Client.Proxima() {
		detail += ", or the document is outside Garant Proxima's internal-documents base"
	}
	return &apperr.Error{Kind: apperr.Forbidden, Upstream: garant.Upstream,
		Type: "upstream-permission-denied", Title: "Upstream permission denied", Detail: detail,
		Extensions: map[string]any{"permission": method, "credential": c.cred.Name}, Err: upstreamErr}
}

// unparsed counts a value of the answer passed on raw because it could not
// be parsed.
func (c *garantCall) unparsed(field string) {
	c.g.Metrics.UnparsedValue(garant.Upstream, c.op, field)
}
