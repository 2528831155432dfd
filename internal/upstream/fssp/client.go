// Package fssp is the client of the FSSP BDIP public API v1.0
// (https://api-ip.fssprus.ru/api/v1.0, later api-ip.fssp.gov.ru; the base URL
// is configuration). It submits searches, reads task status and results, and
// normalises the upstream's string records (records.go). Validation helpers
// (query.go) let callers refuse bad input before anything is sent.
//
// Every failure is an *apperr.Error with Upstream "fssp": 429 (HTTP status or
// any 42x code in the JSON body) is QuotaExceeded, a quota-exceeded problem
// with a RetryAfter and the extensions of the gateway's own quota problems
// (scope, family, violated-policies, resets_at); an expired or unknown task
// is Gone (ErrTaskGone in its chain), a timeout is UpstreamTimeout, and
// anything else (unreachable, 5xx, HTML, garbage, a rejected token) is
// UpstreamFailed; a rejected token has ErrCredentialRejected in its chain. The token travels in the query string of GET calls, so no
// error ever carries a request URL: *url.Error is unwrapped to its cause.
package fssp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/tenant"
)

// Upstream is the upstream name used in errors and metrics.
const Upstream = "fssp"

// ErrTaskGone is in the chain of the error for a task FSSP does not know
// (never existed, or its results expired).
var ErrTaskGone = errors.New("fssp: task not found or expired")

// ErrCredentialRejected is in the chain of the error of an answer saying
// the token is invalid (code 401).
var ErrCredentialRejected = errors.New("fssp: credential rejected")

// Config configures a Client.
type Config struct {
	BaseURL   string            // e.g. https://api-ip.fssp.gov.ru/api/v1.0
	Transport http.RoundTripper // nil: http.DefaultTransport (wrap it with metrics.Upstream.Transport)
	Timeout   time.Duration     // per call; 0: 15 s
	MaxBody   int64             // largest answer read; 0: 16 MiB
}

// Client calls the FSSP API. It is safe for concurrent use.
type Client struct {
	base    string
	hc      *http.Client
	timeout time.Duration
	maxBody int64
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("fssp: base URL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	rt := cfg.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c := &Client{
		base:    strings.TrimSuffix(cfg.BaseURL, "/"),
		hc:      &http.Client{Transport: rt, CheckRedirect: noRedirect},
		timeout: cfg.Timeout,
		maxBody: cfg.MaxBody,
	}
	if c.timeout <= 0 {
		c.timeout = 15 * time.Second
	}
	if c.maxBody <= 0 {
		c.maxBody = 16 << 20
	}
	return c, nil
}

// noRedirect keeps the token from being sent to another host.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Search submits a single search (physical, legal or ip) and returns the
// upstream task id.
func (c *Client) Search(ctx context.Context, token tenant.Secret, q Query) (string, error) {
	path, op := "", ""
	switch q.Type {
	case TypePhysical:
		path, op = "/search/physical", "fsspSearchPhysical"
	case TypeLegal:
		path, op = "/search/legal", "fsspSearchLegal"
	case TypeIP:
		path, op = "/search/ip", "fsspSearchIP"
	default:
		return "", apperr.Errorf(apperr.Internal, "fssp: unknown search type %d", q.Type)
	}
	v := url.Values{}
	for k, val := range q.Params {
		v.Set(k, val)
	}
	v.Set("token", token.Reveal())
	var resp struct {
		Task string `json:"task"`
	}
	if err := c.call(ctx, op, http.MethodGet, path, v, nil, &resp); err != nil {
		return "", err
	}
	if resp.Task == "" {
		return "", failed("FSSP accepted the search without a task id", nil)
	}
	return resp.Task, nil
}

// SearchGroup submits a group search (at most the upstream's group limit of
// queries) and returns the upstream task id. The token goes in the body.
func (c *Client) SearchGroup(ctx context.Context, token tenant.Secret, qs []Query) (string, error) {
	body := struct {
		Token   string      `json:"token"`
		Request []groupItem `json:"request"`
	}{Token: token.Reveal(), Request: make([]groupItem, 0, len(qs))}
	for _, q := range qs {
		body.Request = append(body.Request, groupItem{Type: q.Type, Params: groupParams(q.Params)})
	}
	b, err := json.Marshal(body)
	if err != nil {
		return "", apperr.Wrap(apperr.Internal, "", fmt.Errorf("fssp: encode group: %w", err))
	}
	var resp struct {
		Task string `json:"task"`
	}
	if err := c.call(ctx, "fsspSearchGroup", http.MethodPost, "/search/group", nil, b, &resp); err != nil {
		return "", err
	}
	if resp.Task == "" {
		return "", failed("FSSP accepted the search without a task id", nil)
	}
	return resp.Task, nil
}

