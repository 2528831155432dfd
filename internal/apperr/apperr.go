// Package apperr defines the gateway's one error type: a semantic kind plus the
// client-safe details of a failure. Packages below the handlers return *Error
// (or wrap one); internal/handlers turns it into an RFC 9457 problem in exactly
// one place. Nothing here knows about HTTP status codes.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kind classifies an error by what the client should do about it.
type Kind int

// The kinds of failure the gateway distinguishes.
const (
	Internal         Kind = iota // a bug or an unexpected failure; details are never shown
	Invalid                      // the request is malformed; Fields names what is wrong
	MethodNotAllowed             // the path exists, the method does not
	Unauthenticated              // no or unknown tenant key
	Forbidden                    // the tenant may not do this
	NotFound                     // the resource does not exist (or is not visible to the tenant)
	Conflict                     // the request conflicts with one in flight or with state
	Gone                         // the resource existed but expired
	Unprocessable                // well-formed but semantically refused (e.g. idempotency key reuse)
	TooLarge                     // the request body is over the limit
	LengthRequired               // a streamed body must declare its length
	QuotaExceeded                // a quota or rate limit has no room
	NotImplemented               // the operation is in the contract but not built yet
	Unavailable                  // a dependency (Redis, upstream) is unavailable; retry later
	UpstreamFailed               // the upstream answered with an error or garbage
	UpstreamTimeout              // the upstream did not answer in time
	RequestTimeout               // the client did not send its request in time
)

var kindNames = [...]string{
	Internal: "internal", Invalid: "invalid", MethodNotAllowed: "method_not_allowed", Unauthenticated: "unauthenticated",
	Forbidden: "forbidden", NotFound: "not_found", Conflict: "conflict", Gone: "gone",
	Unprocessable: "unprocessable", TooLarge: "too_large", LengthRequired: "length_required", QuotaExceeded: "quota_exceeded",
	NotImplemented: "not_implemented", Unavailable: "unavailable",
	UpstreamFailed: "upstream_failed", UpstreamTimeout: "upstream_timeout",
	RequestTimeout: "request_timeout",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// FieldError names one invalid input. Field is a JSON-pointer-like path
// ("body.topics", "query.wait", "path.topic").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a failure with a kind and client-safe details. Detail, Fields,
// Type, Title and Extensions are shown to clients; Err is only logged.
type Error struct {
	Kind       Kind
	Type       string         // problem type slug, e.g. "quota-exceeded"; empty: derived from Kind
	Title      string         // short summary; empty: derived from Kind
	Detail     string         // client-safe explanation; never contains secrets
	Fields     []FieldError   // for Invalid
	Upstream   string         // "garant", "fssp", "fips" when the upstream is involved
	RetryAfter time.Duration  // > 0 adds a Retry-After header
	Header     http.Header    // client-safe header fields sent with the answer (a quota's RateLimit fields)
	Extensions map[string]any // extra problem members (RFC 9457 §3.2)
	Err        error          // the cause, for logs only
}

func (e *Error) Error() string {
	msg := e.Kind.String()
	if e.Upstream != "" {
		msg = e.Upstream + ": " + msg
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with a client-safe detail.
func New(k Kind, detail string) *Error { return &Error{Kind: k, Detail: detail} }

// Errorf is New with formatting.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Detail: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k whose cause is err (kept for logs only).
func Wrap(k Kind, detail string, err error) *Error {
	return &Error{Kind: k, Detail: detail, Err: err}
}

// InvalidField is an Invalid error naming one field.
func InvalidField(field, message string) *Error {
	return &Error{Kind: Invalid, Detail: field + ": " + message,
		Fields: []FieldError{{Field: field, Message: message}}}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// KindOf returns the kind of err: the kind of the *Error in its chain, or
// Internal when there is none.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return Internal
}
