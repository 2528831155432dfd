package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
)

// ProblemTypeBase prefixes every problem type slug.
const ProblemTypeBase = "https://legalgate.dev/problems/"

// kindStatus is the one table that turns error kinds into HTTP statuses.
var kindStatus = map[apperr.Kind]int{
	apperr.Internal:         http.StatusInternalServerError,
	apperr.Invalid:          http.StatusBadRequest,
	apperr.MethodNotAllowed: http.StatusMethodNotAllowed,
	apperr.Unauthenticated:  http.StatusUnauthorized,
	apperr.Forbidden:        http.StatusForbidden,
	apperr.NotFound:         http.StatusNotFound,
	apperr.Conflict:         http.StatusConflict,
	apperr.Gone:             http.StatusGone,
	apperr.Unprocessable:    http.StatusUnprocessableEntity,
	apperr.TooLarge:         http.StatusRequestEntityTooLarge,
	apperr.LengthRequired:   http.StatusLengthRequired,
	apperr.QuotaExceeded:    http.StatusTooManyRequests,
	apperr.NotImplemented:   http.StatusNotImplemented,
	apperr.Unavailable:      http.StatusServiceUnavailable,
	apperr.UpstreamFailed:   http.StatusBadGateway,
	apperr.UpstreamTimeout:  http.StatusGatewayTimeout,
	apperr.RequestTimeout:   http.StatusRequestTimeout,
}

// kindSlug is the default problem type of each kind.
var kindSlug = map[apperr.Kind]string{
	apperr.Internal: "internal", apperr.Invalid: "invalid-request", apperr.MethodNotAllowed: "method-not-allowed", apperr.Unauthenticated: "unauthenticated",
	apperr.Forbidden: "forbidden", apperr.NotFound: "not-found", apperr.Conflict: "conflict",
	apperr.Gone: "gone", apperr.Unprocessable: "unprocessable", apperr.TooLarge: "too-large", apperr.LengthRequired: "length-required",
	apperr.QuotaExceeded: "quota-exceeded", apperr.NotImplemented: "not-implemented",
	apperr.Unavailable: "unavailable", apperr.UpstreamFailed: "upstream-failed",
	apperr.UpstreamTimeout: "upstream-timeout",
	apperr.RequestTimeout:  "request-timeout",
}

// problem is an RFC 9457 problem document.
type problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail,omitempty"`
	Instance  string              `json:"instance"`
	RequestID string              `json:"request_id"`
	TraceID   string              `json:"trace_id,omitempty"`
	Upstream  string              `json:"upstream,omitempty"`
	Errors    []apperr.FieldError `json:"errors,omitempty"`
	ext       map[string]any
}

func (p problem) MarshalJSON() ([]byte, error) {
	type plain problem
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.ext) == 0 {
		return b, err
	}
	extra, err := json.Marshal(p.ext)
	if err != nil {
		return nil, err
	}
	// Splice the extension members into the object.
	out := append(b[:len(b)-1], ',')
	return append(out, extra[1:]...), nil
}

// StatusOf returns the HTTP status an error is answered with.
func StatusOf(err error) int {
	if s, ok := kindStatus[apperr.KindOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// writeError answers err as a problem document. Internal details never leave
// the process: they are logged with the request id.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		err = apperr.Errorf(apperr.TooLarge, "the request body is larger than %d bytes", maxErr.Limit)
	}
	info := infoFrom(r.Context())
	p, e := problemOf(err, info)
	status := p.Status
	logFailure(r.Context(), log, info, status, e, err)
	errorHeader(w.Header(), e)
	info.errKind = e.Kind.String()
	if garantNative(r.Context()) {
		garantError(w, p, e)
		return
	}
	writeProblem(w, p)
}

// errorHeader sets the header fields of an answer to e, whatever its body's
// shape: WWW-Authenticate for a missing or wrong key, Retry-After, and the
// fields e carries (a quota's RateLimit fields).
func errorHeader(h http.Header, e *apperr.Error) {
	if e.Kind == apperr.Unauthenticated {
		h.Set("WWW-Authenticate", `Bearer realm="legalgate"`)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	for k, v := range e.Header {
		h[k] = v
	}
}

// nativeFailure is what an upstream-shaped answer (the /compat routes)
// needs of err: its apperr form (Internal when it has none) and the status
// errors.go gives its kind. It logs the failure as writeError does and
// records the kind for the access log.
func nativeFailure(r *http.Request, log *slog.Logger, err error) (*apperr.Error, int) {
	info := infoFrom(r.Context())
	e, ok := apperr.As(err)
	if !ok {
		e = &apperr.Error{Kind: apperr.Internal, Err: err}
	}
	status := StatusOf(e)
	logFailure(r.Context(), log, info, status, e, err)
	info.errKind = e.Kind.String()
	return e, status
}

// logFailure logs a request answered with a problem of status for err
// (its apperr form e) when the failure is the gateway's or an upstream's:
// a 5xx, or an error with an underlying cause. A client's own mistake is
// not logged beyond the access log.
func logFailure(ctx context.Context, log *slog.Logger, info *reqInfo, status int, e *apperr.Error, err error) {
	if status >= 500 || e.Err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "request failed",
			slog.String("request_id", info.id), slog.String("trace_id", info.traceID), slog.String("tenant", info.tenant),
			slog.String("operation", info.operation), slog.Int("status", status),
			slog.String("error", err.Error()))
	}
}

// recovered logs a panic (v) of the request with id, with its stack, and
// returns the error it is answered with.
func recovered(log *slog.Logger, id string, v any) error {
	log.Error("panic", "request_id", id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	return apperr.Wrap(apperr.Internal, "", fmt.Errorf("panic: %v", v))
}

// problemOf builds the problem document of err for the request of info
// (its request id, and its trace id when traced), and returns the
// *apperr.Error it was built from (an Internal
// one when err has none). Every error becomes a problem here, including the
// failed items of a 207.
func problemOf(err error, info *reqInfo) (problem, *apperr.Error) {
	e, ok := apperr.As(err)
	if !ok {
		e = &apperr.Error{Kind: apperr.Internal, Err: err}
	}
	status := StatusOf(e)
	p := problem{
		Type:      ProblemTypeBase + kindSlug[e.Kind],
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    e.Detail,
		RequestID: info.id,
		TraceID:   info.traceID,
		Instance:  "urn:legalgate:request:" + info.id,
		Upstream:  e.Upstream,
		Errors:    e.Fields,
		ext:       e.Extensions,
	}
	if e.Type != "" {
		p.Type = ProblemTypeBase + e.Type
	}
	if e.Title != "" {
		p.Title = e.Title
	}
	if e.Kind == apperr.Internal {
		p.Detail = "an internal error occurred; quote the request id when reporting it"
	}
	return p, e
}

func writeProblem(w http.ResponseWriter, p problem) {
	b, err := json.Marshal(p)
	if err != nil {
		b = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	_, _ = w.Write(b)
}