// groupItem is one sub-request of a group body.
type groupItem struct {
	Type   int            `json:"type"`
	Params map[string]any `json:"params"`
}

// groupParams writes a query's parameters as the document's group example
// does: region as a JSON number ("region": 66), the others as strings.
func groupParams(p Params) map[string]any {
	out := make(map[string]any, len(p))
	for k, v := range p {
		out[k] = v
		if k == "region" {
			if n, err := strconv.Atoi(v); err == nil {
				out[k] = n
			}
		}
	}
	return out
}

// Upstream task statuses of /status and /result.
const (
	StatusDone       = 0
	StatusRunning    = 1
	StatusQueued     = 2
	StatusDoneErrors = 3
)

// Status is the answer of /status.
type Status struct {
	Code     int // StatusDone, StatusRunning, StatusQueued, StatusDoneErrors
	Progress int // sub-requests processed successfully ("k" of "k of n"); -1 when unreadable
	Total    int // "n"; -1 when unreadable
}

// Done reports whether the task has finished (with or without errors).
func (s Status) Done() bool { return s.Code == StatusDone || s.Code == StatusDoneErrors }

// Status reads a task's status.
func (c *Client) Status(ctx context.Context, token tenant.Secret, task string) (Status, error) {
	var resp struct {
		Status   *int   `json:"status"`
		Progress string `json:"progress"`
	}
	v := url.Values{"token": {token.Reveal()}, "task": {task}}
	if err := c.call(ctx, "fsspStatus", http.MethodGet, "/status", v, nil, &resp); err != nil {
		return Status{}, err
	}
	if resp.Status == nil || *resp.Status < 0 || *resp.Status > 3 {
		return Status{}, failed("FSSP answered an unknown task status", nil)
	}
	st := Status{Code: *resp.Status, Progress: -1, Total: -1}
	var k, n int
	if _, err := fmt.Sscanf(resp.Progress, "%d of %d", &k, &n); err == nil {
		st.Progress, st.Total = k, n
	}
	return st, nil
}

// Result is the answer of /result.
type Result struct {
	Code    int // as Status.Code
	Start   string
	End     string
	Results []SubResult // processed sub-requests, in request order
}

// SubResult is the outcome of one sub-request.
type SubResult struct {
	Code    int // StatusDone, or StatusDoneErrors when it failed
	Query   Query
	Records []RawRecord // when it succeeded
	Err     *SubError   // when it failed
}

// SubError is a failed sub-request's {code, message}.
type SubError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Result reads a task's results.
func (c *Client) Result(ctx context.Context, token tenant.Secret, task string) (*Result, error) {
	var resp struct {
		Status    *int    `json:"status"`
		TaskStart *string `json:"task_start"`
		TaskEnd   *string `json:"task_end"`
		Result    []struct {
			Status int             `json:"status"`
			Query  Query           `json:"query"`
			Result json.RawMessage `json:"result"`
		} `json:"result"`
	}
	v := url.Values{"token": {token.Reveal()}, "task": {task}}
	if err := c.call(ctx, "fsspResult", http.MethodGet, "/result", v, nil, &resp); err != nil {
		return nil, err
	}
	if resp.Status == nil {
		return nil, failed("FSSP answered a result without a status", nil)
	}
	r := &Result{Code: *resp.Status, Results: make([]SubResult, len(resp.Result))}
	if resp.TaskStart != nil {
		r.Start = *resp.TaskStart
	}
	if resp.TaskEnd != nil {
		r.End = *resp.TaskEnd
	}
	for i, s := range resp.Result {
		sr := SubResult{Code: s.Status, Query: s.Query}
		raw := bytes.TrimSpace(s.Result)
		switch {
		case len(raw) > 0 && raw[0] == '[':
			if err := json.Unmarshal(raw, &sr.Records); err != nil {
				return nil, failed("FSSP answered records in an unexpected shape", err)
			}
		case len(raw) > 0 && raw[0] == '{':
			sr.Err = &SubError{}
			if err := json.Unmarshal(raw, sr.Err); err != nil {
				return nil, failed("FSSP answered a sub-request error in an unexpected shape", err)
			}
		}
		if sr.Err == nil && s.Status == StatusDoneErrors {
			sr.Err = &SubError{Message: "FSSP marked this search as failed"}
		}
		r.Results[i] = sr
	}
	return r, nil
}

// envelope wraps every answer.
type envelope struct {
	Status    string          `json:"status"`
	Code      int             `json:"code"`
	Exception string          `json:"exception"`
	Response  json.RawMessage `json:"response"`
}

