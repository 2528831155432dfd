package fips

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/tenant"
)

// ErrOutcomeUnknown is in the chain of an error of a call that FIPS may have
// carried out although no success answer came back.
var ErrOutcomeUnknown = errors.New("fips may have carried out the request")

// outcomeUnknown marks cause as the failure of a call FIPS may have carried out.
func outcomeUnknown(cause error) error { return fmt.Errorf("%w (%w)", cause, ErrOutcomeUnknown) }

// transportError classifies a failure to get any answer. A refusal of the
// transport itself (an *apperr.Error: the upstream guard's open breaker or
// pace) is passed on: nothing was sent. Otherwise only a failure to
// connect proves that FIPS never saw the request; anything later (a timeout,
// a reset) leaves the outcome unknown. err never carries the key: it is in a
// header, not in the URL.
func transportError(ctx context.Context, op string, err error) error {
	if e, ok := apperr.As(err); ok { // the transport's own refusal (internal/upstreamguard): nothing was sent
		return e
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) { // the caller's body: FIPS never got a complete request
		return apperr.Errorf(apperr.TooLarge, "the request body is larger than %d bytes", tooBig.Limit)
	}
	cause := fmt.Errorf("fips: %s: %w", op, err)
	var opErr *net.OpError
	if !errors.As(err, &opErr) || opErr.Op != "dial" {
		cause = outcomeUnknown(cause)
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
		return &apperr.Error{Kind: apperr.UpstreamTimeout, Upstream: Upstream,
			Detail: "FIPS did not answer in time", Err: cause}
	}
	return &apperr.Error{Kind: apperr.UpstreamFailed, Upstream: Upstream,
		Detail: "FIPS could not be reached", Err: cause}
}

// StatusError is in the chain of an error answer of FIPS: its status.
type StatusError struct {
	Op     string
	Status int
}

func (e *StatusError) Error() string { return fmt.Sprintf("fips: %s: status %d", e.Op, e.Status) }

// StatusOf is the HTTP status FIPS answered in err's chain; without one,
// 504 for a timeout and 502 otherwise (no answer, or one that could not be
// read).
func StatusOf(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	if e, ok := apperr.As(err); ok && e.Kind == apperr.UpstreamTimeout {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// Finding is one error FIPS reports, typically a failed format-logical check
// (ФЛК): Field is FIPS's name for the input (an XML path for statements).
type Finding struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Failure is the body of a FIPS error answer.
type Failure struct {
	Message string    `json:"message"`
	Errors  []Finding `json:"errors"`
}

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 64 << 10

// statusError turns a non-2xx answer into an *apperr.Error.
func (c *Client) statusError(cred *tenant.Credential, op string, res *http.Response) error {
	var f Failure
	if strings.Contains(res.Header.Get("Content-Type"), "json") {
		_ = json.NewDecoder(io.LimitReader(res.Body, maxErrorBody)).Decode(&f)
	}
	var cause error = &StatusError{Op: op, Status: res.StatusCode}
	if res.StatusCode >= 500 && res.StatusCode != http.StatusServiceUnavailable {
		cause = outcomeUnknown(cause) // 503 says "not now"; other 5xx may come after the work was done
	}
	return c.failureError(cred, res.StatusCode, f, res.Header.Get("Retry-After"), cause)
}

// failureError maps a FIPS status and error body to an *apperr.Error; it is
// also used for the failed items of a 207.
func (c *Client) failureError(cred *tenant.Credential, status int, f Failure, retryAfter string, cause error) *apperr.Error {
	e := &apperr.Error{Upstream: Upstream, Detail: f.Message, Err: cause}
	if len(f.Errors) > 0 {
		e.Extensions = map[string]any{"upstream_errors": f.Errors}
		for _, x := range f.Errors {
			e.Fields = append(e.Fields, apperr.FieldError{Field: x.Field, Message: x.Message})
		}
	}
	with := func(detail string) string {
		if f.Message == "" {
			return detail
		}
		return detail + ": " + f.Message
	}
	switch {
	case status == http.StatusBadRequest:
		e.Kind, e.Type, e.Title = apperr.Invalid, "fips-check-failed", "FIPS checks failed"
		e.Detail = with("FIPS refused the request")
	case status == http.StatusUnauthorized:
		c.rejected(cred.Name)
		e.Kind, e.Fields, e.Extensions = apperr.UpstreamFailed, nil, nil
		e.Type, e.Title = "upstream-credential-rejected", "Upstream credential rejected"
		e.Detail = "FIPS rejected the tenant's FIPS API key (credential " + cred.Name +
			"): it expired or was revoked; generate a new key in the FIPS cabinet (Settings → API) and update the gateway's credential"
	case status == http.StatusForbidden || status == http.StatusNotFound:
		// Another account's resource (FIPS: 403, neither author nor trustee)
		// answers exactly as a missing one: ids are sequential, and telling
		// the two apart would let a tenant enumerate everyone's filings.
		// FIPS's own message and findings differ between the two, so neither
		// is passed on (the cause, logged, keeps the status).
		e.Kind, e.Detail, e.Fields, e.Extensions = apperr.NotFound, notVisible, nil, nil
	case status == http.StatusConflict:
		e.Kind, e.Detail = apperr.Conflict, with("FIPS refused the request in the resource's current state")
	case status == http.StatusRequestEntityTooLarge:
		e.Kind, e.Detail = apperr.TooLarge, with("FIPS refused the content as too large")
	case status == http.StatusUnsupportedMediaType:
		e.Kind, e.Detail = apperr.Invalid, with("FIPS refused the content type")
	case status == http.StatusUnprocessableEntity:
		e.Kind, e.Detail = apperr.Unprocessable, with("FIPS refused the request")
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		e.Kind, e.Detail = apperr.Unavailable, "FIPS is busy or unavailable; retry later"
		if d, err := time.ParseDuration(strings.TrimSpace(retryAfter) + "s"); err == nil && d > 0 {
			e.RetryAfter = d
		}
	case status == http.StatusGatewayTimeout:
		e.Kind, e.Detail = apperr.UpstreamTimeout, "FIPS did not answer in time"
	default:
		e.Kind, e.Fields, e.Extensions = apperr.UpstreamFailed, nil, nil
		e.Detail = fmt.Sprintf("FIPS answered %d", status)
	}
	return e
}

// notVisible is the detail of a resource FIPS does not show the tenant's
// account: missing, or another account's.
const notVisible = "FIPS has no such resource for the tenant's FIPS account"

// unreadable is the error of a 2xx answer that could not be decoded: FIPS
// did the work, so the outcome is unknown to the caller.
func unreadable(op string, err error) error {
	return &apperr.Error{Kind: apperr.UpstreamFailed, Upstream: Upstream,
		Detail: "FIPS sent an answer that could not be read", Err: outcomeUnknown(fmt.Errorf("fips: %s: decode: %w", op, err))}
}