// call sends one request and decodes the envelope's response into out.
func (c *Client) call(ctx context.Context, op, method, path string, q url.Values, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(metrics.WithOperation(ctx, op), c.timeout)
	defer cancel()
	u := c.base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return apperr.Wrap(apperr.Internal, "", fmt.Errorf("fssp: %s %s: build request", method, path))
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return transportError(method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, c.maxBody+1))
	if err != nil {
		return transportError(method, path, err)
	}
	if int64(len(raw)) > c.maxBody {
		return failed("FSSP answered more than the gateway reads", fmt.Errorf("fssp: %s %s: body over %d bytes", method, path, c.maxBody))
	}
	var env envelope
	jsonErr := json.Unmarshal(raw, &env)
	if res.StatusCode == http.StatusTooManyRequests || (jsonErr == nil && env.Code >= 420 && env.Code < 430) {
		return limited(op, res.Header.Get("Retry-After"), time.Now(),
			fmt.Errorf("fssp: %s %s: HTTP %d code %d", method, path, res.StatusCode, env.Code))
	}
	if jsonErr != nil || (env.Status != "success" && env.Status != "error") {
		return failed("FSSP answered with an unexpected response",
			fmt.Errorf("fssp: %s %s: HTTP %d, %d bytes of %q", method, path, res.StatusCode, len(raw), res.Header.Get("Content-Type")))
	}
	if env.Status == "error" || res.StatusCode != http.StatusOK {
		return c.envelopeError(method, path, res.StatusCode, env)
	}
	if err := json.Unmarshal(env.Response, out); err != nil {
		return failed("FSSP answered with an unexpected response", fmt.Errorf("fssp: %s %s: response: %w", method, path, err))
	}
	return nil
}

func (c *Client) envelopeError(method, path string, status int, env envelope) error {
	cause := fmt.Errorf("fssp: %s %s: HTTP %d code %d %q", method, path, status, env.Code, env.Exception)
	code := env.Code
	if code == 0 {
		code = status
	}
	switch {
	case code == http.StatusNotFound && (path == "/status" || path == "/result"):
		return &apperr.Error{Kind: apperr.Gone, Type: "expired", Upstream: Upstream,
			Detail: "FSSP no longer knows the task (results are kept 24 hours)", Err: errors.Join(ErrTaskGone, cause)}
	case code == http.StatusUnauthorized:
		return failed("FSSP rejected the gateway's credential", errors.Join(ErrCredentialRejected, cause))
	case code == http.StatusBadRequest:
		return failed("FSSP refused the request parameters", cause)
	}
	return failed("FSSP answered with an error", cause)
}

// DefaultRetryAfter is the Retry-After of an upstream 429 that names none.
// FSSP's limits slide over an hour and a day, so a slot frees as soon as the
// oldest counted search ages out: a minute is a fair first retry.
const DefaultRetryAfter = time.Minute

// limited is the QuotaExceeded error of an upstream 429 to operation op: a
// quota-exceeded problem of the credential's family with the upstream's
// Retry-After (seconds or an HTTP date) or DefaultRetryAfter.
func limited(op, retryAfter string, now time.Time, cause error) *apperr.Error {
	retry := DefaultRetryAfter
	if n, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && n > 0 {
		retry = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(retryAfter); err == nil && t.After(now) {
		retry = t.Sub(now).Round(time.Second)
	}
	family := "single"
	if op == "fsspSearchGroup" {
		family = "group"
	}
	resets := now.Add(retry).UTC().Format(time.RFC3339)
	return &apperr.Error{Kind: apperr.QuotaExceeded, Upstream: Upstream, Type: "quota-exceeded", Title: "Quota exceeded",
		Detail:     fmt.Sprintf("FSSP refused the request: its %s request limit for this credential is reached; retry after %s", family, resets),
		RetryAfter: retry,
		Extensions: map[string]any{
			"violated-policies": []string{Upstream + "." + family + ".upstream"},
			"scope":             "credential",
			"family":            family,
			"resets_at":         resets,
		},
		Err: cause}
}

func failed(detail string, err error) *apperr.Error {
	return &apperr.Error{Kind: apperr.UpstreamFailed, Upstream: Upstream, Detail: detail, Err: err}
}

// transportError reports a failed exchange without the request URL, which
// holds the token.
func transportError(method, path string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if e, ok := apperr.As(err); ok { // the transport's own refusal (internal/upstreamguard): nothing was sent
		return e
	}
	cause := fmt.Errorf("fssp: %s %s: %w", method, path, err)
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return &apperr.Error{Kind: apperr.UpstreamTimeout, Upstream: Upstream, Detail: "FSSP did not answer in time", Err: cause}
	}
	if errors.Is(err, context.Canceled) {
		return &apperr.Error{Kind: apperr.Unavailable, Upstream: Upstream, Detail: "the call to FSSP was cancelled", Err: cause}
	}
	return failed("FSSP could not be reached", cause)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
